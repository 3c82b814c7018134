package db_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/secureops/secureops/internal/config"
	"github.com/secureops/secureops/internal/db"
)

// login is what a client sent a server that asked for a password.
type login struct{ user, password string }

// passwordServer is a PostgreSQL server that asks every client for a
// cleartext password, records it with the user and refuses the login: the
// test cluster trusts every local connection, so only this shows which
// password travelled.
func passwordServer(t *testing.T) (addr string, logins <-chan login) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan login, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				be := pgproto3.NewBackend(c, c)
				msg, err := be.ReceiveStartupMessage()
				if err != nil {
					return
				}
				if _, ok := msg.(*pgproto3.SSLRequest); ok {
					_, _ = c.Write([]byte{'N'})
					if msg, err = be.ReceiveStartupMessage(); err != nil {
						return
					}
				}
				sm, ok := msg.(*pgproto3.StartupMessage)
				if !ok {
					return
				}
				be.Send(&pgproto3.AuthenticationCleartextPassword{})
				if be.Flush() != nil {
					return
				}
				be.SetAuthType(pgproto3.AuthTypeCleartextPassword)
				m, err := be.Receive()
				if err != nil {
					return
				}
				if pm, ok := m.(*pgproto3.PasswordMessage); ok {
					ch <- login{sm.Parameters["user"], pm.Password}
				}
				be.Send(&pgproto3.ErrorResponse{Severity: "FATAL", Code: "28P01", Message: "recorded"})
				_ = be.Flush()
			}()
		}
	}()
	return ln.Addr().String(), ch
}

func next(t *testing.T, logins <-chan login) login {
	t.Helper()
	select {
	case l := <-logins:
		return l
	case <-time.After(10 * time.Second):
		t.Fatal("no login reached the server")
		return login{}
	}
}

// Issue 17 item 5: generated passwords with / + = travel apart from the URL
// (a password file or APP_DATABASE_PASSWORD) and reach the server intact,
// for the API's pool (the derived secureops_app URL) and for migrate; a URL
// with such a password spliced in unencoded says what to do instead.
func TestPasswordsApartFromTheURL(t *testing.T) {
	addr, logins := passwordServer(t)
	const ownerPW, appPW = "Zx/9+k=Q/w+==", "a/b+c=d@e:f?g#h"
	dir := t.TempDir()
	file := filepath.Join(dir, "owner-password")
	if err := os.WriteFile(file, []byte(ownerPW+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"APP_DATABASE_URL", "APP_DATABASE_PASSWORD_FILE", "DATABASE_PASSWORD", "PGPASSWORD", "DB_POOL_MAX_CONNS"} {
		t.Setenv(k, "")
	}
	t.Setenv("SECUREOPS_ENV", "test")
	t.Setenv("DATABASE_URL", "postgres://secureops@"+addr+"/secureops?sslmode=disable&connect_timeout=5")
	t.Setenv("DATABASE_PASSWORD_FILE", file)
	t.Setenv("APP_DATABASE_PASSWORD", appPW)
	cfg, err := config.FromEnv(config.ModeProduction)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(cfg.AppDatabaseURL, appPW) || strings.Contains(cfg.AppDatabaseURL, "%2F") {
		t.Errorf("the app password was spliced into %s", cfg.AppDatabaseURL)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	if err := db.Migrate(ctx, cfg.DatabaseURL, nil, db.WithPassword(cfg.DatabasePassword)); err == nil {
		t.Fatal("migrate logged in to a server that refuses everyone")
	}
	if l := next(t, logins); l != (login{"secureops", ownerPW}) {
		t.Errorf("migrate sent %+v, want user secureops with the file's password %q", l, ownerPW)
	}

	d, err := db.Open(ctx, cfg.AppDatabaseURL, db.WithPassword(cfg.AppDatabasePassword), db.WithMaxConns(cfg.DBPoolMaxConns))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Ping(ctx); err == nil {
		t.Fatal("the pool logged in to a server that refuses everyone")
	}
	if l := next(t, logins); l != (login{config.AppRole, appPW}) {
		t.Errorf("the API's pool sent %+v, want %s with %q", l, config.AppRole, appPW)
	}

	// PGPASSWORD (libpq's variable, read by pgx) when nothing else is set.
	t.Setenv("PGPASSWORD", appPW)
	d2, err := db.Open(ctx, "postgres://secureops_app@"+addr+"/secureops?sslmode=disable&connect_timeout=5")
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	_ = d2.Ping(ctx)
	if l := next(t, logins); l.password != appPW {
		t.Errorf("PGPASSWORD: sent %q, want %q", l.password, appPW)
	}

	// Spliced in unencoded: an error naming the cause and the way out,
	// without the password.
	t.Setenv("DATABASE_URL", "postgres://secureops:"+ownerPW+"@db:5432/secureops")
	_, err = config.FromEnv(config.ModeProduction)
	if err == nil || !strings.Contains(err.Error(), "DATABASE_PASSWORD_FILE") || strings.Contains(err.Error(), ownerPW) {
		t.Errorf("unencoded password in DATABASE_URL: %v; want advice naming DATABASE_PASSWORD_FILE, without the password", err)
	}
}

// Issue 17 item 4: a process's pool is DB_POOL_MAX_CONNS (default 10, not
// the host's cores) unless the URL names pool_max_conns.
func TestPoolMaxConns(t *testing.T) {
	const dsn = "postgres://secureops_app@db:5432/secureops"
	t.Setenv("DB_POOL_MAX_CONNS", "")
	cfg, err := config.FromEnv(config.ModeTest)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		dsn  string
		max  int
		want int32
	}{
		{dsn, cfg.DBPoolMaxConns, config.DefaultDBPoolMaxConns},
		{dsn, 3, 3},
		{dsn + "?pool_max_conns=7", 3, 7},
	} {
		pc, err := db.PoolConfig(c.dsn, db.WithMaxConns(c.max))
		if err != nil {
			t.Fatal(err)
		}
		if pc.MaxConns != c.want {
			t.Errorf("%s with max %d: pool of %d, want %d", c.dsn, c.max, pc.MaxConns, c.want)
		}
	}
	t.Setenv("DB_POOL_MAX_CONNS", "25")
	if cfg, err = config.FromEnv(config.ModeTest); err != nil || cfg.DBPoolMaxConns != 25 {
		t.Errorf("DB_POOL_MAX_CONNS=25: %d, %v", cfg.DBPoolMaxConns, err)
	}
	t.Setenv("DB_POOL_MAX_CONNS", "0")
	if _, err = config.FromEnv(config.ModeTest); err == nil {
		t.Error("DB_POOL_MAX_CONNS=0 accepted")
	}
}
