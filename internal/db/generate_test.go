package db_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// The committed sqlc output must match sql/: editing a query or migration
// without `make generate` fails here.
func TestGeneratedCodeIsCurrent(t *testing.T) {
	sqlc, err := exec.LookPath("sqlc")
	if err != nil {
		if os.Getenv("SECUREOPS_REQUIRE_TOOLS") == "1" {
			t.Fatal("sqlc not on PATH; `make tools` installs it")
		}
		t.Skip("sqlc not on PATH")
	}
	root, _ := filepath.Abs("../..")
	cmd := exec.Command(sqlc, "diff")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("generated code is stale; run `make generate`:\n%s\n%v", out, err)
	}
}
