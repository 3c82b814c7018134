package views

import (
	"strings"
	"testing"
)

func TestScanSteps(t *testing.T) {
	for _, c := range []struct {
		status, msg string
		want        string
	}{
		{"queued", "", "pending,pending,pending"},
		{"running", "nikto running", "done,running,pending"},
		{"failed", "nikto running", "done,failed,stopped"},
		{"cancelled", "nmap running", "cancelled,stopped,stopped"},
		{"cancelled", "", "stopped,stopped,stopped"},
		{"completed", "secureops running", "done,done,done"},
	} {
		sc := ScanInfo{Status: c.status, ProgressMessage: c.msg, Scanners: []string{"nmap", "nikto", "secureops"}}
		var got []string
		for _, st := range sc.Steps() {
			got = append(got, st.State)
		}
		if strings.Join(got, ",") != c.want {
			t.Errorf("%s %q: %v, want %s", c.status, c.msg, got, c.want)
		}
	}
}

func TestScheduleCadence(t *testing.T) {
	for in, want := range map[string]string{"24h0m0s": "every day", "168h0m0s": "every 7 days", "6h0m0s": "every 6 hours", "15m0s": "every 15 minutes", "1h0m0s": "every hour"} {
		if got := (Schedule{Interval: in}).Cadence(); got != want {
			t.Errorf("%s: %q, want %q", in, got, want)
		}
	}
	if got := (Schedule{Cron: "0 3 * * 1", TimeZone: "Europe/Berlin"}).Cadence(); got != "cron 0 3 * * 1 (Europe/Berlin)" {
		t.Errorf("cron: %q", got)
	}
}
