// Package tiers is the product catalogue: what each subscription tier costs
// in Stripe and what it allows. Stripe products and prices are created from
// it (looked up by lookup_key), and onboarding records the tier's default
// scan policy from it.
package tiers

import (
	"slices"
	"time"
)

// Tier is one plan.
type Tier struct {
	Name         string
	Title        string
	MonthlyCents int64
	// PriceLookupKey names the tier's monthly price in Stripe.
	PriceLookupKey string
	// Default scan policy. MaxConcurrentScans matches config.DefaultScanLimits
	// (SCAN_CONCURRENCY overrides what the scan gate enforces).
	Scanners           []string
	MaxConcurrentScans int
	ScheduleInterval   time.Duration
	// MinScheduleInterval is the shortest time a schedule may leave between
	// two runs: each run is a metered scan of a real host.
	MinScheduleInterval time.Duration
}

// Currency of every price.
const Currency = "usd"

// ScansMeteredLookupKey names the metered per-scan price billed on top of
// every tier; usage is reported by the billing cycle.
const ScansMeteredLookupKey = "secureops_scans_metered"

// ScanUnitCents is the metered price of one scan.
const ScanUnitCents = 50

// TrialDays is how long a new subscription runs before the first charge.
const TrialDays = 14

// All lists the tiers in order.
var All = []Tier{
	{
		Name: "basic", Title: "SecureOps Basic", MonthlyCents: 4900, PriceLookupKey: "secureops_basic_monthly",
		Scanners: []string{"nmap"}, MaxConcurrentScans: 2, ScheduleInterval: 7 * 24 * time.Hour,
		MinScheduleInterval: time.Hour,
	},
	{
		Name: "pro", Title: "SecureOps Pro", MonthlyCents: 19900, PriceLookupKey: "secureops_pro_monthly",
		Scanners: []string{"nmap", "nikto"}, MaxConcurrentScans: 10, ScheduleInterval: 7 * 24 * time.Hour,
		MinScheduleInterval: 15 * time.Minute,
	},
	{
		Name: "enterprise", Title: "SecureOps Enterprise", MonthlyCents: 99900, PriceLookupKey: "secureops_enterprise_monthly",
		Scanners: []string{"nmap", "nikto", "nuclei"}, MaxConcurrentScans: 50, ScheduleInterval: 7 * 24 * time.Hour,
		MinScheduleInterval: 15 * time.Minute,
	},
}

// Offered is the tier's scanners that this deployment has installed
// (config.InstalledScanners), in the tier's order; nil installed means all.
// A tier is never left without a scanner: the built-in secureops checks
// need no binary.
func (t Tier) Offered(installed map[string]bool) []string {
	if installed == nil {
		return slices.Clone(t.Scanners)
	}
	var out []string
	for _, s := range t.Scanners {
		if installed[s] {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		out = []string{"secureops"}
	}
	return out
}

// Names lists the tier names.
func Names() []string {
	out := make([]string, len(All))
	for i, t := range All {
		out[i] = t.Name
	}
	return out
}

// Get returns the named tier.
func Get(name string) (Tier, bool) {
	i := slices.IndexFunc(All, func(t Tier) bool { return t.Name == name })
	if i < 0 {
		return Tier{}, false
	}
	return All[i], true
}
