// Package devlock lets a local process own a directory (PostgreSQL's data
// directory, `secureops dev`'s .data) and recognise, after a crash, the
// helpers a dead owner left running there. It is for dev and tests on one
// machine; production never uses it.
//
// Ownership is an flock(2) on a lock file: the kernel drops it when the owner
// dies, however it dies (SIGKILL included), so a held lock always means a live
// owner and a free lock means any helper still running in the directory is an
// orphan.
package devlock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ErrHeld is returned by Acquire when a live process holds the lock.
var ErrHeld = errors.New("held by another live process")

// Lock is an acquired lock; Release it when done (process exit releases it too).
type Lock struct {
	f *os.File
}

// Acquire takes the exclusive lock at path without waiting. The file records
// the owner's PID for the error message of the next process that tries.
// Go opens files close-on-exec, so a child (pg_ctl, postgres, Kratos) never
// inherits the lock and an orphan can never keep it held.
func Acquire(path string) (*Lock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		owner, _ := os.ReadFile(path)
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w (pid %s)", path, ErrHeld, strings.TrimSpace(string(owner)))
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return &Lock{f: f}, nil
}

// Release drops the lock. Safe on nil and more than once.
func (l *Lock) Release() {
	if l == nil || l.f == nil {
		return
	}
	_ = l.f.Close()
	l.f = nil
}

// ProcessIn reports whether pid is a live process named name (its
// /proc/<pid>/comm, "" for any) whose working directory is dir. Daemons such
// as the postmaster chdir into their data directory and Kratos is started in
// its own, so the pair names a process as one of ours; a PID reused by an
// unrelated process does not match. Only Linux has /proc: elsewhere it
// reports false, and callers leave the process alone.
func ProcessIn(pid int, name, dir string) bool {
	if pid <= 0 {
		return false
	}
	proc := "/proc/" + strconv.Itoa(pid)
	cwd, err := os.Readlink(proc + "/cwd")
	if err != nil {
		return false
	}
	want, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	if real, err := filepath.EvalSymlinks(want); err == nil {
		want = real
	}
	if filepath.Clean(cwd) != filepath.Clean(want) {
		return false
	}
	if name == "" {
		return true
	}
	comm, err := os.ReadFile(proc + "/comm")
	return err == nil && strings.TrimSpace(string(comm)) == name
}

// WritePID records a child's PID in path so that a later run can find it
// if this process dies without stopping it.
func WritePID(path string, pid int) error {
	return os.WriteFile(path, []byte(strconv.Itoa(pid)+"\n"), 0o600)
}

// KillOrphan kills the process recorded in pidFile when it is still alive,
// named name and working in dir (see ProcessIn), then removes the file. The
// caller must hold the lock of the directory: only then is a match an orphan
// of a dead run rather than a sibling's live child. It reports the PID it
// killed (0 if none).
func KillOrphan(pidFile, name, dir string) (int, error) {
	b, err := os.ReadFile(pidFile)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	} else if err != nil {
		return 0, err
	}
	defer os.Remove(pidFile)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if !ProcessIn(pid, name, dir) {
		return 0, nil
	}
	// Its own process group first (our children are started with Setpgid),
	// then the process itself in case it is not a group leader.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return 0, fmt.Errorf("kill orphan %d: %w", pid, err)
	}
	return pid, nil
}
