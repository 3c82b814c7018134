// Package db owns the connection pool and the only way to use it: a
// transaction scoped to a set of tenants. Row-level security reads that scope,
// so code holding a *DB cannot reach rows of a tenant it was not scoped to, and
// there is no exported way to get an unscoped connection.
package db

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/domainerr"
)

// Q is the sqlc query set; every method takes the transaction as its DBTX.
var Q = dbq.New()

// ErrNoScope is returned when a caller asks for a transaction without saying
// whose data it may touch.
var ErrNoScope = errors.New("db: transaction without tenant scope")

// ErrNotFound is what a scoped lookup of a missing (or foreign) row returns
// once it has left a transaction (InTx, Auth): a domain error that still
// matches pgx.ErrNoRows with errors.Is.
var ErrNotFound = domainerr.ErrNotFound

// interpretError is the db edge: driver errors leave this package as domain
// errors (not found, conflict, invalid), so no caller reads Postgres codes.
// Errors that are already domain errors, and any other error, pass unchanged;
// the cause stays in the chain for logs and errors.Is.
func interpretError(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := domainerr.As(err); ok {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return domainerr.Wrap(domainerr.NotFound, domainerr.ErrNotFound.Detail, err)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		if de := domainerr.FromPostgres(pe.Code, err); de != nil {
			return de
		}
	}
	return err
}

// Scope is the set of tenants a transaction may see; the caller's tenant and
// its descendants. PlatformAdmin switches to the admin policy, which is
// explicit and audited rather than a BYPASSRLS role.
type Scope struct {
	TenantIDs     []uuid.UUID
	PlatformAdmin bool
	// UserID lets a user read their own users row whatever the tenant scope.
	UserID uuid.UUID
}

// TenantScope is the scope of exactly one tenant.
func TenantScope(id uuid.UUID) Scope { return Scope{TenantIDs: []uuid.UUID{id}} }

func (s Scope) valid() bool { return s.PlatformAdmin || len(s.TenantIDs) > 0 }

func (s Scope) array() string {
	parts := make([]string, len(s.TenantIDs))
	for i, id := range s.TenantIDs {
		parts[i] = id.String()
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// DB is the application's database handle.
type DB struct {
	pool *pgxpool.Pool
}

// Open connects to dsn (the secureops_app role in every process but migrate).
func Open(ctx context.Context, dsn string, opts ...Option) (*DB, error) {
	cfg, err := PoolConfig(dsn, opts...)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &DB{pool: pool}, nil
}

// Close releases every connection.
func (d *DB) Close() { d.pool.Close() }

// Ping checks that the database answers; used by /readyz.
func (d *DB) Ping(ctx context.Context) error { return d.pool.Ping(ctx) }

// InTx runs fn in a transaction whose tenant scope is set with
// set_config(…, true), so it ends with the transaction and cannot leak into the
// next user of the pooled connection. fn's error rolls the transaction back.
func (d *DB) InTx(ctx context.Context, scope Scope, fn func(ctx context.Context, tx pgx.Tx) error) error {
	if !scope.valid() {
		return ErrNoScope
	}
	return interpretError(pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		admin := ""
		if scope.PlatformAdmin {
			admin = "on"
		}
		user := ""
		if scope.UserID != uuid.Nil {
			user = scope.UserID.String()
		}
		if _, err := tx.Exec(ctx,
			"SELECT set_config('secureops.tenant_ids', $1, true), set_config('secureops.platform_admin', $2, true), set_config('secureops.user_id', $3, true)",
			scope.array(), admin, user); err != nil {
			return fmt.Errorf("set tenant scope: %w", err)
		}
		return fn(ctx, tx)
	}))
}

// Auth runs fn outside any tenant scope, for authentication only: with no
// scope set, every table policy hides every row, so fn can do nothing but call
// the SECURITY DEFINER auth functions (dbq's Auth* queries).
func (d *DB) Auth(ctx context.Context, fn func(ctx context.Context, tx pgx.Tx) error) error {
	return interpretError(pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error { return fn(ctx, tx) }))
}

// IsNotFound reports whether err means "no such row": a query's own
// pgx.ErrNoRows inside a transaction, or the domain error InTx returns.
func IsNotFound(err error) bool {
	return errors.Is(err, pgx.ErrNoRows) || domainerr.Is(err, domainerr.NotFound)
}

// IsConflict reports whether err is a unique violation (a query's own error
// inside a transaction) or a conflict InTx returned.
// Callers use it to give a conflict a name ("the slug is taken").
func IsConflict(err error) bool {
	if domainerr.Is(err, domainerr.Conflict) {
		return true
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}
