package portal

import "testing"

func TestWorkflowURL(t *testing.T) {
	p := New(Deps{TemporalUIURL: "http://127.0.0.1:8233/", Namespace: "secureops"})
	if got, want := p.workflowURL("onboarding/acme-corp"), "http://127.0.0.1:8233/namespaces/secureops/workflows/onboarding%2Facme-corp"; got != want {
		t.Fatalf("onboarding link %q, want %q", got, want)
	}
	if got, want := p.workflowURL("scan/6f1c9c1e-0d7e-4f8a-9a51-0c2b1f3a9d10"), "http://127.0.0.1:8233/namespaces/secureops/workflows/scan%2F6f1c9c1e-0d7e-4f8a-9a51-0c2b1f3a9d10"; got != want {
		t.Fatalf("scan link %q, want %q", got, want)
	}
	if got := New(Deps{}).workflowURL("scan/x"); got != "" {
		t.Fatalf("a link %q without a Temporal UI", got)
	}
}
