// Package gate is the per-tenant scan gate: one long-lived entity workflow per
// tenant that hands out the tier's concurrent-scan slots in arrival order.
// Its state lives in Temporal, so it survives restarts of every process, and
// each tenant has its own gate, so one tenant's burst never delays another's.
package gate

import (
	"time"

	"github.com/google/uuid"
)

// WorkflowName is the registered name.
const WorkflowName = "ScanGate"

// Signals the gate receives and sends.
const (
	SignalAcquire = "acquire" // scan → gate: AcquireRequest
	SignalRelease = "release" // scan → gate: ReleaseRequest
	SignalGranted = "slot-granted"
	QueryState    = "state"
)

// WorkflowID is the tenant's gate.
func WorkflowID(tenantID uuid.UUID) string { return "scan-gate/" + tenantID.String() }

// Input starts (or continues) a gate.
type Input struct {
	TenantID uuid.UUID `json:"tenant_id"`
	State    *State    `json:"state,omitempty"` // carried over continue-as-new
}

// AcquireRequest asks for a slot for one scan workflow.
type AcquireRequest struct {
	ScanWorkflowID string `json:"scan_workflow_id"`
	// Limit is the tenant's current limit (the tier's), sent by each scan so a
	// tier change applies to the next grant without restarting the gate.
	Limit int `json:"limit"`
	// RequestedAt is when the scan was requested: the queue is served in
	// request order, whatever order the scans reach the gate in.
	RequestedAt time.Time `json:"requested_at"`
}

// Waiter is a queued scan.
type Waiter struct {
	ScanWorkflowID string    `json:"scan_workflow_id"`
	RequestedAt    time.Time `json:"requested_at"`
}

// ReleaseRequest gives a slot back (or leaves the queue).
type ReleaseRequest struct {
	ScanWorkflowID string `json:"scan_workflow_id"`
}

// State is what the gate holds: who runs, who waits.
type State struct {
	Limit   int      `json:"limit"`
	Running []string `json:"running"`
	Queue   []Waiter `json:"queue"`
}
