// Package pgcluster creates and runs a throwaway or long-lived local PostgreSQL
// cluster for `secureops dev` and the tests, from the machine's own PostgreSQL
// binaries. Production never uses it: there DATABASE_URL points at a real server.
package pgcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/devlock"
)

// Cluster is a running local PostgreSQL server owned by this process.
type Cluster struct {
	Dir    string
	Port   int
	bin    string
	asUser string // non-empty when commands must run as the postgres system user
	log    *slog.Logger
	lock   *devlock.Lock
}

// SuperUser is the bootstrap superuser initdb creates; it owns the databases
// and runs migrations, as the owner role would in production.
const SuperUser = "postgres"

// FindBinDir locates initdb and pg_ctl: PATH first, then Debian's layout.
func FindBinDir() (string, error) {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		dir := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, nil
		}
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	sort.Slice(matches, func(i, j int) bool { return pgVersion(matches[i]) > pgVersion(matches[j]) })
	if len(matches) > 0 {
		return filepath.Dir(matches[0]), nil
	}
	return "", errors.New("PostgreSQL server binaries not found (apt-get install postgresql, or set DATABASE_URL)")
}

func pgVersion(p string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(p))))
	return v
}

// Start initialises dir when it holds no cluster yet, then starts the server on
// a free loopback port and waits until it accepts connections. Only TCP on
// 127.0.0.1 is enabled: no unix socket path length limits, nothing reachable
// from outside the machine.
//
// The cluster is owned through a lock beside dir (dir + ".lock"): a second
// Start on the same dir while the first owner lives fails. When the previous
// owner died without stopping its server (SIGKILL: pg_ctl detaches the
// postmaster, so it outlives us), Start stops that orphan first, recognised
// by the postmaster.pid in dir naming a live postgres working in dir; a
// server in any other directory is never touched.
func Start(ctx context.Context, dir string, log *slog.Logger) (*Cluster, error) {
	if log == nil {
		log = slog.Default()
	}
	bin, err := FindBinDir()
	if err != nil {
		return nil, err
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: dir, bin: bin, log: log}
	// initdb refuses to run as root; the cluster then belongs to the postgres user.
	if os.Geteuid() == 0 {
		if _, err := user.Lookup("postgres"); err != nil {
			return nil, fmt.Errorf("running as root needs the 'postgres' system user for initdb: %w", err)
		}
		c.asUser = "postgres"
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if c.asUser != "" {
		if err := c.chown(dir); err != nil {
			return nil, err
		}
	}
	if c.lock, err = devlock.Acquire(dir + ".lock"); err != nil {
		return nil, fmt.Errorf("PostgreSQL cluster %s is in use: %w", dir, err)
	}
	started := false
	defer func() {
		if !started {
			c.lock.Release()
		}
	}()
	if err := c.stopOrphan(ctx); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		log.Info("initialising PostgreSQL cluster", "dir", dir)
		if out, err := c.run(ctx, "initdb", "-D", dir, "-A", "trust", "-U", SuperUser, "-E", "UTF8", "--no-sync", "--locale=C"); err != nil {
			return nil, fmt.Errorf("initdb: %w: %s", err, out)
		}
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	c.Port = port
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -c unix_socket_directories='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200", port)
	logFile := filepath.Join(dir, "server.log")
	if out, err := c.run(ctx, "pg_ctl", "-D", dir, "-o", opts, "-l", logFile, "-w", "-t", "60", "start"); err != nil {
		tail, _ := os.ReadFile(logFile)
		return nil, fmt.Errorf("pg_ctl start: %w: %s\n%s", err, out, lastLines(tail, 20))
	}
	if err := c.waitReady(ctx); err != nil {
		_ = c.Stop()
		return nil, err
	}
	log.Info("PostgreSQL started", "dir", dir, "port", port)
	started = true
	return c, nil
}

// stopOrphan stops the server a dead owner left running in c.Dir. The caller
// holds the directory's lock, so a live postmaster there has no live owner.
// A postmaster.pid naming a dead process, or a PID now reused by something
// else, is stale: PostgreSQL itself overwrites the first kind, and we remove
// the second, which it would refuse ("is another postmaster running?").
func (c *Cluster) stopOrphan(ctx context.Context) error {
	pidFile := filepath.Join(c.Dir, "postmaster.pid")
	b, err := os.ReadFile(pidFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if pid <= 0 {
		return nil
	}
	if !devlock.ProcessIn(pid, "postgres", c.Dir) {
		if syscall.Kill(pid, 0) == nil && runtime.GOOS == "linux" {
			c.log.Warn("removing a stale postmaster.pid whose PID now belongs to another process", "dir", c.Dir, "pid", pid)
			return os.Remove(pidFile)
		}
		return nil
	}
	c.log.Warn("stopping the PostgreSQL server a previous run left behind", "dir", c.Dir, "pid", pid)
	if out, err := c.run(ctx, "pg_ctl", "-D", c.Dir, "-m", "fast", "-w", "-t", "60", "stop"); err != nil {
		return fmt.Errorf("stopping the orphaned PostgreSQL server (pid %d) in %s: %w: %s", pid, c.Dir, err, out)
	}
	return nil
}

// DSN returns a connection string for database db as role user.
func (c *Cluster) DSN(db, user string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", user, c.Port, db)
}

// EnsureDatabase creates db when it does not exist yet.
func (c *Cluster) EnsureDatabase(ctx context.Context, db string) error {
	conn, err := pgx.Connect(ctx, c.DSN("postgres", SuperUser))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", db).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{db}.Sanitize())
	return err
}

// Stop shuts the server down (fast mode: open sessions are cut off) and
// releases the directory.
func (c *Cluster) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	defer c.lock.Release()
	if out, err := c.run(ctx, "pg_ctl", "-D", c.Dir, "-m", "fast", "-w", "stop"); err != nil {
		return fmt.Errorf("pg_ctl stop: %w: %s", err, out)
	}
	c.log.Info("PostgreSQL stopped", "dir", c.Dir)
	return nil
}

// RestartImmediate kills the server without a clean shutdown (as a crash or
// an OOM kill would: recovery replays the WAL on start) and starts it again
// on the same port. `make chaos` restarts PostgreSQL under a running ingest.
func (c *Cluster) RestartImmediate(ctx context.Context) error {
	logFile := filepath.Join(c.Dir, "server.log")
	if out, err := c.run(ctx, "pg_ctl", "-D", c.Dir, "-l", logFile, "-m", "immediate", "-w", "-t", "60", "restart"); err != nil {
		return fmt.Errorf("pg_ctl restart: %w: %s", err, out)
	}
	return c.waitReady(ctx)
}

func (c *Cluster) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := pgx.Connect(ctx, c.DSN("postgres", SuperUser))
		if err == nil {
			_ = conn.Close(ctx)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres did not accept connections: %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (c *Cluster) run(ctx context.Context, tool string, args ...string) ([]byte, error) {
	path := filepath.Join(c.bin, tool)
	var cmd *exec.Cmd
	if c.asUser != "" {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", c.asUser, "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	// The server must outlive a Ctrl-C delivered to our process group, so that
	// we can stop it cleanly ourselves rather than have it die mid-write.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Dir = os.TempDir()
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	return out.Bytes(), err
}

func (c *Cluster) chown(dir string) error {
	u, err := user.Lookup(c.asUser)
	if err != nil {
		return err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

// FreePort asks the kernel for an unused loopback TCP port.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
