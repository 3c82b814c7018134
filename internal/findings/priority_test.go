package findings

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestPriorityTable(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   PriorityInput
		want int
	}{
		{"info, nothing known", PriorityInput{Severity: SeverityInfo}, 2},
		{"low package", PriorityInput{Severity: SeverityLow, CVSSScore: 3.1, Exposure: ExposurePackage}, 8 + 1},
		{"medium network service", PriorityInput{Severity: SeverityMedium, CVSSScore: 5.3, Exposure: ExposureNetwork}, 16 + 2 + 4},
		{"high with EPSS", PriorityInput{Severity: SeverityHigh, CVSSScore: 8.8, HasEPSS: true, EPSSPercentile: 0.5, Exposure: ExposurePackage}, 24 + 4 + 10},
		{"critical, top EPSS, network", PriorityInput{Severity: SeverityCritical, CVSSScore: 10, HasEPSS: true, EPSSPercentile: 1, Exposure: ExposureNetwork}, 60},
		{"critical KEV ransomware, everything", PriorityInput{Severity: SeverityCritical, CVSSScore: 10, HasEPSS: true, EPSSPercentile: 1, Exposure: ExposureNetwork, KEV: true, Ransomware: true}, 95},
		{"medium KEV package", PriorityInput{Severity: SeverityMedium, KEV: true, Exposure: ExposurePackage}, 16 + 30},
		{"EPSS ignored without HasEPSS", PriorityInput{Severity: SeverityHigh, EPSSPercentile: 0.9, Exposure: ExposurePackage}, 24},
		{"half confidence loses 2", PriorityInput{Severity: SeverityHigh, CVSSScore: 7.5, Exposure: ExposureNetwork, Confidence: 0.5}, 24 + 3 + 4 - 2},
		{"unknown severity counts as info", PriorityInput{Severity: "weird", Exposure: ExposurePackage}, 0},
		{"NaN percentile is 0", PriorityInput{Severity: SeverityLow, HasEPSS: true, EPSSPercentile: nan(), Exposure: ExposurePackage}, 8},
	} {
		if got := Priority(tc.in); got != tc.want {
			t.Errorf("%s: Priority = %d, want %d", tc.name, got, tc.want)
		}
	}
}

func nan() float64 { var z float64; return z / z }

func randomInput(r *rand.Rand) PriorityInput {
	return PriorityInput{
		Severity:       Severities[r.IntN(len(Severities))],
		CVSSScore:      r.Float64() * 10,
		EPSSPercentile: r.Float64(),
		HasEPSS:        r.IntN(4) > 0,
		KEV:            r.IntN(3) == 0,
		Ransomware:     r.IntN(2) == 0,
		Exposure:       Exposure(r.IntN(3)),
		Confidence:     []float64{0, 0.2, 0.5, 0.9, 1}[r.IntN(5)],
	}
}

// The rule's properties on random findings: in range; a KEV finding
// outranks every non-KEV finding of the same or lower severity; monotone
// non-decreasing in the EPSS percentile and in KEV.
func TestPriorityProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 2026))
	for i := 0; i < 200_000; i++ {
		a, b := randomInput(r), randomInput(r)
		pa, pb := Priority(a), Priority(b)
		if pa < 0 || pa > 100 {
			t.Fatalf("Priority(%+v) = %d, out of 0–100", a, pa)
		}
		if a.KEV && !b.KEV && b.Severity.Rank() <= a.Severity.Rank() && pa <= pb {
			t.Fatalf("KEV %+v (%d) does not outrank non-KEV %+v (%d)", a, pa, b, pb)
		}
		up := a
		up.HasEPSS = true
		up.EPSSPercentile = a.EPSSPercentile + r.Float64()*(1-a.EPSSPercentile)
		if Priority(up) < pa && a.HasEPSS {
			t.Fatalf("raising EPSS lowered the priority: %+v → %+v", a, up)
		}
		if !a.HasEPSS && Priority(up) < pa {
			t.Fatalf("an EPSS score lowered the priority: %+v → %+v", a, up)
		}
		k := a
		k.KEV = true
		if Priority(k) < pa {
			t.Fatalf("KEV lowered the priority: %+v", a)
		}
		rw := k
		rw.Ransomware = true
		if Priority(rw) < Priority(k) {
			t.Fatalf("ransomware use lowered the priority: %+v", a)
		}
		// Deterministic.
		if Priority(a) != pa {
			t.Fatal("not deterministic")
		}
	}
}

func TestExposureOf(t *testing.T) {
	if ExposureOf("a.example", 443, "", "") != ExposureNetwork || ExposureOf("", 0, "https://a.example/", "") != ExposureNetwork {
		t.Error("a host with a port or a URL is a network service")
	}
	if ExposureOf("", 0, "", "openssl") != ExposurePackage {
		t.Error("a component without a location is a package")
	}
	if ExposureOf("a.example", 0, "", "") != ExposureUnknown {
		t.Error("a host without a port says nothing")
	}
}

func TestSLADue(t *testing.T) {
	first := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	days := ParseSLADays(map[string]float64{"high": 14, "critical": 3, "bogus": 1, "low": 0.5})
	for _, tc := range []struct {
		sev  Severity
		kev  bool
		want int // days; -1 none
	}{
		{SeverityCritical, false, 3}, {SeverityHigh, false, 14}, {SeverityMedium, false, 90}, {SeverityLow, false, 120},
		{SeverityInfo, false, -1}, {SeverityMedium, true, 3}, {SeverityInfo, true, 3},
	} {
		due, ok := SLADue(first, tc.sev, tc.kev, days)
		if tc.want < 0 {
			if ok {
				t.Errorf("%s: deadline %v, want none", tc.sev, due)
			}
			continue
		}
		if want := first.AddDate(0, 0, tc.want); !ok || !due.Equal(want) {
			t.Errorf("%s kev=%v: %v %v, want %v", tc.sev, tc.kev, due, ok, want)
		}
	}
	if due, _ := SLADue(first, SeverityCritical, false, nil); !due.Equal(first.AddDate(0, 0, 7)) {
		t.Errorf("default critical deadline %v", due)
	}
}
