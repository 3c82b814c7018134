// Package webhookwire is the wire format of SecureOps webhooks: the event
// envelope, the request signature (and the receivers' reference check of
// it), which URLs may receive events, and the one HTTP client that sends them.
package webhookwire

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// Event types a webhook can subscribe to, plus the ping a tenant sends to
// test a receiver.
const (
	EventScanCompleted   = "scan.completed"
	EventFindingCritical = "finding.critical"
	// EventFindingKEV: open findings whose CVE newly entered CISA's Known
	// Exploited Vulnerabilities catalogue (once per finding).
	EventFindingKEV = "finding.kev"
	// EventFindingSLABreached: open critical findings past their remediation
	// deadline (once per finding).
	EventFindingSLABreached = "finding.sla_breached"
	EventPing               = "ping"
)

// Subscribable lists the event types a webhook may subscribe to, in the
// order the API documents them; a webhook created without a list gets all.
var Subscribable = []string{EventScanCompleted, EventFindingCritical, EventFindingKEV, EventFindingSLABreached}

// Request headers of a delivery.
const (
	HeaderSignature = "X-SecureOps-Signature"
	HeaderEventID   = "X-SecureOps-Event-Id"
	HeaderEventType = "X-SecureOps-Event-Type"
	UserAgent       = "SecureOps-Webhooks/1"
)

// Event is the JSON body of every delivery. ID is stable for one occurrence
// (scan.completed/<scan-id>) and the same in every retry, so receivers
// de-duplicate on it.
type Event struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	CreatedAt time.Time       `json:"created_at"`
	TenantID  uuid.UUID       `json:"tenant_id"`
	Data      json.RawMessage `json:"data"`
}

// NewEvent builds an event with data marshalled; t is truncated to the
// microsecond Postgres keeps, so the stored and the sent event agree.
func NewEvent(id, typ string, tenant uuid.UUID, t time.Time, data any) (Event, error) {
	b, err := json.Marshal(data)
	if err != nil {
		return Event{}, err
	}
	return Event{ID: id, Type: typ, CreatedAt: t.UTC().Truncate(time.Microsecond), TenantID: tenant, Data: b}, nil
}

// Body is the exact request body, fields in the order of the Go types. An
// event read back from Postgres (jsonb, which reorders keys) is put back in
// that order, so every attempt sends the same bytes and receivers read the
// fields in the documented order.
func (e Event) Body() ([]byte, error) {
	var data any
	switch e.Type {
	case EventScanCompleted:
		data = &ScanCompleted{}
	case EventFindingCritical:
		data = &FindingCritical{}
	case EventFindingKEV:
		data = &FindingKEV{}
	case EventFindingSLABreached:
		data = &FindingSLABreached{}
	case EventPing:
		data = &Ping{}
	}
	if data != nil && len(e.Data) > 0 {
		if err := json.Unmarshal(e.Data, data); err != nil {
			return nil, err
		}
		b, err := json.Marshal(data)
		if err != nil {
			return nil, err
		}
		e.Data = b
	}
	return json.Marshal(e)
}

// ScanCompleted is the data of scan.completed, sent when a scan ends,
// whatever its status (completed, failed or cancelled).
type ScanCompleted struct {
	ScanID     uuid.UUID      `json:"scan_id"`
	Target     string         `json:"target"`
	Status     string         `json:"status"`
	Error      string         `json:"error,omitempty"`
	Scanners   []string       `json:"scanners"`
	Counts     SeverityCounts `json:"counts"`
	Diff       Diff           `json:"diff"`
	StartedAt  *time.Time     `json:"started_at"`
	FinishedAt *time.Time     `json:"finished_at"`
	URL        string         `json:"url,omitempty"`
}

// SeverityCounts are a scan's findings by severity.
type SeverityCounts struct {
	Critical int `json:"critical"`
	High     int `json:"high"`
	Medium   int `json:"medium"`
	Low      int `json:"low"`
	Info     int `json:"info"`
}

// Diff is what the scan changed: first seen, seen again, gone, back again.
type Diff struct {
	New      int `json:"new"`
	Open     int `json:"open"`
	Fixed    int `json:"fixed"`
	Reopened int `json:"reopened"`
}

// FindingCritical is the data of finding.critical: the critical findings a
// scan saw for the first time. Findings holds at most MaxCriticalFindings;
// Total says how many there were.
type FindingCritical struct {
	ScanID   uuid.UUID         `json:"scan_id"`
	Target   string            `json:"target"`
	Total    int               `json:"total"`
	Findings []CriticalFinding `json:"findings"`
	URL      string            `json:"url,omitempty"`
}

// MaxCriticalFindings bounds a finding.critical event's list: a first scan
// of a large image can find hundreds, and receivers (chat hooks) cap bodies.
const MaxCriticalFindings = 100

// CriticalFinding is one finding in a finding.critical event.
type CriticalFinding struct {
	ID        uuid.UUID `json:"id"`
	Title     string    `json:"title"`
	Severity  string    `json:"severity"`
	CVEs      []string  `json:"cves"`
	Host      string    `json:"host,omitempty"`
	Port      int       `json:"port,omitempty"`
	URL       string    `json:"url,omitempty"`
	Component string    `json:"component,omitempty"`
	Version   string    `json:"component_version,omitempty"`
	Target    string    `json:"target"`
}

// FindingKEV is the data of finding.kev: a tenant's open findings whose CVE
// was added to CISA's KEV catalogue after the finding was first seen. Each
// finding is in one such event only; Findings holds at most
// MaxCriticalFindings, Total counts them all.
type FindingKEV struct {
	BatchID  uuid.UUID    `json:"batch_id"`
	Total    int          `json:"total"`
	Findings []KEVFinding `json:"findings"`
}

// KEVFinding is one finding in a finding.kev event.
type KEVFinding struct {
	ID           uuid.UUID `json:"id"`
	Title        string    `json:"title"`
	Severity     string    `json:"severity"`
	CVEs         []string  `json:"cves"`
	KEVDateAdded string    `json:"kev_date_added"`
	// KnownRansomware: CISA knows of ransomware campaigns using the CVE.
	KnownRansomware bool   `json:"known_ransomware"`
	Priority        int    `json:"priority"`
	Host            string `json:"host,omitempty"`
	Port            int    `json:"port,omitempty"`
	URL             string `json:"url,omitempty"`
	Component       string `json:"component,omitempty"`
	Version         string `json:"component_version,omitempty"`
	Target          string `json:"target"`
	Link            string `json:"link,omitempty"`
}

// FindingSLABreached is the data of finding.sla_breached: a tenant's open
// critical findings that passed their remediation deadline (first seen plus
// the tenant's critical SLA days). Each finding is in one such event only;
// Findings holds at most MaxCriticalFindings, Total counts them all.
type FindingSLABreached struct {
	BatchID  uuid.UUID            `json:"batch_id"`
	Total    int                  `json:"total"`
	Findings []SLABreachedFinding `json:"findings"`
}

// SLABreachedFinding is one finding in a finding.sla_breached event.
type SLABreachedFinding struct {
	ID        uuid.UUID `json:"id"`
	Title     string    `json:"title"`
	Severity  string    `json:"severity"`
	CVEs      []string  `json:"cves"`
	KEV       bool      `json:"kev"`
	Priority  int       `json:"priority"`
	SLADueAt  time.Time `json:"sla_due_at"`
	Host      string    `json:"host,omitempty"`
	Port      int       `json:"port,omitempty"`
	URL       string    `json:"url,omitempty"`
	Component string    `json:"component,omitempty"`
	Version   string    `json:"component_version,omitempty"`
	Target    string    `json:"target"`
	Link      string    `json:"link,omitempty"`
}

// Ping is the data of the test event.
type Ping struct {
	WebhookID uuid.UUID `json:"webhook_id"`
	Message   string    `json:"message"`
}

// NewSecret returns a fresh signing secret: 32 random bytes, prefixed so a
// leaked one is recognisable in logs and secret scanners.
func NewSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "whsec_" + base64.RawURLEncoding.EncodeToString(b)
}
