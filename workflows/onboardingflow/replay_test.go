package onboardingflow

import (
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/worker"

	"github.com/secureops/secureops/internal/contract/onboarding"
	"github.com/secureops/secureops/internal/secretbox"
	"github.com/secureops/secureops/internal/temporalx"
	"github.com/secureops/secureops/workflows/scanflow"
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
	k, err := secretbox.ParseKey(onboarding.TestCodecKey)
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
	Register(r)
	scanflow.Register(r)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if err := r.ReplayWorkflowHistoryFromJSONFile(nil, f); err != nil {
				t.Fatal(err)
			}
		})
	}
}
