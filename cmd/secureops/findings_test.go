package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
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

func TestFindingsParse(t *testing.T) {
	fixture := "../../../shared/fixtures/scans/nmap/nmap_multiple_port.xml"
	if _, err := os.Stat(fixture); err != nil {
		t.Skip("fixtures not present")
	}
	out, err := runFindings(t, "parse", "--scanner", "nmap", "--file", fixture)
	if err != nil {
		t.Fatal(err)
	}
	var fs []map[string]any
	if err := json.Unmarshal([]byte(out), &fs); err != nil {
		t.Fatalf("not a JSON array: %v", err)
	}
	if len(fs) != 13 {
		t.Fatalf("%d findings, want 13 (DefectDojo's count)", len(fs))
	}
	// auto-detection gives the same answer
	out2, err := runFindings(t, "parse", "--file", fixture)
	if err != nil || out2 != out {
		t.Fatalf("auto-detected parse differs: %v", err)
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
