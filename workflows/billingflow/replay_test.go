package billingflow

import (
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/worker"
)

// Histories recorded from real runs (internal/e2e TestBillingEndToEnd with
// RECORD_HISTORIES=1) must replay against today's code: a change to the
// cycle's command sequence that is not behind workflow.GetVersion fails here
// before it breaks a tenant's running cycle.
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no recorded histories in testdata/")
	}
	r := worker.NewWorkflowReplayer()
	Register(r)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if err := r.ReplayWorkflowHistoryFromJSONFile(nil, f); err != nil {
				t.Fatal(err)
			}
		})
	}
}
