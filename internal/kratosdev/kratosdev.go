// Package kratosdev runs a real Ory Kratos process for `secureops dev` and the
// tests, configured from deploy/kratos.
package kratosdev

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/secureops/secureops/deploy/kratos"
	"github.com/secureops/secureops/internal/devlock"
	"github.com/secureops/secureops/internal/pgcluster"
	"github.com/secureops/secureops/internal/sso"
)

// Options for Start.
type Options struct {
	Bin        string // kratos binary; "" finds it (KRATOS_BIN, ./bin/kratos up the tree, PATH)
	Dir        string // where config, schema and the SQLite file live
	PublicPort int    // 0 picks a free port
	AdminPort  int    // 0 picks a free port
	// SQLite keeps identities across restarts (dev); false uses memory
	// (tests). With SQLite, Dir is long-lived and must be owned by the caller
	// (`secureops dev` holds its data directory's lock): a Kratos found
	// running there from a dead run is killed.
	SQLite bool
	// UIURL is where the portal serves /auth/* and /app ("" keeps the
	// configuration's http://127.0.0.1:8080, and turns registration and the
	// single sign-on hooks off: no API listens there). Use the host spelling
	// the browser uses: Kratos' CSRF cookie does not cross 127.0.0.1/localhost.
	UIURL string
	// Host is how browsers spell Kratos' public address ("" is 127.0.0.1;
	// Kratos listens on 127.0.0.1 either way). WebAuthn needs a domain as
	// its relying party, so security keys work only with "localhost" here
	// and a UIURL on http://localhost too (one spelling for both: Kratos'
	// CSRF cookie is per host); kratos.yml's WebAuthn origin becomes UIURL's.
	Host string
	// OIDCProviders are the single sign-on providers (config.OIDCProviders),
	// given to Kratos as SELFSERVICE_METHODS_OIDC_CONFIG_PROVIDERS.
	OIDCProviders []sso.Provider
	Log           *slog.Logger
}

// Process is a running Kratos.
type Process struct {
	PublicURL string
	AdminURL  string
	// BrowserURL is the public API as browsers reach it (Options.Host):
	// the portal's forms post there.
	BrowserURL string
	cmd        *exec.Cmd
	done       chan struct{}
	stopOnce   sync.Once
	out        *bytes.Buffer
}

// FindBin locates the Kratos binary built by `make tools`.
func FindBin() (string, error) {
	if v := os.Getenv("KRATOS_BIN"); v != "" {
		return v, nil
	}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			p := filepath.Join(d, "bin", "kratos")
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				return p, nil
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	if p, err := exec.LookPath("kratos"); err == nil {
		return p, nil
	}
	return "", errors.New("kratos binary not found: run `make tools` (builds bin/kratos) or set KRATOS_BIN")
}

// Start writes the configuration into opts.Dir and starts Kratos, returning
// once its public API reports ready.
func Start(ctx context.Context, opts Options) (*Process, error) {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	bin := opts.Bin
	if bin == "" {
		var err error
		if bin, err = FindBin(); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, err
	}
	cfg := kratosdeploy.Config
	if opts.UIURL != "" {
		ui := []byte(strings.TrimRight(opts.UIURL, "/"))
		cfg = bytes.ReplaceAll(cfg, []byte(kratosdeploy.DefaultUIURL), ui)
		cfg = bytes.ReplaceAll(cfg, []byte(kratosdeploy.DefaultWebAuthnOrigin), ui)
	} else {
		var err error
		if cfg, err = withoutSSOHooks(cfg); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(filepath.Join(opts.Dir, "kratos.yml"), cfg, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(opts.Dir, "identity.schema.json"), kratosdeploy.IdentitySchema, 0o600); err != nil {
		return nil, err
	}
	if err := writeSSOHookBodies(opts.Dir); err != nil {
		return nil, err
	}
	oidcProviders, err := sso.KratosProviders(opts.OIDCProviders)
	if err != nil {
		return nil, err
	}
	for _, p := range []*int{&opts.PublicPort, &opts.AdminPort} {
		if *p == 0 {
			port, err := pgcluster.FreePort()
			if err != nil {
				return nil, err
			}
			*p = port
		}
	}
	dsn := "memory"
	if opts.SQLite {
		dsn = "sqlite://" + filepath.Join(opts.Dir, "kratos.sqlite") + "?_fk=true&_journal_mode=WAL"
	}
	pub := "http://127.0.0.1:" + strconv.Itoa(opts.PublicPort)
	browser := pub
	if opts.Host != "" {
		browser = "http://" + opts.Host + ":" + strconv.Itoa(opts.PublicPort)
	}
	adm := "http://127.0.0.1:" + strconv.Itoa(opts.AdminPort)
	env := append(os.Environ(),
		"DSN="+dsn,
		"SERVE_PUBLIC_PORT="+strconv.Itoa(opts.PublicPort),
		"SERVE_PUBLIC_HOST=127.0.0.1",
		"SERVE_PUBLIC_BASE_URL="+browser+"/",
		"SERVE_ADMIN_PORT="+strconv.Itoa(opts.AdminPort),
		"SERVE_ADMIN_HOST=127.0.0.1",
		"SERVE_ADMIN_BASE_URL="+adm+"/",
		"LOG_LEVEL=warning",
		"SELFSERVICE_METHODS_OIDC_CONFIG_PROVIDERS="+string(oidcProviders),
	)

	pidFile := ""
	if opts.SQLite {
		// A Kratos left running by a run that died holds the ports and the
		// SQLite file: kill it (recognised by its PID file, its name and its
		// working directory; the caller owns Dir, see Options.SQLite).
		pidFile = filepath.Join(opts.Dir, "kratos.pid")
		if pid, err := devlock.KillOrphan(pidFile, "kratos", opts.Dir); err != nil {
			return nil, err
		} else if pid != 0 {
			opts.Log.Warn("killed the Kratos a previous run left behind", "pid", pid)
		}
		mig := exec.CommandContext(ctx, bin, "migrate", "sql", "-e", "--yes", "-c", "kratos.yml")
		mig.Dir, mig.Env = opts.Dir, env
		mig.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if out, err := mig.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("kratos migrate: %w: %s", err, out)
		}
	}
	cmd := exec.Command(bin, "serve", "--dev", "--sqa-opt-out", "-c", "kratos.yml")
	cmd.Dir, cmd.Env = opts.Dir, env
	// Pdeathsig: a test binary that panics must not leave Kratos behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	out := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = &syncWriter{w: out}, &syncWriter{w: out}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start kratos: %w", err)
	}
	if pidFile != "" {
		_ = devlock.WritePID(pidFile, cmd.Process.Pid)
	}
	p := &Process{PublicURL: pub, AdminURL: adm, BrowserURL: browser, cmd: cmd, done: make(chan struct{}), out: out}
	go func() { _ = cmd.Wait(); close(p.done) }()
	if err := p.waitReady(ctx); err != nil {
		_ = p.Stop()
		return nil, fmt.Errorf("%w\n%s", err, out.String())
	}
	opts.Log.Info("Kratos started", "public", pub, "admin", adm)
	return p, nil
}

func (p *Process) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	c := &http.Client{Timeout: time.Second}
	for {
		select {
		case <-p.done:
			return errors.New("kratos exited during start")
		default:
		}
		// The admin port's ready endpoint redirects; the public one answers.
		if resp, err := c.Get(p.PublicURL + "/health/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return errors.New("kratos did not become ready within 60s")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Stop terminates Kratos (SIGTERM, then SIGKILL after 5 s).
func (p *Process) Stop() error {
	p.stopOnce.Do(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
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

// withoutSSOHooks turns registration off and drops the blocking single
// sign-on hooks (deploy/kratos/kratos.yml) of a Kratos that has no API to
// call: they would fail every sign-in.
func withoutSSOHooks(cfg []byte) ([]byte, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(cfg, &doc); err != nil {
		return nil, err
	}
	flows, _ := dig(doc, "selfservice", "flows").(map[string]any)
	if flows == nil {
		return nil, errors.New("kratos.yml: no selfservice.flows")
	}
	if reg, ok := flows["registration"].(map[string]any); ok {
		reg["enabled"] = false
		delete(reg, "after")
	}
	if after, ok := dig(flows, "login", "after").(map[string]any); ok {
		for _, m := range []string{"password", "code", "webauthn", "passkey", "oidc"} {
			delete(after, m)
		}
	}
	return yaml.Marshal(doc)
}

func dig(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

// writeSSOHookBodies puts the single sign-on hooks' Jsonnet bodies beside
// kratos.yml (which names them file://./sso-*.jsonnet).
func writeSSOHookBodies(dir string) error {
	entries, err := fs.ReadDir(kratosdeploy.SSOHookBodies, ".")
	if err != nil {
		return err
	}
	for _, e := range entries {
		b, err := kratosdeploy.SSOHookBodies.ReadFile(e.Name())
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}
