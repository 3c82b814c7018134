package db

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib" // database/sql driver for goose
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/secureops/secureops/internal/findings"
	sqlfiles "github.com/secureops/secureops/sql"
)

// Migrate applies every pending migration embedded in the binary, as the owner
// role. It is safe to run concurrently from several processes: goose takes a
// Postgres advisory lock.
func Migrate(ctx context.Context, ownerDSN string, log *slog.Logger, opts ...Option) error {
	cfg, err := PoolConfig(ownerDSN, opts...)
	if err != nil {
		return err
	}
	sqlDB := stdlib.OpenDB(*cfg.ConnConfig)
	defer sqlDB.Close()
	schema, err := fs.Sub(sqlfiles.Migrations, "schema")
	if err != nil {
		return err
	}
	locker, err := newLocker()
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, schema, goose.WithSessionLocker(locker))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate up: %w", err)
	}
	for _, r := range results {
		if log != nil {
			log.Info("migration applied", "version", r.Source.Version, "file", r.Source.Path, "duration", r.Duration)
		}
	}
	// The data side of the canonical keys: stored findings follow the
	// current map (a no-op once this version of it was applied).
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig) // with the password options
	if err != nil {
		return fmt.Errorf("merge findings: %w", err)
	}
	defer conn.Close(ctx)
	n, err := MergeCanonical(ctx, conn)
	if err != nil {
		return fmt.Errorf("merge findings: %w", err)
	}
	if n > 0 && log != nil {
		log.Info("findings merged under the canonical keys", "merged", n, "version", findings.CanonVersion)
	}
	return nil
}

func newLocker() (lock.SessionLocker, error) {
	return lock.NewPostgresSessionLocker()
}
