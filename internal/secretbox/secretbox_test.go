package secretbox

import (
	"bytes"
	"errors"
	"testing"
)

func TestSealOpen(t *testing.T) {
	s, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParseKey(s)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := k.Seal([]byte("so_abc_def"), []byte("tenant-1"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("so_abc_def")) {
		t.Fatal("plaintext visible in sealed value")
	}
	got, err := k.Open(sealed, []byte("tenant-1"))
	if err != nil || string(got) != "so_abc_def" {
		t.Fatalf("open: %q %v", got, err)
	}
	// Bound to its context: another tenant's row cannot be swapped in.
	if _, err := k.Open(sealed, []byte("tenant-2")); !errors.Is(err, ErrOpen) {
		t.Fatalf("open with other aad: %v", err)
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := k.Open(sealed, []byte("tenant-1")); !errors.Is(err, ErrOpen) {
		t.Fatalf("tampered: %v", err)
	}
	other, _ := GenerateKey()
	k2, _ := ParseKey(other)
	if k2.ID() == k.ID() {
		t.Fatal("two keys share an id")
	}
}

func TestParseKeys(t *testing.T) {
	hexKey := "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	b64, _ := GenerateKey()
	keys, err := ParseKeys(b64 + ", " + hexKey)
	if err != nil || len(keys) != 2 {
		t.Fatalf("%v %v", keys, err)
	}
	for _, bad := range []string{"short", "00", b64 + "AAAA"} {
		if _, err := ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) accepted", bad)
		}
	}
}
