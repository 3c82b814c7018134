package db_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/findings"
	"github.com/secureops/secureops/internal/testutil/pgtest"
)

// BenchmarkIngest10k stores a 10 000-finding report per iteration (DefectDojo
// needs ≈ 400 s for 13k findings; the findings/s metric is the one to watch).
func BenchmarkIngest10k(b *testing.B) {
	ctx := context.Background()
	d := pgtest.New(b)
	super, err := pgx.Connect(ctx, d.SuperDSN)
	if err != nil {
		b.Fatal(err)
	}
	defer super.Close(ctx)
	var tenant uuid.UUID
	if err := super.QueryRow(ctx, "INSERT INTO tenants (slug, name) VALUES ('bench', 'Bench') RETURNING id").Scan(&tenant); err != nil {
		b.Fatal(err)
	}
	const n = 10000
	batch := make([]findings.Finding, n)
	for i := range batch {
		batch[i] = findings.Finding{
			Title: fmt.Sprintf("CVE-2024-%05d in libfoo", i), Severity: findings.SeverityHigh,
			CVEs: []string{fmt.Sprintf("CVE-2024-%05d", i)}, Component: "libfoo", ComponentVersion: "1.2.3",
			Target: "registry.example/app:1.0", Scanner: "trivy", Description: "A vulnerability in libfoo.",
		}
	}
	app := d.OpenApp(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		scan := seedScanTB(b, super, tenant)
		b.StartTimer()
		err := app.InTx(ctx, db.TenantScope(tenant), func(ctx context.Context, tx pgx.Tx) error {
			_, err := db.IngestFindings(ctx, tx, db.IngestBatch{TenantID: tenant, ScanID: scan, Scanner: "trivy", ScanTarget: "image:registry.example/app:1.0", Findings: batch})
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "findings/s")
}
