package views

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// The committed templ output must match the .templ files: editing a
// component without `make generate` fails here, like sqlc's check.
func TestGeneratedCodeIsCurrent(t *testing.T) {
	templ, err := exec.LookPath("templ")
	if err != nil {
		if os.Getenv("SECUREOPS_REQUIRE_TOOLS") == "1" {
			t.Fatal("templ not on PATH; `make tools` installs it")
		}
		t.Skip("templ not on PATH")
	}
	srcs, err := filepath.Glob("*.templ")
	if err != nil || len(srcs) == 0 {
		t.Fatalf("no .templ files: %v", err)
	}
	tmp := t.TempDir()
	for _, s := range srcs {
		b, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tmp, s), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command(templ, "generate", "-path", tmp).CombinedOutput(); err != nil {
		t.Fatalf("templ generate: %v\n%s", err, out)
	}
	for _, s := range srcs {
		gen := s[:len(s)-len(".templ")] + "_templ.go"
		want, err := os.ReadFile(filepath.Join(tmp, gen))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(gen)
		if err != nil {
			t.Fatalf("%s is missing: run `make generate`", gen)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run `make generate` and commit the result", gen)
		}
	}
	stale, _ := filepath.Glob("*_templ.go")
	for _, g := range stale {
		if _, err := os.Stat(g[:len(g)-len("_templ.go")] + ".templ"); err != nil {
			t.Errorf("%s has no .templ source: delete it", g)
		}
	}
}
