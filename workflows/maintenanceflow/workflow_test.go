package maintenanceflow_test

import (
	"context"
	"errors"
	"testing"

	"go.temporal.io/sdk/testsuite"

	"github.com/secureops/secureops/internal/contract/maintenance"
	"github.com/secureops/secureops/internal/contract/sla"
	"github.com/secureops/secureops/workflows/maintenanceflow"
)

func run(t *testing.T, purge func() (int, error), warm func() (maintenance.CatalogResult, error)) (maintenance.Summary, error) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	maintenanceflow.Register(env)
	maintenance.PurgeInitialKeys.Register(env, func(context.Context) (int, error) { return purge() })
	maintenance.WarmCatalog.Register(env, func(context.Context) (maintenance.CatalogResult, error) { return warm() })
	sla.Ensure.Register(env, func(context.Context) (int, error) { return 2, nil })
	env.ExecuteWorkflow(maintenance.WorkflowName)
	if !env.IsWorkflowCompleted() {
		t.Fatal("maintenance pass did not complete")
	}
	var sum maintenance.Summary
	if err := env.GetWorkflowError(); err != nil {
		return sum, err
	}
	if err := env.GetWorkflowResult(&sum); err != nil {
		t.Fatal(err)
	}
	return sum, nil
}

// A pass runs both jobs and reports what they did.
func TestPassRunsBothJobs(t *testing.T) {
	sum, err := run(t,
		func() (int, error) { return 3, nil },
		func() (maintenance.CatalogResult, error) { return maintenance.CatalogResult{Prices: 6}, nil })
	if err != nil {
		t.Fatal(err)
	}
	if sum.InitialKeysPurged != 3 || sum.Catalog.Prices != 6 {
		t.Errorf("summary %+v, want 3 keys purged and 6 prices", sum)
	}
}

// One job failing for good does not keep the other from running, and the
// pass fails so operators see it in the Web UI.
func TestOneFailingJobDoesNotStopTheOther(t *testing.T) {
	warmed := 0
	_, err := run(t,
		func() (int, error) { return 0, errors.New("database down") },
		func() (maintenance.CatalogResult, error) {
			warmed++
			return maintenance.CatalogResult{Skipped: true}, nil
		})
	if err == nil {
		t.Fatal("a pass whose purge failed succeeded")
	}
	if warmed != 1 {
		t.Errorf("catalogue warmed %d times, want once", warmed)
	}
}
