// Package shape holds the test that keeps the code's shape (STYLE.md,
// "Layout"): arrows run one way — api/web → workflows → activities →
// internal — everyone may import internal/contract, and every package has a
// name of its own, so no import needs an alias.
package shape

import (
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/secureops/secureops/"

type pkg struct {
	ImportPath string
	Name       string
	Deps       []string
}

// list is `go list -json ./...` over the whole module: every non-test
// package with its transitive dependencies.
func list(t *testing.T) []pkg {
	t.Helper()
	root, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	dir := strings.TrimSpace(string(root))
	touchSources(t, dir)
	cmd := exec.Command("go", "list", "-json=ImportPath,Name,Deps", "./...")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 20 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	return pkgs
}

// touchSources stats every Go file of the module from the test process, so
// `go test`'s cache (which sees only what the test binary itself opens, not
// what `go list` reads) reruns the test when any of them changes.
func touchSources(t *testing.T, root string) {
	t.Helper()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "bin" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if !d.IsDir() && (strings.HasSuffix(path, ".go") || d.Name() == "go.mod") {
			_, err = os.Stat(path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// under reports whether path (module-relative) is dir or inside it.
func under(path, dir string) bool { return path == dir || strings.HasPrefix(path, dir+"/") }

func rel(path string) (string, bool) { return strings.CutPrefix(path, module) }

// rules: a package under from must not depend (directly or through others)
// on a package under any of to.
var rules = []struct {
	from string
	to   []string
	why  string
}{
	{"activities", []string{"workflows"}, "activities are called by workflows; they know them only by their contracts"},
	{"api", []string{"activities", "workflows", "workers"}, "the API starts processes through their contracts and links no activity (nor scanner) code"},
	{"web", []string{"activities", "workflows", "workers"}, "the portal starts processes through their contracts and links no activity code"},
	{"workflows", []string{"api", "web", "workers", "cmd"}, "workflows are started by the API, not the other way round"},
	{"internal/contract", []string{"activities", "workflows", "api", "web", "workers", "internal/db"}, "a contract is a leaf every layer may import"},
}

func TestArrowsRunOneWay(t *testing.T) {
	for _, p := range list(t) {
		from, ok := rel(p.ImportPath)
		if !ok {
			continue
		}
		for _, r := range rules {
			if !under(from, r.from) {
				continue
			}
			for _, d := range p.Deps {
				to, ok := rel(d)
				if !ok {
					continue
				}
				for _, bad := range r.to {
					if under(to, bad) {
						t.Errorf("%s depends on %s: %s", from, to, r.why)
					}
				}
			}
		}
	}
}

// Every package of the tree has a name no other package has, so reading
// `scan.Input` or `gate.Enqueue` never needs a look at the imports, and no
// import needs an alias. Commands (main) are exempt.
func TestPackageNamesAreUnique(t *testing.T) {
	byName := map[string][]string{}
	for _, p := range list(t) {
		path, ok := rel(p.ImportPath)
		if !ok || p.Name == "main" {
			continue
		}
		byName[p.Name] = append(byName[p.Name], path)
	}
	var names []string
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if paths := byName[n]; len(paths) > 1 {
			t.Errorf("package name %q is used by %s", n, strings.Join(paths, ", "))
		}
	}
}
