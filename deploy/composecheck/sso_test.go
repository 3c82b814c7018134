package composecheck

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// Every Kratos web hook kratos.yml points at the dev API (127.0.0.1:8080)
// is pointed at the api service, with the shared secret, by compose; and
// the OIDC providers reach Kratos.
func TestKratosHooksReachTheAPI(t *testing.T) {
	p := mustLoad(t, production())
	k, err := p.GetService("kratos")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("../kratos/kratos.yml")
	if err != nil {
		t.Fatal(err)
	}
	hooks := regexp.MustCompile(`url: http://127\.0\.0\.1:8080(/api/v1/kratos/hooks/\S+)`).FindAllStringSubmatch(string(raw), -1)
	if len(hooks) < 13 {
		t.Fatalf("found %d hooks in kratos.yml", len(hooks))
	}
	want := map[string]int{}
	for _, h := range hooks {
		want["http://api:8080"+h[1]]++
	}
	got := map[string]int{}
	for key, v := range k.Environment {
		if strings.HasSuffix(key, "_CONFIG_URL") && strings.Contains(deref(v), "/api/v1/kratos/hooks/") {
			got[deref(v)]++
			secret := strings.TrimSuffix(key, "_URL") + "_AUTH_CONFIG_VALUE"
			if deref(k.Environment[secret]) != production()["KRATOS_HOOK_SECRET"] {
				t.Errorf("kratos: %s is not the hook secret", secret)
			}
		}
	}
	for u, n := range want {
		if got[u] != n {
			t.Errorf("kratos.yml has %d hooks to %s, compose points %d there", n, u, got[u])
		}
	}
	if deref(k.Environment["SELFSERVICE_METHODS_OIDC_CONFIG_PROVIDERS"]) != "[]" {
		t.Errorf("OIDC providers: %q", deref(k.Environment["SELFSERVICE_METHODS_OIDC_CONFIG_PROVIDERS"]))
	}
	api, _ := p.GetService("api")
	if _, ok := api.Environment["OIDC_PROVIDERS"]; !ok {
		t.Error("the API does not get OIDC_PROVIDERS")
	}
}
