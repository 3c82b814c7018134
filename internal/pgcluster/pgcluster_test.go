package pgcluster

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/devlock"
)

// helperEnv makes the test binary, re-invoked by TestRestartAfterOwnerKilled,
// play a `secureops dev` that owns a cluster and then dies.
const helperEnv = "PGCLUSTER_TEST_OWNER_DIR"

func TestHelperOwner(t *testing.T) {
	dir := os.Getenv(helperEnv)
	if dir == "" {
		t.Skip("helper process for TestRestartAfterOwnerKilled")
	}
	c, err := Start(context.Background(), dir, slog.New(slog.DiscardHandler))
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	fmt.Println("PORT", c.Port)
	time.Sleep(time.Hour) // until SIGKILL
}

// SIGKILL of the owner leaves its postmaster running (pg_ctl detaches it).
// While the owner lives, nobody else may take the cluster; once it is dead,
// the next Start stops the orphan and comes up on the same data.
func TestRestartAfterOwnerKilled(t *testing.T) {
	if _, err := FindBinDir(); err != nil {
		if os.Getenv("SECUREOPS_REQUIRE_DB") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	dir := clusterDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	owner := exec.Command(os.Args[0], "-test.run=^TestHelperOwner$", "-test.count=1")
	owner.Env = append(os.Environ(), helperEnv+"="+dir)
	owner.Stderr = os.Stderr
	stdout, err := owner.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := owner.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = owner.Process.Kill(); _ = owner.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "PORT ") {
		t.Fatalf("owner: %q %v", line, err)
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	oldPort, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "PORT ")))
	orphan := postmasterPID(t, dir)
	exec1(t, ctx, oldPort, "CREATE TABLE survives (x int); INSERT INTO survives VALUES (42)")

	// A live owner keeps its cluster.
	if _, err := Start(ctx, dir, nil); !errors.Is(err, devlock.ErrHeld) {
		t.Fatalf("Start beside a live owner: %v, want ErrHeld", err)
	}
	if syscall.Kill(orphan, 0) != nil {
		t.Fatal("the live owner's server was touched")
	}

	if err := owner.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = owner.Wait()
	if syscall.Kill(orphan, 0) != nil {
		t.Fatal("postmaster died with its owner: the scenario this test is about did not happen")
	}

	began := time.Now()
	c, err := Start(ctx, dir, nil)
	if err != nil {
		t.Fatalf("Start after the owner's SIGKILL: %v", err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	t.Logf("restart with the orphan stopped took %v", time.Since(began).Round(time.Millisecond))
	if err := waitGone(orphan, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	var x int
	conn, err := pgx.Connect(ctx, c.DSN("postgres", SuperUser))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, "SELECT x FROM survives").Scan(&x); err != nil || x != 42 {
		t.Fatalf("data after restart: %d %v", x, err)
	}
}

// A postmaster.pid naming a live process that is not a postgres in the
// directory (a reused PID) is stale and must not stop the start.
func TestStalePIDFileOfAnotherProcess(t *testing.T) {
	if _, err := FindBinDir(); err != nil {
		t.Skip(err)
	}
	dir := clusterDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := Start(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	// Our own PID is alive and certainly not a postmaster in dir.
	pidFile := filepath.Join(dir, "postmaster.pid")
	if err := os.WriteFile(pidFile, []byte(fmt.Sprintf("%d\n%s\n", os.Getpid(), dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		_ = c.chown(dir)
	}
	c, err = Start(ctx, dir, nil)
	if err != nil {
		t.Fatalf("Start with a stale postmaster.pid: %v", err)
	}
	_ = c.Stop()
}

// clusterDir is a fresh directory the postgres user can reach when the
// tests run as root (t.TempDir's parent is private).
func clusterDir(t *testing.T) string {
	t.Helper()
	tmp, err := os.MkdirTemp("", "pgcluster-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(tmp) })
	if err := os.Chmod(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(tmp, "pg")
}

func postmasterPID(t *testing.T, dir string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.SplitN(string(b), "\n", 2)[0])
	return pid
}

func exec1(t *testing.T, ctx context.Context, port int, sql string) {
	t.Helper()
	conn, err := pgx.Connect(ctx, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatal(err)
	}
}

func waitGone(pid int, d time.Duration) error {
	deadline := time.Now().Add(d)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			return fmt.Errorf("orphaned postmaster %d still running", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}
