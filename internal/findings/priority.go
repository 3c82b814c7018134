package findings

import (
	"math"
	"strings"
	"time"
)

// Exposure is how reachable the thing a finding sits on is.
type Exposure int

const (
	// ExposureUnknown: nothing in the finding says.
	ExposureUnknown Exposure = iota
	// ExposurePackage: a package in an image or a repository (a component
	// and no network location); reachable only through what runs it.
	ExposurePackage
	// ExposureNetwork: a host and port or a URL a scanner reached over the
	// network, i.e. a listening, usually internet-facing, service.
	ExposureNetwork
)

// ExposureOf reads a stored finding's exposure from what it carries: a URL
// or a host with a port is a network service; a component without either is
// a package in an image or repository.
func ExposureOf(host string, port int32, url, component string) Exposure {
	switch {
	case url != "" || (host != "" && port > 0):
		return ExposureNetwork
	case component != "":
		return ExposurePackage
	}
	return ExposureUnknown
}

// PriorityInput is what the priority rule reads of a finding.
type PriorityInput struct {
	Severity  Severity
	CVSSScore float64 // 0–10; 0 when unknown
	// EPSSPercentile is FIRST's percentile (0–1) of the finding's most
	// likely exploited CVE; HasEPSS false when none of its CVEs is scored.
	EPSSPercentile float64
	HasEPSS        bool
	// KEV: one of its CVEs is in CISA's Known Exploited Vulnerabilities
	// catalogue; Ransomware: one of those is known to be used by ransomware.
	KEV        bool
	Ransomware bool
	Exposure   Exposure
	// Confidence is the scanner's confidence (0–1]; 0 means it gave none and
	// counts as certain.
	Confidence float64
}

// Weights of the priority rule. Documented in Priority; the property tests
// hold them to it.
const (
	prioritySeverityStep = 8  // per severity rank: info 0, low 8, medium 16, high 24, critical 32
	priorityCVSSMax      = 4  // CVSS 0–10 → 0–4
	priorityEPSSMax      = 20 // EPSS percentile 0–1 → 0–20
	priorityExposureMax  = 4  // network 4, unknown 2, package 0
	priorityKEV          = 30 // in KEV
	priorityRansomware   = 5  // in KEV and used by ransomware
	priorityLowConfMax   = 4  // a low-confidence finding loses up to 4 of its non-KEV points
)

// Priority is the one rule that orders findings for remediation, 0–100,
// deterministic:
//
//	severity   info 0, low 8, medium 16, high 24, critical 32
//	+ CVSS     round(score × 0.4)              0–4
//	+ EPSS     round(percentile × 20)          0–20 (no score: 0)
//	+ exposure network service 4, unknown 2, package in an image 0
//	− doubt    round((1 − confidence) × 4), taken only from the three lines
//	           above (a scanner without a confidence counts as certain)
//	+ KEV      30, + 5 more when known to be used by ransomware
//
// The KEV bonus (30) is larger than everything but severity a non-KEV
// finding can have (4 + 20 + 4 = 28), so a KEV finding outranks every non-KEV
// finding of the same or a lower severity. The result never decreases when
// the EPSS percentile rises or KEV becomes true. The maximum is 32 + 28 + 35
// = 95; the result is clamped to 0–100.
func Priority(in PriorityInput) int {
	rank := max(in.Severity.Rank(), 0)
	p := rank * prioritySeverityStep
	extra := int(math.Round(clamp01(in.CVSSScore/10) * priorityCVSSMax))
	if in.HasEPSS {
		extra += int(math.Round(clamp01(in.EPSSPercentile) * priorityEPSSMax))
	}
	switch in.Exposure {
	case ExposureNetwork:
		extra += priorityExposureMax
	case ExposureUnknown:
		extra += priorityExposureMax / 2
	}
	if in.Confidence > 0 && in.Confidence < 1 {
		extra = max(extra-int(math.Round((1-in.Confidence)*priorityLowConfMax)), 0)
	}
	p += extra
	if in.KEV {
		p += priorityKEV
		if in.Ransomware {
			p += priorityRansomware
		}
	}
	return min(max(p, 0), 100)
}

func clamp01(v float64) float64 {
	if math.IsNaN(v) || v < 0 {
		return 0
	}
	return min(v, 1)
}

// DefaultSLADays are the days to remediate a finding of each severity unless
// the tenant set its own (tenant settings.sla_days); info has no deadline.
var DefaultSLADays = map[Severity]int{SeverityCritical: 7, SeverityHigh: 30, SeverityMedium: 90, SeverityLow: 120}

// SLADays are a tenant's days per severity.
type SLADays map[Severity]int

// ParseSLADays merges a tenant's overrides (the sla_days settings object,
// {"critical": 5, ...}) over the defaults; unknown keys and values outside
// 1–365 are ignored.
func ParseSLADays(overrides map[string]float64) SLADays {
	out := SLADays{}
	for k, v := range DefaultSLADays {
		out[k] = v
	}
	for k, v := range overrides {
		if ValidSLADay(k, v) {
			out[Severity(strings.ToLower(k))] = int(v)
		}
	}
	return out
}

// ValidSLADay reports whether a stored override is one the tenant could
// have set: a severity with a deadline and whole days from 1 to 365.
func ValidSLADay(severity string, v float64) bool {
	_, known := DefaultSLADays[Severity(strings.ToLower(severity))]
	return known && v == math.Trunc(v) && v >= 1 && v <= 365
}

// SLADaysFor is the days to remediate a finding of this severity: the
// tenant's days for it; a KEV finding gets the critical days (whichever is
// sooner). ok is false when the severity has none (info, not in KEV).
func SLADaysFor(sev Severity, kev bool, days SLADays) (int, bool) {
	if days == nil {
		days = ParseSLADays(nil)
	}
	d, ok := days[sev]
	if kev {
		if c := days[SeverityCritical]; !ok || c < d {
			d, ok = c, true
		}
	}
	return d, ok
}

// SLADue is a finding's remediation deadline: first seen plus SLADaysFor.
func SLADue(firstSeen time.Time, sev Severity, kev bool, days SLADays) (time.Time, bool) {
	d, ok := SLADaysFor(sev, kev, days)
	if !ok {
		return time.Time{}, false
	}
	return firstSeen.Add(time.Duration(d) * 24 * time.Hour), true
}
