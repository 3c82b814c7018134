package tiers

import (
	"slices"
	"testing"
)

// Issue 17 item 3: a tier offers the scanners the deployment has installed,
// in its own order, and never none.
func TestOfferedOnlyInstalled(t *testing.T) {
	ent, _ := Get("enterprise")
	if got := ent.Offered(nil); !slices.Equal(got, ent.Scanners) {
		t.Errorf("nil installed: %v, want the tier's %v", got, ent.Scanners)
	}
	if got := ent.Offered(map[string]bool{"nuclei": true, "nmap": true}); !slices.Equal(got, []string{"nmap", "nuclei"}) {
		t.Errorf("nmap and nuclei installed: %v", got)
	}
	if got := ent.Offered(map[string]bool{"nmap": true, "nikto": true}); slices.Contains(got, "nuclei") {
		t.Errorf("nuclei offered without being installed: %v", got)
	}
	if got := ent.Offered(map[string]bool{"zap": true}); !slices.Equal(got, []string{"secureops"}) {
		t.Errorf("none of the tier's installed: %v, want the built-in checks", got)
	}
}
