package scanner

import (
	"os/exec"
	"sort"
)

// Missing lists the scanners this worker is configured for (their *_PATH
// set) whose executables it cannot find: every process offers a scanner
// from its setting, so a worker without the binary would fail each run of
// it. The worker logs them at start.
func (a *Activities) Missing() []string {
	var out []string
	for name, p := range map[string]string{"nmap": a.NmapPath, "nikto": a.NiktoPath, "zap": a.ZAPPath, "trivy": a.TrivyPath, "nuclei": a.NucleiPath} {
		if p == "" {
			continue
		}
		if _, err := exec.LookPath(p); err != nil {
			out = append(out, name+" ("+pathEnv[name]+"="+p+")")
		}
	}
	sort.Strings(out)
	return out
}
