package scans

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/secureops/secureops/internal/domainerr"
	"github.com/secureops/secureops/internal/targets"
)

func TestScannersFor(t *testing.T) {
	cases := []struct {
		kind  targets.Kind
		req   []string
		want  []string
		field string // of the error; "" for none
	}{
		{targets.KindHost, nil, []string{"nmap"}, ""},
		{targets.KindImage, nil, []string{"trivy"}, ""},
		{targets.KindURL, []string{"zap", "nuclei"}, []string{"zap", "nuclei"}, ""},
		{targets.KindHost, []string{}, nil, "scanners"},
		{targets.KindHost, []string{"nessus"}, nil, "scanners[0]"},
		{targets.KindHost, []string{"nmap", "nmap"}, nil, "scanners[1]"},
		{targets.KindImage, []string{"trivy", "nmap"}, nil, "scanners[1]"},
		{targets.KindDomain, []string{"trivy"}, nil, "scanners[0]"},
	}
	for _, c := range cases {
		got, err := ScannersFor(c.kind, c.req)
		if c.field == "" {
			if err != nil || len(got) != len(c.want) {
				t.Errorf("%s %v: %v %v, want %v", c.kind, c.req, got, err, c.want)
			}
			continue
		}
		de, ok := domainerr.As(err)
		if !ok || de.Kind != domainerr.Invalid || len(de.Fields) != 1 || de.Fields[0].Field != c.field {
			t.Errorf("%s %v: %v, want invalid %s", c.kind, c.req, err, c.field)
		}
	}
}

func TestFitsKindIsTheOneRule(t *testing.T) {
	for sc := range Known {
		for _, k := range targets.Kinds {
			fits := FitsKind(sc, k) == nil
			if want := (sc == "trivy") == (k == targets.KindImage); fits != want {
				t.Errorf("FitsKind(%s, %s) = %v, want %v", sc, k, fits, want)
			}
		}
	}
}

func TestLimitsOf(t *testing.T) {
	l := Limits{"basic": 2, "pro": 0}
	if l.Of("basic") != 2 || l.Of("pro") != 1 || l.Of("gold") != 1 {
		t.Fatalf("Of: %d %d %d", l.Of("basic"), l.Of("pro"), l.Of("gold"))
	}
}

func TestNewRequest(t *testing.T) {
	r := Rules{Policy: targets.Policy{}}
	id := uuid.New()
	for _, c := range []struct {
		id     *uuid.UUID
		target string
		kind   domainerr.Kind
	}{
		{nil, "", domainerr.Invalid},
		{&id, "example.com", domainerr.Invalid},
		{nil, "ftp://x", domainerr.Invalid},
		{nil, "10.1.2.3", domainerr.Refused},
	} {
		if _, err := r.NewRequest(c.id, c.target, nil); !domainerr.Is(err, c.kind) {
			t.Errorf("NewRequest(%v, %q): %v, want kind %d", c.id, c.target, err, c.kind)
		}
	}
	if req, err := r.NewRequest(nil, "example.com", nil); err != nil || req.Target.Host != "example.com" {
		t.Fatalf("NewRequest(example.com): %+v %v", req, err)
	}
	allowed := Rules{Policy: targets.Policy{Allowed: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}}
	if _, err := allowed.NewRequest(nil, "10.1.2.3", nil); err != nil {
		t.Fatalf("an allowed private address was refused: %v", err)
	}
}

func TestParseTiming(t *testing.T) {
	if tm, err := ParseTiming("", "6h", ""); err != nil || tm.Every != 6*time.Hour || tm.TimeZone != "UTC" {
		t.Fatalf("interval: %+v %v", tm, err)
	}
	if tm, err := ParseTiming(" 0 3 * * 1 ", "", "Europe/Berlin"); err != nil || tm.Cron != "0 3 * * 1" {
		t.Fatalf("cron: %+v %v", tm, err)
	}
	for _, c := range [][3]string{{"", "", ""}, {"* * * * *", "1h", ""}, {"", "30s", ""}, {"", "1h", "Mars/Olympus"}} {
		if _, err := ParseTiming(c[0], c[1], c[2]); !domainerr.Is(err, domainerr.Invalid) {
			t.Errorf("ParseTiming%q: %v, want invalid", c, err)
		}
	}
}
