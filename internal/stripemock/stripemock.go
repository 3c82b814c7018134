// Package stripemock runs stripe-mock (the official Stripe API mock, built
// into bin/ by `make tools`) for `secureops dev` and the tests. It is
// stateless: it validates requests against Stripe's OpenAPI and answers
// fixtures, so state machines are ours to test.
package stripemock

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/secureops/secureops/internal/devlock"
	"github.com/secureops/secureops/internal/pgcluster"
)

// Version is the pinned stripe-mock (the Makefile installs the same).
const Version = "v0.185.0"

// FindBin locates stripe-mock: STRIPE_MOCK_BIN, ./bin up the tree, PATH.
func FindBin() (string, error) {
	if v := os.Getenv("STRIPE_MOCK_BIN"); v != "" {
		return v, nil
	}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			p := filepath.Join(d, "bin", "stripe-mock")
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				return p, nil
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	if p, err := exec.LookPath("stripe-mock"); err == nil {
		return p, nil
	}
	return "", errors.New("stripe-mock not found: run `make tools` (installs bin/stripe-mock " + Version + ") or set STRIPE_MOCK_BIN")
}

// Options for Start.
type Options struct {
	Bin       string // "" finds it
	HTTPPort  int    // 0 picks a free port
	HTTPSPort int    // 0 picks a free port
	// Dir, when set, is where it runs and records its PID, so that a run
	// which died without stopping it has it killed by the next. The caller
	// must own Dir (`secureops dev` holds the lock of its data directory).
	Dir string
}

// Process is a running stripe-mock.
type Process struct {
	// URL is the plain HTTP base URL (STRIPE_API_BASE).
	URL      string
	cmd      *exec.Cmd
	done     chan struct{}
	stopOnce sync.Once
	out      *bytes.Buffer
}

// Start runs stripe-mock on loopback. Both addresses are given: with only
// one, stripe-mock also listens on every interface.
func Start(ctx context.Context, o Options) (*Process, error) {
	bin := o.Bin
	if bin == "" {
		var err error
		if bin, err = FindBin(); err != nil {
			return nil, err
		}
	}
	for _, p := range []*int{&o.HTTPPort, &o.HTTPSPort} {
		if *p == 0 {
			port, err := pgcluster.FreePort()
			if err != nil {
				return nil, err
			}
			*p = port
		}
	}
	httpAddr := "127.0.0.1:" + strconv.Itoa(o.HTTPPort)
	cmd := exec.Command(bin, "-http-addr", httpAddr, "-https-addr", "127.0.0.1:"+strconv.Itoa(o.HTTPSPort))
	// Pdeathsig: it dies with us. Should it survive anyway (a platform
	// without Pdeathsig), the PID file in Dir lets the next run kill it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	pidFile := ""
	if o.Dir != "" {
		if err := os.MkdirAll(o.Dir, 0o700); err != nil {
			return nil, err
		}
		pidFile = filepath.Join(o.Dir, "stripe-mock.pid")
		if _, err := devlock.KillOrphan(pidFile, "stripe-mock", o.Dir); err != nil {
			return nil, err
		}
		cmd.Dir = o.Dir
	}
	out := &bytes.Buffer{}
	w := &syncWriter{w: out}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start stripe-mock: %w", err)
	}
	if pidFile != "" {
		_ = devlock.WritePID(pidFile, cmd.Process.Pid)
	}
	p := &Process{URL: "http://" + httpAddr, cmd: cmd, done: make(chan struct{}), out: out}
	go func() { _ = cmd.Wait(); close(p.done) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", httpAddr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return p, nil
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("stripe-mock exited during start: %s", w.String())
		case <-ctx.Done():
			_ = p.Stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = p.Stop()
			return nil, fmt.Errorf("stripe-mock not listening on %s after 30s: %s", httpAddr, w.String())
		}
	}
}

// Stop terminates stripe-mock.
func (p *Process) Stop() error {
	p.stopOnce.Do(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(3 * time.Second):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	})
	return nil
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w.Len() > 1<<20 {
		return len(b), nil
	}
	return s.w.Write(b)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.String()
}
