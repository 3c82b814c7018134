// Package devserver runs a single-process Temporal server backed by SQLite,
// plus the Temporal Web UI, for `secureops dev` and integration tests.
package devserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/server/temporal"
)

const (
	// DefaultFrontendPort and DefaultUIPort are the usual Temporal ports, for
	// callers (the dev command) that want them; the zero value of Options
	// picks free ports so tests never collide.
	DefaultFrontendPort = 7233
	DefaultUIPort       = 8233
	// NoUI as Options.UIPort disables the Web UI.
	NoUI = -1

	// defaultStartTimeout bounds Start when ctx has no deadline; a healthy
	// start takes well under a second.
	defaultStartTimeout = 30 * time.Second
	// uiStopTimeout bounds waiting for the UI's serve loop after Close.
	uiStopTimeout = 5 * time.Second
)

// Options configures Start. The zero value runs an in-memory server on free
// loopback ports with the UI enabled.
type Options struct {
	// DBFile is the SQLite file for all Temporal state; "" means in-memory (tests).
	DBFile       string
	IP           string // listen IP, default "127.0.0.1"
	FrontendPort int    // 0 = pick a free port; the dev command passes DefaultFrontendPort
	UIPort       int    // 0 = pick a free port; NoUI (-1) = no UI; the dev command passes DefaultUIPort
	Namespace    string // default "default"; always registered (retention 24h)
	// SearchAttributes are registered as custom search attributes (name -> type), e.g. TenantId, Kind, ScanTarget as Keyword.
	SearchAttributes map[string]enums.IndexedValueType
	Logger           *slog.Logger // server logs go here (slog.Default() if nil), filtered by LogLevel
	LogLevel         string       // "debug", "info", "warn" (default) or "error"
	// UICodecEndpoint, if set, is configured as the UI's remote codec endpoint (later used for an encryption codec).
	UICodecEndpoint string
}

// Server is a running dev server; Stop it when done.
type Server struct {
	namespace string
	frontend  string
	uiURL     string

	temporal temporal.Server
	ui       *uiserver.Server
	uiDone   <-chan struct{}
	logLevel *slog.LevelVar

	stopOnce sync.Once
	stopErr  error
}

// Start starts Temporal and, unless disabled, the UI. It returns once the
// frontend answers for the namespace, the search attributes are usable in
// queries, and the UI serves requests. ctx only bounds that wait (30 s if it
// has no deadline); the server runs until Stop.
func Start(ctx context.Context, opts Options) (*Server, error) {
	o := opts
	if o.IP == "" {
		o.IP = "127.0.0.1"
	}
	if o.Namespace == "" {
		o.Namespace = "default"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	level, err := parseLevel(o.LogLevel)
	if err != nil {
		return nil, err
	}
	levelVar := new(slog.LevelVar)
	levelVar.Set(level)
	logger := filteredLogger(o.Logger, levelVar)

	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultStartTimeout)
		defer cancel()
	}

	// The server reports a taken port through logger.Fatal deep inside
	// startup; checking first gives the caller a plain error instead.
	if o.FrontendPort == 0 {
		if o.FrontendPort, err = freePort(o.IP); err != nil {
			return nil, err
		}
	} else if err := checkPortFree(o.IP, o.FrontendPort); err != nil {
		return nil, err
	}
	// Likewise the UI server calls os.Exit when it cannot listen.
	switch o.UIPort {
	case NoUI:
	case 0:
		if o.UIPort, err = freePort(o.IP); err != nil {
			return nil, err
		}
	default:
		if err := checkPortFree(o.IP, o.UIPort); err != nil {
			return nil, err
		}
	}

	sqlConf, err := prepareSQLite(o.DBFile, o.Namespace, o.SearchAttributes)
	if err != nil {
		return nil, err
	}
	serverOpts, err := serverOptions(o, sqlConf, serverLogger{l: logger})
	if err != nil {
		return nil, err
	}
	ts, err := temporal.NewServer(serverOpts...)
	if err != nil {
		return nil, fmt.Errorf("devserver: create temporal server: %w", err)
	}
	if err := recovered(ts.Start); err != nil {
		_ = recovered(ts.Stop) // release whatever services did start
		return nil, fmt.Errorf("devserver: start temporal server: %w", err)
	}

	s := &Server{
		namespace: o.Namespace,
		frontend:  net.JoinHostPort(dialHost(o.IP), strconv.Itoa(o.FrontendPort)),
		temporal:  ts,
		logLevel:  levelVar,
	}
	if err := s.finishStart(ctx, o, logger); err != nil {
		_ = s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *Server) finishStart(ctx context.Context, o Options, logger *slog.Logger) error {
	c, err := client.NewLazyClient(client.Options{
		HostPort:  s.frontend,
		Namespace: s.namespace,
		Logger:    sdklog.NewStructuredLogger(logger),
	})
	if err != nil {
		return fmt.Errorf("devserver: client: %w", err)
	}
	defer c.Close()

	if err := waitReady(ctx, c, s.namespace); err != nil {
		return err
	}
	if err := ensureSearchAttributes(ctx, c, s.namespace, o.SearchAttributes); err != nil {
		return err
	}
	// The UI dials the frontend when it is constructed and backs off after a
	// refused connection (its API answers code 14 for about a second), so it
	// is only built once the frontend is known to answer.
	if o.UIPort != NoUI {
		s.ui, s.uiDone, s.uiURL, err = startUI(ctx, o, s.frontend)
		if err != nil {
			return err
		}
	}
	return nil
}

// FrontendHostPort is the dialable gRPC address, e.g. "127.0.0.1:7233".
func (s *Server) FrontendHostPort() string { return s.frontend }

// UIURL is e.g. "http://127.0.0.1:8233", or "" when the UI is disabled.
func (s *Server) UIURL() string { return s.uiURL }

// Namespace is the namespace that Start registered.
func (s *Server) Namespace() string { return s.namespace }

// Stop stops the UI and then the server. It is safe to call more than once;
// later calls return the first result.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		// While shutting down, the server warns and errors about every poll
		// and call that the closing services cut off; none of it is
		// actionable, and real failures come back from Stop.
		s.logLevel.Set(slog.LevelError + 1)
		var errs []error
		if s.ui != nil {
			s.ui.Stop()
			select {
			case <-s.uiDone:
			case <-time.After(uiStopTimeout):
				errs = append(errs, errors.New("devserver: UI server did not stop"))
			}
		}
		if err := recovered(s.temporal.Stop); err != nil {
			errs = append(errs, fmt.Errorf("devserver: stop temporal server: %w", err))
		}
		s.stopErr = errors.Join(errs...)
	})
	return s.stopErr
}

// recovered turns a panic from our logger's Fatal (see serverLogger) into an
// error.
func recovered(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return f()
}

// waitReady polls because services report started before the frontend's
// namespace registry and health status have settled.
func waitReady(ctx context.Context, c client.Client, namespace string) error {
	var last error
	for {
		attempt, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, last = c.CheckHealth(attempt, &client.CheckHealthRequest{})
		if last == nil {
			_, last = c.WorkflowService().DescribeNamespace(attempt,
				&workflowservice.DescribeNamespaceRequest{Namespace: namespace})
		}
		cancel()
		if last == nil {
			return nil
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return fmt.Errorf("devserver: frontend not ready: %w (last error: %v)", err, last)
		}
	}
}

// ensureSearchAttributes adds the attributes a namespace does not have yet.
// On a fresh database prepareSQLite already wrote them into the namespace, so
// this only does work when a later version of the app asks for new ones.
func ensureSearchAttributes(ctx context.Context, c client.Client, namespace string, want map[string]enums.IndexedValueType) error {
	if len(want) == 0 {
		return nil
	}
	list, err := c.OperatorService().ListSearchAttributes(ctx,
		&operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("devserver: list search attributes: %w", err)
	}
	missing := map[string]enums.IndexedValueType{}
	for name, typ := range want {
		if _, ok := list.GetSystemAttributes()[name]; ok {
			return fmt.Errorf("devserver: search attribute %s is a system attribute", name)
		}
		have, ok := list.GetCustomAttributes()[name]
		switch {
		case !ok:
			missing[name] = typ
		case have != typ:
			// The type cannot be changed in place; the DB would have to go.
			return fmt.Errorf("devserver: search attribute %s is registered as %s, want %s", name, have, typ)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace:        namespace,
		SearchAttributes: missing,
	})
	var exists *serviceerror.AlreadyExists
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("devserver: add search attributes: %w", err)
	}

	// With SQL visibility the attributes are aliases stored on the namespace,
	// and each service reads them from its namespace cache, refreshed every
	// 2 s. A query naming them only validates once the frontend has them.
	query := ""
	for name := range missing {
		if query != "" {
			query += " AND "
		}
		query += "`" + name + "` IS NULL"
	}
	for {
		_, err := c.WorkflowService().CountWorkflowExecutions(ctx,
			&workflowservice.CountWorkflowExecutionsRequest{Namespace: namespace, Query: query})
		if err == nil {
			return nil
		}
		if serr := sleep(ctx, 100*time.Millisecond); serr != nil {
			return fmt.Errorf("devserver: search attributes not usable: %w (last error: %v)", serr, err)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// dialHost turns a wildcard listen IP into one a client can dial.
func dialHost(ip string) string {
	switch ip {
	case "0.0.0.0":
		return "127.0.0.1"
	case "::":
		return "::1"
	}
	return ip
}

// freePort asks the kernel for a port; another process could take it before
// the server binds, which is acceptable for dev and tests.
func freePort(ip string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return 0, fmt.Errorf("devserver: find free port on %s: %w", ip, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func checkPortFree(ip string, port int) error {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("devserver: port %d on %s is not available: %w", port, ip, err)
	}
	return l.Close()
}
