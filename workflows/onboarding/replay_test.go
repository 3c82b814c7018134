package onboarding

import (
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/secureops/secureops/internal/secretbox"
	"github.com/secureops/secureops/internal/temporalx"
	"github.com/secureops/secureops/workflows/scan"
)

// Histories recorded from real runs (internal/e2e with RECORD_HISTORIES=1),
// a completed and a compensated onboarding, must replay against today's
// code. Their payloads are encrypted, as in production, with TestCodecKey.
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("want a completed and a failed history in testdata/, have %v", files)
	}
	k, err := secretbox.ParseKey(TestCodecKey)
	if err != nil {
		t.Fatal(err)
	}
	codec, err := temporalx.NewCodec([]*secretbox.Key{k})
	if err != nil {
		t.Fatal(err)
	}
	r, err := worker.NewWorkflowReplayerWithOptions(worker.WorkflowReplayerOptions{
		DataConverter:    temporalx.DataConverter(codec),
		FailureConverter: temporalx.FailureConverter(codec),
	})
	if err != nil {
		t.Fatal(err)
	}
	r.RegisterWorkflowWithOptions(OnboardingWorkflow, RegisterOptions())
	r.RegisterWorkflowWithOptions(scan.ScanWorkflow, workflow.RegisterOptions{Name: scan.WorkflowName})
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if err := r.ReplayWorkflowHistoryFromJSONFile(nil, f); err != nil {
				t.Fatal(err)
			}
		})
	}
}
