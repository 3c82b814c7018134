package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/bootstrap"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
)

// TestImportRules (issue 19 items 16 and 17): an empty complete report from a
// key that may start scans but not triage closes nothing (the import is
// partial); one from a key that may triage closes the findings; imports for
// an address the scan policy forbids are refused, registered or not.
func TestImportRules(t *testing.T) {
	p := start(t)
	ctx := context.Background()
	var slug string
	if err := p.db.InTx(ctx, adminScope, func(ctx context.Context, tx pgx.Tx) error {
		ten, err := db.Q.TenantGet(ctx, tx, p.tenant)
		slug = ten.Slug
		return err
	}); err != nil {
		t.Fatal(err)
	}
	ciKey, _, err := bootstrap.CreateAPIKey(ctx, p.db, slug, auth.RoleClientAPI, []string{"scans:start", "findings:view"}, "ci")
	if err != nil {
		t.Fatal(err)
	}
	ci := *p
	ci.key = ciKey

	const image = "image:registry.acme.test/close:1.0"
	code, body := p.upload(t, map[string]string{"scanner": "trivy", "target": image}, fixture(t, "trivy/scheme_2_many_vulns.json"))
	if code != http.StatusAccepted {
		t.Fatalf("import: %d %v", code, body)
	}
	first := p.waitScan(t, body["id"].(string))
	total := int(first["findings_total"].(float64))
	if total == 0 {
		t.Fatalf("first import found nothing: %v", first)
	}
	empty := fixture(t, "trivy/legacy_no_vuln.json")

	code, body = ci.upload(t, map[string]string{"scanner": "trivy", "target": image, "complete": "true"}, empty)
	if code != http.StatusAccepted {
		t.Fatalf("empty import with scans:start only: %d %v", code, body)
	}
	partial := p.waitScan(t, body["id"].(string))
	if partial["complete"] != false {
		t.Errorf("an import without findings:triage is complete: %v", partial["complete"])
	}
	if d := partial["diff"].(map[string]any); d["fixed"] != float64(0) {
		t.Errorf("an empty report without findings:triage closed findings: diff %v", d)
	}

	code, body = p.upload(t, map[string]string{"scanner": "trivy", "target": image, "complete": "true"}, empty)
	if code != http.StatusAccepted {
		t.Fatalf("empty import by an analyst: %d %v", code, body)
	}
	closing := p.waitScan(t, body["id"].(string))
	if d := closing["diff"].(map[string]any); closing["complete"] != true || int(d["fixed"].(float64)) != total {
		t.Errorf("an analyst's empty complete report: complete %v, diff %v, want %d fixed", closing["complete"], d, total)
	}

	// A forbidden address, named in the upload or registered earlier.
	nmap := fixture(t, "nmap/nmap_1port.xml")
	for _, target := range []string{"169.254.169.254", "http://169.254.169.254/latest/meta-data/", "0xa9.254.169.254"} {
		code, body := p.upload(t, map[string]string{"scanner": "nmap", "target": target}, nmap)
		if code != http.StatusUnprocessableEntity {
			t.Errorf("import for %s: %d %v, want 422", target, code, body)
		}
	}
	var metadata string
	if err := p.db.InTx(ctx, adminScope, func(ctx context.Context, tx pgx.Tx) error {
		row, err := db.Q.TargetCreate(ctx, tx, dbq.TargetCreateParams{TenantID: p.tenant, Kind: "host",
			Value: "169.254.169.254:80", Host: "169.254.169.254", VerificationToken: "tok", VerificationStatus: "unverified"})
		metadata = row.ID.String()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	code, body = p.upload(t, map[string]string{"scanner": "nmap", "target_id": metadata}, nmap)
	if code != http.StatusUnprocessableEntity || !strings.Contains(body["detail"].(string), "not accepted") {
		t.Errorf("import for a registered metadata target: %d %v, want 422", code, body)
	}
}
