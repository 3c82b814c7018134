// Package pgtest gives tests a fresh, migrated database on a real PostgreSQL:
// the cluster `make test` started (TEST_DATABASE_URL, a superuser DSN), or
// else a throwaway cluster this test binary starts itself.
package pgtest

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/config"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/pgcluster"
)

var (
	once     sync.Once
	adminDSN string
	cluster  *pgcluster.Cluster
	tmpDir   string
	setupErr error
	seq      atomic.Int64
)

// Main runs the package's tests and stops a cluster the package started.
// Use it from TestMain: func TestMain(m *testing.M) { pgtest.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	if cluster != nil {
		_ = cluster.Stop()
		_ = os.RemoveAll(tmpDir)
	}
	os.Exit(code)
}

func setup() {
	if v := os.Getenv("TEST_DATABASE_URL"); v != "" {
		adminDSN = v
		return
	}
	if _, err := pgcluster.FindBinDir(); err != nil {
		setupErr = err
		return
	}
	// /tmp, not t.TempDir(): the postgres system user must be able to reach it.
	tmpDir, setupErr = os.MkdirTemp("", "secureops-pgtest-")
	if setupErr != nil {
		return
	}
	_ = os.Chmod(tmpDir, 0o755)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cluster, setupErr = pgcluster.Start(ctx, tmpDir+"/pg", slog.New(slog.DiscardHandler))
	if setupErr == nil {
		adminDSN = cluster.DSN("postgres", pgcluster.SuperUser)
	}
}

// Database is a migrated database for one test.
type Database struct {
	// OwnerDSN is the migrations' role: owns the database, no superuser, no
	// BYPASSRLS, as in production.
	OwnerDSN string
	// AppDSN is secureops_app, what the API and workers use.
	AppDSN string
	// SuperDSN is the cluster superuser on this database, for seeding and
	// inspecting rows behind RLS in tests.
	SuperDSN string
	Name     string
}

// OwnerRole is the non-superuser role tests migrate as.
const OwnerRole = "secureops_owner"

// New creates and migrates a database that is dropped when the test ends.
// Without PostgreSQL binaries or TEST_DATABASE_URL the test is skipped, except
// under CI (SECUREOPS_REQUIRE_DB=1), where that is a failure.
func New(t testing.TB) Database {
	t.Helper()
	once.Do(setup)
	if setupErr != nil {
		if os.Getenv("SECUREOPS_REQUIRE_DB") == "1" {
			t.Fatalf("no PostgreSQL for tests: %v", setupErr)
		}
		t.Skipf("no PostgreSQL for tests: %v", setupErr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := fmt.Sprintf("t_%d_%d_%s", os.Getpid(), seq.Add(1), sanitize(t.Name()))
	if len(name) > 60 {
		name = name[:60]
	}
	conn, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		t.Fatalf("connect to test cluster: %v", err)
	}
	defer conn.Close(ctx)
	// Roles are cluster-wide and packages run in parallel: tolerate the race.
	_, _ = conn.Exec(ctx, `DO $$ BEGIN
		IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '`+OwnerRole+`') THEN
			CREATE ROLE `+OwnerRole+` LOGIN CREATEROLE NOSUPERUSER NOBYPASSRLS;
		END IF; END $$`)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" OWNER "+OwnerRole); err != nil {
		t.Fatalf("create database: %v", err)
	}
	super := withDB(adminDSN, name)
	owner := withUser(super, OwnerRole)
	// The app role is created once per cluster by the superuser, as the
	// compose init script does; the owner's migration then only grants.
	_, _ = conn.Exec(ctx, `DO $$ BEGIN
		IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'secureops_app') THEN
			CREATE ROLE secureops_app LOGIN NOSUPERUSER NOBYPASSRLS;
		END IF; END $$`)
	if err := db.Migrate(ctx, owner, nil); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	app, err := config.AppDSN(owner)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, adminDSN)
		if err != nil {
			return
		}
		defer c.Close(ctx)
		_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	})
	return Database{OwnerDSN: owner, AppDSN: app, SuperDSN: super, Name: name}
}

// OpenApp opens the application-role handle on d, closed with the test.
func (d Database) OpenApp(t testing.TB) *db.DB {
	t.Helper()
	h, err := db.Open(context.Background(), d.AppDSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

func withDB(dsn, name string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn
	}
	u.Path = "/" + name
	return u.String()
}

func withUser(dsn, user string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn
	}
	u.User = url.User(user)
	return u.String()
}

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}
