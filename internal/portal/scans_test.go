package portal

import "testing"

func TestScanWorkflowURL(t *testing.T) {
	got := scanWorkflowURL("http://127.0.0.1:8233", "default", "scan/6f1c9c1e-0d7e-4f8a-9a51-0c2b1f3a9d10")
	want := "http://127.0.0.1:8233/namespaces/default/workflows/scan%2F6f1c9c1e-0d7e-4f8a-9a51-0c2b1f3a9d10"
	if got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
