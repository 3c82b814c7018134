package db

import (
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Option adjusts how Open and Migrate connect.
type Option func(*options)

type options struct {
	password string
	maxConns int32
}

// WithPassword sets the role's password apart from the URL (so it needs no
// percent-encoding); empty keeps the URL's own, or libpq's PGPASSWORD.
func WithPassword(pw string) Option { return func(o *options) { o.password = pw } }

// WithMaxConns caps the pool unless the URL names pool_max_conns itself;
// zero keeps pgx's default.
func WithMaxConns(n int) Option { return func(o *options) { o.maxConns = int32(n) } }

// PoolConfig is the pool Open builds for dsn and opts.
func PoolConfig(dsn string, opts ...Option) (*pgxpool.Config, error) {
	var o options
	for _, f := range opts {
		f(&o)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	cfg.MaxConnIdleTime = 5 * time.Minute
	if o.password != "" {
		cfg.ConnConfig.Password = o.password
	}
	if o.maxConns > 0 && !strings.Contains(dsn, "pool_max_conns") {
		cfg.MaxConns = o.maxConns
		cfg.MinConns = min(cfg.MinConns, cfg.MaxConns)
	}
	return cfg, nil
}
