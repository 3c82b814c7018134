// Package faults holds the few fault-injection points `make chaos` needs to
// kill a process at an exact step. A point is armed by naming it in
// SECUREOPS_FAULT_PAUSE (comma-separated); the process then stops there for
// SECUREOPS_FAULT_PAUSE_FOR (default 1m), long enough for the harness to
// SIGKILL it. Production ignores both variables.
package faults

import (
	"log/slog"
	"os"
	"strings"
	"time"
)

// ScanRowWritten is in the API between writing a scan's row and starting its
// workflow: the window the reconciler closes.
const ScanRowWritten = "scan-row-written"

var armed, pauseFor = load()

func load() (map[string]bool, time.Duration) {
	if os.Getenv("SECUREOPS_ENV") == "production" {
		return nil, 0
	}
	m := map[string]bool{}
	for _, p := range strings.FieldsFunc(os.Getenv("SECUREOPS_FAULT_PAUSE"), func(r rune) bool { return r == ',' || r == ' ' }) {
		m[p] = true
	}
	d, err := time.ParseDuration(os.Getenv("SECUREOPS_FAULT_PAUSE_FOR"))
	if err != nil || d <= 0 {
		d = time.Minute
	}
	return m, d
}

// Pause stops the calling goroutine at point when it is armed.
func Pause(point string) {
	if !armed[point] {
		return
	}
	slog.Warn("fault injection: pausing", "point", point, "for", pauseFor)
	time.Sleep(pauseFor)
}
