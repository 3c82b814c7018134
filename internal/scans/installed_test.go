package scans

import (
	"strings"
	"testing"

	"github.com/secureops/secureops/internal/domainerr"
	"github.com/secureops/secureops/internal/targets"
)

// Issue 17 item 3: a scan may ask only for scanners the deployment's
// scanner workers have installed, so none fails half-way for a missing tool.
func TestNewRequestRefusesScannersNotInstalled(t *testing.T) {
	r := Rules{Policy: targets.Policy{}, Installed: map[string]bool{"nmap": true, "nikto": true, "secureops": true}}
	if _, err := r.NewRequest(nil, "example.com", []string{"nmap", "nikto"}); err != nil {
		t.Fatalf("installed scanners refused: %v", err)
	}
	_, err := r.NewRequest(nil, "example.com", []string{"nmap", "nuclei"})
	de, ok := domainerr.As(err)
	if !ok || !domainerr.Is(err, domainerr.Invalid) || len(de.Fields) != 1 || de.Fields[0].Field != "scanners[1]" ||
		!strings.Contains(err.Error()+de.Fields[0].Message, "not installed") {
		t.Errorf("nuclei without NUCLEI_PATH: %v, want scanners[1] not installed", err)
	}
	if _, err := (Rules{}).NewRequest(nil, "example.com", []string{"nuclei"}); err != nil {
		t.Errorf("without an installed set every known scanner is allowed: %v", err)
	}
}
