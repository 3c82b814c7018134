package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func runFindings(t *testing.T, args ...string) (string, error) {
	t.Helper()
	c := findingsCmd()
	var out bytes.Buffer
	c.SetOut(&out)
	c.SetErr(&out)
	c.SetArgs(args)
	err := c.Execute()
	return out.String(), err
}

// The parser package's copy of DefectDojo's reports; missing is a failure,
// not a skip, so CI cannot pass without running these.
var fixturesDir = filepath.Join("..", "..", "internal", "parsers", "testdata", "scans")

type fixture struct {
	path    string // relative to fixturesDir, e.g. "nmap/nmap_1port.xml"
	scanner string
	want    int
}

func readExpected(t *testing.T) []fixture {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixturesDir, "EXPECTED.tsv"))
	if err != nil {
		t.Fatalf("scanner fixtures missing: %v", err)
	}
	var out []fixture
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || i == 0 && strings.HasPrefix(line, "file\t") {
			continue
		}
		path, count, ok := strings.Cut(line, "\t")
		n, err := strconv.Atoi(count)
		if !ok || err != nil {
			t.Fatalf("EXPECTED.tsv line %d: %q", i+1, line)
		}
		scanner, _, _ := strings.Cut(path, "/")
		out = append(out, fixture{path: path, scanner: scanner, want: n})
	}
	return out
}

func TestFindingsParse(t *testing.T) {
	rows := readExpected(t)
	// A truncated EXPECTED.tsv must not quietly drop a format.
	covered := map[string]bool{}
	for _, fx := range rows {
		covered[fx.scanner+" "+filepath.Ext(fx.path)] = true
	}
	for _, k := range []string{"nmap .xml", "nikto .xml", "nikto .json", "zap .xml", "trivy .json", "nuclei .json", "nuclei .jsonl"} {
		if !covered[k] {
			t.Errorf("EXPECTED.tsv has no %s report", k)
		}
	}
	for _, fx := range rows {
		t.Run(fx.path, func(t *testing.T) {
			file := filepath.Join(fixturesDir, filepath.FromSlash(fx.path))
			out, err := runFindings(t, "parse", "--scanner", fx.scanner, "--file", file)
			if err != nil {
				t.Fatal(err)
			}
			var fs []map[string]any
			if err := json.Unmarshal([]byte(out), &fs); err != nil || fs == nil {
				t.Fatalf("not a JSON array: %v\n%s", err, out)
			}
			if len(fs) != fx.want {
				t.Fatalf("%d findings, want %d (DefectDojo's count)", len(fs), fx.want)
			}
			// An empty report has nothing to detect, so only --scanner reads it.
			if data, err := os.ReadFile(file); err != nil || len(bytes.TrimSpace(data)) == 0 {
				return
			}
			auto, err := runFindings(t, "parse", "--file", file)
			if err != nil || auto != out {
				t.Fatalf("auto-detected parse differs: %v", err)
			}
		})
	}
}

func TestFindingsParseMalformed(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.xml")
	if err := os.WriteFile(bad, []byte(`<nmaprun><host><ports><port`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := runFindings(t, "parse", "--scanner", "nmap", "--file", bad)
	if err == nil || !strings.Contains(err.Error(), "bad.xml") {
		t.Fatalf("err %v, want a message naming the file", err)
	}
	if _, err := runFindings(t, "parse", "--scanner", "nessus", "--file", bad); err == nil {
		t.Fatal("unknown scanner accepted")
	}
}
