// Package findings holds the normalised finding every scanner report is turned
// into, and the fingerprint that makes the same issue one finding across scans
// and scanners.
package findings

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Severity is the normalised severity scale shared by every scanner.
type Severity string

const (
	SeverityCritical Severity = "critical"
	SeverityHigh     Severity = "high"
	SeverityMedium   Severity = "medium"
	SeverityLow      Severity = "low"
	SeverityInfo     Severity = "info"
)

// Severities lists the scale from worst to least, the order reports use.
var Severities = []Severity{SeverityCritical, SeverityHigh, SeverityMedium, SeverityLow, SeverityInfo}

// Rank orders severities: critical is 4, info 0, unknown -1.
func (s Severity) Rank() int {
	switch s {
	case SeverityCritical:
		return 4
	case SeverityHigh:
		return 3
	case SeverityMedium:
		return 2
	case SeverityLow:
		return 1
	case SeverityInfo:
		return 0
	}
	return -1
}

// Valid reports whether s is one of the five known severities.
func (s Severity) Valid() bool { return s.Rank() >= 0 }

// ParseSeverity maps the many spellings scanners use onto the scale.
// Unknown words become info rather than an error: a finding is never dropped
// because a scanner invented a new label.
func ParseSeverity(v string) Severity {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "critical", "crit", "4", "urgent":
		return SeverityCritical
	case "high", "3", "error", "severe":
		return SeverityHigh
	case "medium", "moderate", "2", "warning", "warn":
		return SeverityMedium
	case "low", "1", "minor":
		return SeverityLow
	default:
		return SeverityInfo
	}
}

// SeverityFromCVSS maps a CVSS v3 base score onto the scale (FIRST's bands).
func SeverityFromCVSS(score float64) Severity {
	switch {
	case score >= 9.0:
		return SeverityCritical
	case score >= 7.0:
		return SeverityHigh
	case score >= 4.0:
		return SeverityMedium
	case score > 0:
		return SeverityLow
	}
	return SeverityInfo
}

// Finding is one normalised issue found by one scanner at one location.
type Finding struct {
	Fingerprint      string   `json:"fingerprint"`
	Title            string   `json:"title"`
	Severity         Severity `json:"severity"`
	CVEs             []string `json:"cves,omitempty"`
	CWEs             []int    `json:"cwes,omitempty"`
	CVSSScore        float64  `json:"cvss_score,omitempty"`
	CVSSVector       string   `json:"cvss_vector,omitempty"`
	Component        string   `json:"component,omitempty"`
	ComponentVersion string   `json:"component_version,omitempty"`
	Host             string   `json:"host,omitempty"`
	Port             int      `json:"port,omitempty"`
	Protocol         string   `json:"protocol,omitempty"`
	URL              string   `json:"url,omitempty"`
	// Target is the scanned artifact when there is no network location: a
	// container image, a file path, a Kubernetes workload.
	Target      string   `json:"target,omitempty"`
	Scanner     string   `json:"scanner"`
	RuleID      string   `json:"rule_id,omitempty"`
	Description string   `json:"description,omitempty"`
	Remediation string   `json:"remediation,omitempty"`
	References  []string `json:"references,omitempty"`
	Evidence    string   `json:"evidence,omitempty"`
}

// Location is the canonical "where" of a finding used in its fingerprint:
// the URL when there is one (without query and fragment), else host:port/proto,
// else the host, else the scanned artifact (an image, a file, a workload).
func (f *Finding) Location() string {
	if f.URL != "" {
		u := f.URL
		if i := strings.IndexAny(u, "?#"); i >= 0 {
			u = u[:i]
		}
		return strings.ToLower(strings.TrimRight(u, "/"))
	}
	if f.Host != "" {
		h := strings.ToLower(f.Host)
		if f.Port > 0 {
			p := f.Protocol
			if p == "" {
				p = "tcp"
			}
			return h + ":" + strconv.Itoa(f.Port) + "/" + strings.ToLower(p)
		}
		return h
	}
	return strings.ToLower(strings.TrimSpace(f.Target))
}

// ComputeFingerprint returns the stable identity of the issue: CVE + component +
// location when a CVE is known (so two scanners reporting the same CVE on the
// same package at the same place agree), the canonical key + location for a
// check scanners share (canon.tsv), otherwise scanner + rule + location.
func (f *Finding) ComputeFingerprint() string {
	var key string
	if c, ok := Canonical(f); ok {
		key = "canon|" + c.Key + "|" + c.Location
	} else if len(f.CVEs) > 0 {
		cves := append([]string(nil), f.CVEs...)
		for i := range cves {
			cves[i] = strings.ToUpper(cves[i])
		}
		sort.Strings(cves)
		key = fmt.Sprintf("cve|%s|%s|%s", cves[0], strings.ToLower(f.Component), f.Location())
	} else {
		rule := f.RuleID
		if rule == "" {
			rule = strings.ToLower(f.Title)
		}
		key = fmt.Sprintf("rule|%s|%s|%s|%s", strings.ToLower(f.Scanner), rule, strings.ToLower(f.Component), f.Location())
	}
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// Normalize fills defaults and the fingerprint; parsers call it on every finding.
func (f *Finding) Normalize() {
	f.Title = strings.TrimSpace(f.Title)
	if !f.Severity.Valid() {
		f.Severity = ParseSeverity(string(f.Severity))
	}
	for i := range f.CVEs {
		f.CVEs[i] = strings.ToUpper(strings.TrimSpace(f.CVEs[i]))
	}
	if f.Fingerprint == "" {
		f.Fingerprint = f.ComputeFingerprint()
	}
}
