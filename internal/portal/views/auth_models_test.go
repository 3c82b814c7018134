package views

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/secureops/secureops/internal/kratos"
)

// Kratos' WebAuthn nodes render without inline script (our CSP has none):
// its webauthn.js as a script with its integrity, the key's button as a
// plain button app.js wires (data-ory-trigger); any other script is dropped.
func TestWebAuthnNodes(t *testing.T) {
	node := func(typ, group string, a kratos.UINodeAttributes) kratos.UINode {
		return kratos.UINode{Type: typ, Group: group, Attributes: a}
	}
	f := kratos.Flow{ID: "f1", UI: kratos.UI{Action: "http://localhost:4433/self-service/settings?flow=f1", Method: "POST", Nodes: []kratos.UINode{
		node("input", "default", kratos.UINodeAttributes{Name: "csrf_token", Type: "hidden", Value: "tok"}),
		node("input", "webauthn", kratos.UINodeAttributes{Name: "webauthn_register_displayname", Type: "text"}),
		node("input", "webauthn", kratos.UINodeAttributes{Name: "webauthn_register", Type: "hidden"}),
		node("input", "webauthn", kratos.UINodeAttributes{Name: "webauthn_register_trigger", Type: "button", Value: `{"publicKey":{}}`, OnClickTrigger: "oryWebAuthnRegistration"}),
		node("input", "webauthn", kratos.UINodeAttributes{Name: "evil", Type: "button", OnClickTrigger: "alert"}),
		node("script", "webauthn", kratos.UINodeAttributes{Src: "http://localhost:4433/.well-known/ory/webauthn.js", Integrity: "sha512-abc"}),
		node("script", "webauthn", kratos.UINodeAttributes{Src: "https://evil.example/x.js"}),
	}}}
	v := NewFlowView("settings", f)
	var b bytes.Buffer
	if err := AuthFlow(Page{}, v).Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	html := b.String()
	for _, want := range []string{
		`src="http://localhost:4433/.well-known/ory/webauthn.js"`, `integrity="sha512-abc"`, `crossorigin="anonymous"`,
		`data-ory-trigger="oryWebAuthnRegistration"`, `name="webauthn_register_trigger"`, "<script ",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("missing %s", want)
		}
	}
	if strings.Contains(html, "evil.example") || strings.Contains(html, "onclick") || strings.Contains(html, `data-ory-trigger="alert"`) {
		t.Errorf("unsafe markup rendered:\n%s", html)
	}
	if !strings.Contains(html, `<button type="button"`) && !strings.Contains(html, `type="button"`) {
		t.Error("the key's button would submit the form")
	}
}
