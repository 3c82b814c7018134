package mailtmpl

// The data each template reads (its name in brackets). Senders fill them;
// Sample holds an example of each for `secureops admin email preview`.

// Welcome [welcome]: the new tenant owner's first email.
type Welcome struct {
	ContactName, CompanyName, Tier string
	TrialDays                      int
	InitialTarget                  string
	URL                            string // the portal's public URL
	RecoveryLink, RecoveryCode     string
}

// Invite [invite]: a person added to a tenant, who has no account yet.
type Invite struct {
	RecoveryLink, RecoveryCode string
}

// Invitation [invitation]: a person with an account invited to another tenant.
type Invitation struct {
	Role, Token, Expires string
}

// Ops [ops]: operators told an onboarding finished or failed.
type Ops struct {
	CompanyName, Slug, TenantID, Tier, Event, WorkflowID string
	Attempt                                              int
	Reason                                               string
}

// ScanSummary [scan-summary]: a finished (or failed) scan.
type ScanSummary struct {
	Target                            string
	Scanners                          []string
	Failed                            bool
	Reason                            string
	Critical, High, Medium, Low, Info int
	New, StillOpen, Fixed, Reopened   int
	Link                              string
}

// Finding is one finding listed in an email.
type Finding struct {
	Title    string
	CVEs     []string
	Where    string // Where(): URL, host:port or target
	Severity string
	Priority int
	Due      string // SLA notices: "2006-01-02 15:04 UTC"
	KEV      bool
	KEVSince string // KEV alerts: the date CISA added it
	Link     string // its page in the portal ("" without a public URL)
}

// ScanCritical [scan-critical]: new critical findings of a scan.
type ScanCritical struct {
	Target   string
	Total    int
	Findings []Finding
	More     int // Total beyond those listed
	Link     string
}

// KEVAlert [kev-alert]: open findings whose CVE entered CISA's KEV.
type KEVAlert struct {
	Total    int
	Findings []Finding
	More     int
	AllLink  string
}

// SLANotice [sla-notice]: findings overdue or due within three days.
type SLANotice struct {
	Overdue, Soon           []Finding // those listed
	OverdueTotal, SoonTotal int
	OverdueMore, SoonMore   int // beyond those listed
	URL                     string
}

// ReportReady [report-ready]: a report's links.
type ReportReady struct {
	Kind string
	Base string // …/api/v1/reports/<id>: .pdf, .html, .md, /feedback
}

// Billing [billing]: one billing message; Kind is billing.EmailKind's value
// (trial_ending, past_due, reminder, suspended, reinstated, cancelled).
type Billing struct {
	Kind, Company, Plan, Deadline, DeleteAt string
	InvoiceURL, CheckoutURL, PortalURL      string
	Page                                    string // the portal's billing page
}

// Sample is example data for template name (nil for an unknown name).
func Sample(name, publicURL string) any {
	if publicURL == "" {
		publicURL = "https://portal.example.com"
	}
	f1 := Finding{Title: "Apache HTTP Server path traversal", CVEs: []string{"CVE-2021-41773"}, Where: "https://www.example.com/cgi-bin/",
		Severity: "critical", Priority: 1, Due: "2026-12-05 09:00 UTC", KEV: true, KEVSince: "2021-11-03", Link: publicURL + "/app/findings/3f2c0d5e-0000-4000-8000-000000000001"}
	f2 := Finding{Title: "OpenSSH regreSSHion", CVEs: []string{"CVE-2024-6387"}, Where: "203.0.113.10:22",
		Severity: "high", Priority: 2, Due: "2026-12-08 12:00 UTC", Link: publicURL + "/app/findings/3f2c0d5e-0000-4000-8000-000000000002"}
	switch name {
	case "welcome":
		return Welcome{ContactName: "Ada Lovelace", CompanyName: "Example Corp", Tier: "pro", TrialDays: 14, InitialTarget: "www.example.com",
			URL: publicURL, RecoveryLink: publicURL + "/auth/recovery?flow=sample&code=123456", RecoveryCode: "123456"}
	case "invite":
		return Invite{RecoveryLink: publicURL + "/auth/recovery?flow=sample&code=123456", RecoveryCode: "123456"}
	case "invitation":
		return Invitation{Role: "client_analyst", Token: "inv_sample", Expires: "Mon, 14 Dec 2026 09:00:00 UTC"}
	case "ops":
		return Ops{CompanyName: "Example Corp", Slug: "example-corp", TenantID: "3f2c0d5e-0000-4000-8000-0000000000aa", Tier: "pro",
			Event: "failed", WorkflowID: "onboarding/example-corp", Attempt: 1, Reason: "welcome_email: the email provider refused the message"}
	case "scan-summary":
		return ScanSummary{Target: "www.example.com", Scanners: []string{"nmap", "nuclei"}, Critical: 1, High: 2, Medium: 5, Low: 3, Info: 8,
			New: 3, StillOpen: 14, Fixed: 2, Link: publicURL + "/app/scans/3f2c0d5e-0000-4000-8000-0000000000bb"}
	case "scan-critical":
		return ScanCritical{Target: "www.example.com", Total: 1, Findings: []Finding{f1}, Link: publicURL + "/app/scans/3f2c0d5e-0000-4000-8000-0000000000bb"}
	case "kev-alert":
		return KEVAlert{Total: 1, Findings: []Finding{f1}, AllLink: publicURL + "/app/findings?kev=true&sort=-priority"}
	case "sla-notice":
		return SLANotice{Overdue: []Finding{f1}, Soon: []Finding{f2}, OverdueTotal: 1, SoonTotal: 1, URL: publicURL}
	case "report-ready":
		return ReportReady{Kind: "executive", Base: publicURL + "/api/v1/reports/3f2c0d5e-0000-4000-8000-0000000000cc"}
	case "billing":
		return Billing{Kind: "trial_ending", Company: "Example Corp", Plan: "pro", Deadline: "14 December 2026",
			CheckoutURL: "https://checkout.stripe.com/c/pay/sample", Page: publicURL + "/billing"}
	}
	return nil
}
