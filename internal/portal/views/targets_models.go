package views

import "time"

// Target is a registered target as the pages show it (the API's JSON).
type Target struct {
	ID           string `json:"id"`
	Kind         string `json:"kind"`
	Value        string `json:"value"`
	Name         string `json:"name"`
	Verification struct {
		Status    string     `json:"status"`
		Method    string     `json:"method"`
		Error     string     `json:"error"`
		Checks    int32      `json:"checks"`
		CheckedAt *time.Time `json:"checked_at"`
		At        *time.Time `json:"verified_at"`
	} `json:"verification"`
	CreatedAt    time.Time `json:"created_at"`
	Instructions *struct {
		DNS *struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Value string `json:"value"`
		} `json:"dns"`
		HTTP *struct {
			URLs    []string `json:"urls"`
			Content string   `json:"content"`
		} `json:"http"`
	} `json:"instructions"`
}

// Proven says whether the target may be scanned (verified, or needing no
// proof), as the API reports it.
func (t Target) Proven() bool {
	return t.Verification.Status == "verified" || t.Verification.Status == "not_required"
}

// Label names the target in a select.
func (t Target) Label() string {
	if t.Name != "" && t.Name != t.Value {
		return t.Name + " — " + t.Value
	}
	return t.Value
}

// StatusText is the verification status for a person.
func (t Target) StatusText() string {
	switch t.Verification.Status {
	case "verified":
		return "Verified"
	case "not_required":
		return "No proof needed"
	case "pending":
		return "Checking"
	case "failed":
		return "Not proven"
	}
	return "Unverified"
}

// TargetKinds are the kinds the add form offers.
var TargetKinds = []ChoiceOption{
	{"host", "Host or IP address"},
	{"domain", "Domain"},
	{"url", "Web address (URL)"},
	{"image", "Container image"},
}

// TargetForm is the add-a-target form.
type TargetForm struct {
	Kind, Value, Name string
	Errors            map[string]string
	Error             string
}

// TargetsPage is /app/targets.
type TargetsPage struct {
	Targets    []Target
	NextCursor string
	Paged      bool
	Form       TargetForm
}
