package targets

import (
	"errors"
	"testing"
)

func TestCheckImage(t *testing.T) {
	prod := Policy{}
	for _, s := range []string{"image:nginx:1.27", "image:ghcr.io/org/app:v1", "image:us-docker.pkg.dev/p/r/i:1", "image:quay.io/x/y@sha256:" + sha} {
		tg, err := Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := prod.CheckImage(tg); err != nil {
			t.Errorf("%s refused: %v", s, err)
		}
	}
	for _, s := range []string{
		"image:10.0.0.5:5000/x", "image:169.254.169.254/x", "image:127.0.0.1:5000/x", "image:localhost:5000/x",
		"image:[::1]:5000/x", "image:registry.internal/x", "image:0x7f.1:5000/x", "image:evil.example.com/x",
	} {
		tg, err := Parse(s)
		if err != nil {
			continue // refused already at parse time: fine
		}
		if err := prod.CheckImage(tg); !errors.Is(err, ErrNotAllowed) {
			t.Errorf("%s (registry %s) accepted: %v", s, tg.ImageRegistry(), err)
		}
	}
	own := Policy{ImageRegistries: []string{"registry.acme.example", "*.registry.example"}}
	for s, ok := range map[string]bool{
		"image:registry.acme.example/app:1": true, "image:eu.registry.example/app": true,
		"image:nginx": false, "image:registry.example/app": false,
	} {
		tg, err := Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := own.CheckImage(tg); (err == nil) != ok {
			t.Errorf("IMAGE_REGISTRIES=%v: %s → %v, want allowed=%v", own.ImageRegistries, s, err, ok)
		}
	}
}

const sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
