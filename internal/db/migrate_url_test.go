package db_test

import (
	"context"
	"database/sql"
	"io/fs"
	"testing"

	"github.com/google/uuid"
	"github.com/pressly/goose/v3"

	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/targets"
	"github.com/secureops/secureops/internal/testutil/pgtest"
	sqlfiles "github.com/secureops/secureops/sql"
)

// URL targets stored before default ports were dropped are rewritten to the
// spelling targets.Parse gives now, with their scans and findings; a target
// whose new spelling exists already keeps its old one, and so do its rows.
func TestMigrationRewritesURLDefaultPorts(t *testing.T) {
	ctx := context.Background()
	d := pgtest.New(t)
	sqlDB, err := sql.Open("pgx", d.OwnerDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer sqlDB.Close()
	schema, _ := fs.Sub(sqlfiles.Migrations, "schema")
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, schema)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(ctx, 12); err != nil {
		t.Fatal(err)
	}
	super := ownerConn(t, d.SuperDSN)
	tenant := seedTenant(t, super, "urls")
	old := map[string]string{ // stored spelling → what it must become
		"https://app.example:443/":       "",
		"https://app.example:0443/login": "",
		"http://app.example:80/x?y=1":    "",
		"https://[2001:db8::1]:443/":     "",
		"http://app.example:08080/":      "",
		"https://app.example:8443/":      "", // unchanged
	}
	for v := range old {
		tg, err := targets.Parse(v)
		if err != nil {
			t.Fatal(v, err)
		}
		old[v] = tg.String()
	}
	type row struct{ target, scan uuid.UUID }
	rows := map[string]row{}
	for v := range old {
		var r row
		if err := super.QueryRow(ctx, `INSERT INTO targets (tenant_id, kind, value, host, verification_token) VALUES ($1, 'url', $2, 'app.example', 't') RETURNING id`,
			tenant, v).Scan(&r.target); err != nil {
			t.Fatal(err)
		}
		r.scan = uuid.New()
		if _, err := super.Exec(ctx, `INSERT INTO scans (id, tenant_id, target, scanners, workflow_id, target_id) VALUES ($1, $2, $3, '{secureops}', 'w', $4)`,
			r.scan, tenant, v, r.target); err != nil {
			t.Fatal(err)
		}
		if _, err := super.Exec(ctx, `INSERT INTO findings (tenant_id, fingerprint, title, severity, scanner, scan_target) VALUES ($1, $2, 't', 'low', 'secureops', $3)`,
			tenant, "fp-"+v, v); err != nil {
			t.Fatal(err)
		}
		rows[v] = r
	}
	// Both spellings registered: the old one stays, as do its scans and findings.
	const dupOld, dupNew = "https://dup.example:443/", "https://dup.example/"
	var dupID uuid.UUID
	for _, v := range []string{dupOld, dupNew} {
		if err := super.QueryRow(ctx, `INSERT INTO targets (tenant_id, kind, value, host, verification_token) VALUES ($1, 'url', $2, 'dup.example', 't') RETURNING id`,
			tenant, v).Scan(&dupID); err != nil {
			t.Fatal(err)
		}
		if v == dupOld {
			if _, err := super.Exec(ctx, `INSERT INTO findings (tenant_id, fingerprint, title, severity, scanner, scan_target) VALUES ($1, 'fp-dup', 't', 'low', 'secureops', $2)`, tenant, v); err != nil {
				t.Fatal(err)
			}
		}
	}

	if err := db.Migrate(ctx, d.OwnerDSN, nil); err != nil {
		t.Fatal(err)
	}
	for v, want := range old {
		var target, scanTarget, findingTarget string
		if err := super.QueryRow(ctx, `SELECT t.value, s.target, f.scan_target FROM targets t, scans s, findings f
			WHERE t.id = $1 AND s.id = $2 AND f.fingerprint = $3`, rows[v].target, rows[v].scan, "fp-"+v).Scan(&target, &scanTarget, &findingTarget); err != nil {
			t.Fatal(err)
		}
		if target != want || scanTarget != want || findingTarget != want {
			t.Errorf("%s became target %q, scan %q, finding %q; want %q", v, target, scanTarget, findingTarget, want)
		}
	}
	var dupTargets int
	var dupFinding string
	if err := super.QueryRow(ctx, `SELECT (SELECT count(*) FROM targets WHERE value IN ($1, $2)), (SELECT scan_target FROM findings WHERE fingerprint = 'fp-dup')`,
		dupOld, dupNew).Scan(&dupTargets, &dupFinding); err != nil {
		t.Fatal(err)
	}
	if dupTargets != 2 || dupFinding != dupOld {
		t.Errorf("with both spellings registered: %d targets, finding scope %q; want both kept and %q", dupTargets, dupFinding, dupOld)
	}
}
