package portal

import "testing"

func TestOnboardingWorkflowURL(t *testing.T) {
	p := New(Deps{TemporalUIURL: "http://127.0.0.1:8233/", Namespace: "secureops"})
	if got, want := p.onboardingWorkflowURL("acme-corp"), "http://127.0.0.1:8233/namespaces/secureops/workflows/onboarding%2Facme-corp"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	if got := New(Deps{}).onboardingWorkflowURL("acme-corp"); got != "" {
		t.Fatalf("without a Temporal UI: %q", got)
	}
}
