package views

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/a-h/templ"

	"github.com/secureops/secureops/internal/kratos"
)

// FlowView is a Kratos self-service flow ready to render: one form per node
// group (password, profile, code, ...), each carrying the default group's
// nodes (the hidden csrf_token, the identifier), so a group's required
// fields never block another group's submit.
type FlowView struct {
	Kind     string
	FlowID   string
	Messages []kratos.UIText
	Forms    []FlowForm
	// SecondFactor: a login asking for the second factor (aal2).
	SecondFactor bool
	// MFARequired: the person's organisation requires a second factor they
	// have not enrolled or used (the settings page says why it is shown).
	MFARequired bool
}

// FlowForm is one <form> of a flow.
type FlowForm struct {
	ID     string
	Group  string
	Action string
	Method string
	Nodes  []FlowNode
}

// FlowNode is one rendered node.
type FlowNode struct {
	Kind     string // hidden, input, checkbox, submit, text, link, image
	ID       string
	Label    string
	Attrs    templ.Attributes
	Text     string
	Href     string
	Src      templ.SafeURL
	Messages []kratos.UIText
	Invalid  bool
}

// groupOrder: the password first (after a recovery, setting one is what
// the person came for), then the rest; unknown groups last, as Kratos sent them.
var groupOrder = []string{"password", "code", "link", "profile", "totp", "lookup_secret", "webauthn", "passkey", "oidc"}

func groupRank(g string) int {
	if i := slices.Index(groupOrder, g); i >= 0 {
		return i
	}
	return len(groupOrder)
}

// NewFlowView groups a flow's nodes into forms.
func NewFlowView(kind string, f kratos.Flow) FlowView {
	v := FlowView{Kind: kind, FlowID: f.ID, Messages: f.UI.Messages, SecondFactor: kind == "login" && f.RequestedAAL == "aal2"}
	var shared []kratos.UINode
	byGroup := map[string][]kratos.UINode{}
	var groups []string
	for _, n := range f.UI.Nodes {
		if n.Type == "script" && !IsKratosScript(n.Attributes.Src) {
			continue // only Kratos' own webauthn.js (the CSP allows its origin)
		}
		if n.Group == "default" {
			shared = append(shared, n)
			continue
		}
		if _, ok := byGroup[n.Group]; !ok {
			groups = append(groups, n.Group)
		}
		byGroup[n.Group] = append(byGroup[n.Group], n)
	}
	if len(groups) == 0 {
		groups = []string{"default"}
	}
	slices.SortStableFunc(groups, func(a, b string) int { return groupRank(a) - groupRank(b) })
	for i, g := range groups {
		form := FlowForm{ID: fmt.Sprintf("%s-%s", kind, g), Group: g, Action: f.UI.Action, Method: f.UI.Method}
		nodes := append(append([]kratos.UINode{}, sharedFor(g, shared)...), byGroup[g]...)
		for j, n := range nodes {
			form.Nodes = append(form.Nodes, newFlowNode(fmt.Sprintf("f%d-n%d", i, j), n))
		}
		v.Forms = append(v.Forms, form)
	}
	return v
}

func labelOf(n kratos.UINode) string {
	if n.Meta.Label != nil && n.Meta.Label.Text != "" {
		return n.Meta.Label.Text
	}
	return ""
}

func valueString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

func newFlowNode(id string, n kratos.UINode) FlowNode {
	a := n.Attributes
	fn := FlowNode{ID: id, Label: labelOf(n), Messages: n.Messages}
	for _, m := range n.Messages {
		if m.Type == "error" {
			fn.Invalid = true
		}
	}
	switch n.Type {
	case "script":
		// Kratos' webauthn.js, with its subresource integrity; the
		// buttons below call what it defines (see "trigger").
		fn.Kind = "script"
		fn.Attrs = templ.Attributes{"src": a.Src, "id": id, "async": true, "crossorigin": "anonymous", "referrerpolicy": "no-referrer"}
		if a.Integrity != "" {
			fn.Attrs["integrity"] = a.Integrity
		}
		return fn
	case "text":
		fn.Kind = "text"
		if a.Text != nil {
			fn.Text = a.Text.Text
		}
		return fn
	case "a":
		fn.Kind = "link"
		fn.Href = a.Href
		if a.Title != nil {
			fn.Text = a.Title.Text
		}
		return fn
	case "img":
		// Kratos' TOTP QR code is a data: PNG, which templ's URL
		// sanitiser refuses; only images of that shape or over http(s)
		// pass (the CSP allows 'self' and data:).
		fn.Kind = "image"
		if strings.HasPrefix(a.Src, "data:image/png;base64,") || strings.HasPrefix(a.Src, "https://") || strings.HasPrefix(a.Src, "http://") {
			fn.Src = templ.SafeURL(a.Src)
		}
		if fn.Label == "" {
			fn.Label = "QR code to scan with your authenticator app"
		}
		return fn
	}
	attrs := templ.Attributes{"name": a.Name}
	switch a.Type {
	case "hidden":
		fn.Kind = "hidden"
		attrs["type"] = "hidden"
		attrs["value"] = valueString(a.Value)
	case "button":
		if !slices.Contains(webAuthnTriggers, a.OnClickTrigger) {
			fn.Kind = "submit"
			attrs["type"] = "submit"
			attrs["value"] = valueString(a.Value)
			if fn.Label == "" {
				fn.Label = "Continue"
			}
			break
		}
		// A security key's button: no inline onclick (the CSP forbids
		// it); app.js calls window[data-ory-trigger](), which reads the
		// challenge from the button's value and submits the form.
		fn.Kind = "trigger"
		attrs["type"] = "button"
		attrs["value"] = valueString(a.Value)
		attrs["data-ory-trigger"] = a.OnClickTrigger
		if fn.Label == "" {
			fn.Label = "Use security key"
		}
	case "submit":
		fn.Kind = "submit"
		attrs["type"] = "submit"
		attrs["value"] = valueString(a.Value)
		if fn.Label == "" {
			fn.Label = "Continue"
		}
	case "checkbox":
		fn.Kind = "checkbox"
		attrs["type"] = "checkbox"
		attrs["value"] = "true"
		if b, _ := a.Value.(bool); b {
			attrs["checked"] = true
		}
	default:
		fn.Kind = "input"
		t := a.Type
		if t == "" {
			t = "text"
		}
		attrs["type"] = t
		if s := valueString(a.Value); s != "" && t != "password" {
			attrs["value"] = s
		}
		if fn.Label == "" {
			fn.Label = a.Name
		}
		if a.Autocomplete != "" {
			attrs["autocomplete"] = a.Autocomplete
		}
		if a.Pattern != "" {
			attrs["pattern"] = a.Pattern
		}
		if a.MaxLength > 0 {
			attrs["maxlength"] = strconv.Itoa(a.MaxLength)
		}
		if fn.Invalid {
			attrs["aria-invalid"] = "true"
		}
	}
	attrs["id"] = id
	if a.Required && fn.Kind != "hidden" && fn.Kind != "submit" {
		attrs["required"] = true
	}
	if a.Disabled {
		attrs["disabled"] = true
	}
	fn.Attrs = attrs
	return fn
}

// MessageClass is the alert style of a Kratos message type.
func MessageClass(t string) string {
	switch t {
	case "error":
		return "alert alert-error"
	case "success":
		return "alert alert-success"
	}
	return "alert alert-info"
}

// FlowErrorView is a Kratos self-service error.
type FlowErrorView struct {
	Code            int
	Message, Reason string
}

// webAuthnTriggers are the functions of Kratos' webauthn.js a button may call.
var webAuthnTriggers = []string{"oryWebAuthnRegistration", "oryWebAuthnLogin"}

// IsKratosScript: a script node the portal renders, Kratos' webauthn.js.
func IsKratosScript(src string) bool {
	u, err := url.Parse(src)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && strings.HasSuffix(u.Path, "/.well-known/ory/webauthn.js")
}
