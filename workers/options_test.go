package workers

import (
	"testing"

	"github.com/secureops/secureops/internal/config"
	"github.com/secureops/secureops/internal/temporalx"
)

// Issue 17 item 4: SCANNER_MAX_CONCURRENT bounds the scanner activities of
// one scanners-queue worker; other queues keep the SDK's defaults.
func TestScannerMaxConcurrent(t *testing.T) {
	t.Setenv("SCANNER_MAX_CONCURRENT", "")
	c, err := config.FromEnv(config.ModeTest)
	if err != nil {
		t.Fatal(err)
	}
	if got := Options(temporalx.QueueScanners, c).MaxConcurrentActivityExecutionSize; got != config.DefaultScannerMaxConcurrent {
		t.Errorf("default: %d scanner activities at once, want %d", got, config.DefaultScannerMaxConcurrent)
	}
	t.Setenv("SCANNER_MAX_CONCURRENT", "3")
	if c, err = config.FromEnv(config.ModeTest); err != nil {
		t.Fatal(err)
	}
	if got := Options(temporalx.QueueScanners, c).MaxConcurrentActivityExecutionSize; got != 3 {
		t.Errorf("SCANNER_MAX_CONCURRENT=3: %d", got)
	}
	for _, q := range []string{temporalx.QueueScans, temporalx.QueueOnboarding} {
		if o := Options(q, c); o.MaxConcurrentActivityExecutionSize != 0 || o.WorkerStopTimeout != StopTimeout {
			t.Errorf("queue %s: %+v", q, o)
		}
	}
	if StopTimeout >= c.ShutdownTimeout {
		t.Errorf("the workers' stop timeout %s is not below the process drain %s", StopTimeout, c.ShutdownTimeout)
	}
	t.Setenv("SCANNER_MAX_CONCURRENT", "lots")
	if _, err := config.FromEnv(config.ModeTest); err == nil {
		t.Error("SCANNER_MAX_CONCURRENT=lots accepted")
	}
}
