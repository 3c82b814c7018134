package portal

import (
	"net/http/httptest"
	"net/url"
	"testing"
)

// Only this portal's own pages are passed to Kratos as return_to: anything
// else would make sign-in an open redirect.
func TestSameOriginReturnTo(t *testing.T) {
	p := New(Deps{KratosBrowserURL: "http://127.0.0.1:4433"})
	for in, want := range map[string]string{
		"":                            "",
		"/app/findings?severity=high": "http://127.0.0.1:8080/app/findings?severity=high",
		"http://127.0.0.1:8080/app":   "http://127.0.0.1:8080/app",
		"http://evil.example/app":     "",
		"//evil.example/app":          "",
		"http://127.0.0.1:9999/app":   "",
		"javascript:alert(1)":         "",
		"app":                         "",
		"https://127.0.0.1:8080/app":  "",
	} {
		r := httptest.NewRequest("GET", "http://127.0.0.1:8080/auth/login?return_to="+url.QueryEscape(in), nil)
		if got := p.sameOriginReturnTo(r); got != want {
			t.Errorf("return_to %q → %q, want %q", in, got, want)
		}
	}
}
