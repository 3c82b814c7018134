package composecheck

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// The Dockerfile as BuildKit reads it: parsed, every instruction and flag
// (RUN --mount, COPY --from) understood, BuildKit's build checks silent,
// and the targets compose and the chart name present.
func TestDockerfileParses(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := parser.Parse(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	for _, w := range res.Warnings {
		t.Errorf("parser: %s", w.Short)
	}
	lint := linter.New(&linter.Config{Warn: func(rule, _, _, msg string, loc []parser.Range) {
		t.Errorf("build check %s: %s (line %v)", rule, msg, loc)
	}})
	stages, metaArgs, err := instructions.Parse(res.AST, lint)
	if err != nil {
		t.Fatalf("instructions: %v", err)
	}
	var names []string
	for _, s := range stages {
		names = append(names, s.Name)
	}
	for _, want := range []string{"build", "scanner-tools", "scanner", "runtime"} {
		if !slices.Contains(names, want) {
			t.Errorf("no stage %q in %v", want, names)
		}
	}
	if names[len(names)-1] != "runtime" {
		t.Errorf("the default target is %q, want runtime", names[len(names)-1])
	}
	var args []string
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			if kv.Value == nil || *kv.Value == "" {
				t.Errorf("ARG %s has no pinned default", kv.Key)
			}
			args = append(args, kv.Key)
		}
	}
	for _, want := range []string{"NMAP_VERSION", "NIKTO_VERSION", "TRIVY_VERSION", "NUCLEI_VERSION"} {
		if !slices.Contains(args, want) {
			t.Errorf("no global ARG %s", want)
		}
	}
}
