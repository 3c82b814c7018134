package devlock

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestAcquireIsExclusiveAndReleased(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dev.lock")
	l, err := Acquire(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Acquire(path); !errors.Is(err, ErrHeld) {
		t.Fatalf("second Acquire: %v, want ErrHeld", err)
	}
	l.Release()
	l2, err := Acquire(path)
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	l2.Release()
	l2.Release() // safe twice
}

// An orphan is killed only when its PID file, name and working directory
// all match; a process elsewhere with the same PID file contents is spared.
func TestKillOrphan(t *testing.T) {
	if _, err := os.Stat("/proc/self/cwd"); err != nil {
		t.Skip("no /proc")
	}
	dir, other := t.TempDir(), t.TempDir()
	start := func(in string) *exec.Cmd {
		c := exec.Command("sleep", "60")
		c.Dir = in
		c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Process.Kill(); _ = c.Wait() })
		return c
	}
	elsewhere := start(other)
	pidFile := filepath.Join(dir, "x.pid")
	if err := WritePID(pidFile, elsewhere.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if pid, err := KillOrphan(pidFile, "sleep", dir); err != nil || pid != 0 {
		t.Fatalf("a process working elsewhere: killed %d, %v", pid, err)
	}
	if syscall.Kill(elsewhere.Process.Pid, 0) != nil {
		t.Fatal("the process working elsewhere was killed")
	}

	ours := start(dir)
	_ = WritePID(pidFile, ours.Process.Pid)
	if pid, err := KillOrphan(pidFile, "kratos", dir); err != nil || pid != 0 {
		t.Fatalf("wrong name: killed %d, %v", pid, err)
	}
	_ = WritePID(pidFile, ours.Process.Pid)
	pid, err := KillOrphan(pidFile, "sleep", dir)
	if err != nil || pid != ours.Process.Pid {
		t.Fatalf("orphan: killed %d, %v", pid, err)
	}
	done := make(chan error, 1)
	go func() { done <- ours.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("orphan still running")
	}
	if _, err := os.Stat(pidFile); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("PID file left behind")
	}
}
