package scanner

import (
	"slices"
	"testing"
)

// Issue 17 item 3: a scanner configured but not installed on this worker is
// named at start, not found out scan by scan.
func TestMissingScanners(t *testing.T) {
	a := &Activities{NmapPath: "/nonexistent/nmap", TrivyPath: "/bin/true", NucleiPath: "no-such-nuclei-binary"}
	want := []string{"nmap (NMAP_PATH=/nonexistent/nmap)", "nuclei (NUCLEI_PATH=no-such-nuclei-binary)"}
	if got := a.Missing(); !slices.Equal(got, want) {
		t.Errorf("Missing() = %v, want %v", got, want)
	}
}
