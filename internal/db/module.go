package db

import (
	"context"

	"go.uber.org/fx"

	"github.com/secureops/secureops/internal/config"
)

// Module provides the application-role *DB and closes it on stop.
var Module = fx.Module("db",
	fx.Provide(func(lc fx.Lifecycle, c config.Config) (*DB, error) {
		if err := c.RequireDatabase(); err != nil {
			return nil, err
		}
		d, err := Open(context.Background(), c.AppDatabaseURL, WithPassword(c.AppDatabasePassword), WithMaxConns(c.DBPoolMaxConns))
		if err != nil {
			return nil, err
		}
		lc.Append(fx.StopHook(d.Close))
		return d, nil
	}),
)
