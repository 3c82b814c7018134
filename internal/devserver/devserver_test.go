package devserver

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

var testAttrs = map[string]enums.IndexedValueType{
	"TenantId":   enums.INDEXED_VALUE_TYPE_KEYWORD,
	"Kind":       enums.INDEXED_VALUE_TYPE_KEYWORD,
	"ScanTarget": enums.INDEXED_VALUE_TYPE_KEYWORD,
}

// Server goroutines may log after a test returns, when t.Log would panic, so
// logs go to stderr.
func testLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, nil))
}

func startServer(t *testing.T, opts Options) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	began := time.Now()
	s, err := Start(ctx, opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Logf("Start took %v (frontend %s, UI %q)%s", time.Since(began), s.FrontendHostPort(), s.UIURL(), rss())
	t.Cleanup(func() { _ = s.Stop() })
	return s
}

// rss reports the process's resident memory on Linux, for the team's notes.
func rss() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			return ", " + strings.Join(strings.Fields(line), " ")
		}
	}
	return ""
}

func stopServer(t *testing.T, s *Server) {
	t.Helper()
	began := time.Now()
	if err := s.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	t.Logf("Stop took %v", time.Since(began))
	if err := s.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
}

func dial(t *testing.T, s *Server) client.Client {
	t.Helper()
	c, err := client.Dial(client.Options{
		HostPort:  s.FrontendHostPort(),
		Namespace: s.Namespace(),
		Logger:    sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)),
	})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	return c
}

func echoWorkflow(ctx workflow.Context, in string) (string, error) {
	return in, nil
}

func waitForSignalWorkflow(ctx workflow.Context) (string, error) {
	var v string
	workflow.GetSignalChannel(ctx, "go").Receive(ctx, &v)
	return "got " + v, nil
}

func startWorker(t *testing.T, c client.Client, queue string) worker.Worker {
	t.Helper()
	w := worker.New(c, queue, worker.Options{})
	w.RegisterWorkflow(echoWorkflow)
	w.RegisterWorkflow(waitForSignalWorkflow)
	if err := w.Start(); err != nil {
		t.Fatalf("worker: %v", err)
	}
	return w
}

func TestServer(t *testing.T) {
	s := startServer(t, Options{
		DBFile:           filepath.Join(t.TempDir(), "temporal.db"),
		SearchAttributes: testAttrs,
		Logger:           testLogger(),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	if s.Namespace() != "default" {
		t.Errorf("Namespace() = %q", s.Namespace())
	}
	c := dial(t, s)
	defer c.Close()

	if _, err := c.WorkflowService().DescribeNamespace(ctx,
		&workflowservice.DescribeNamespaceRequest{Namespace: s.Namespace()}); err != nil {
		t.Fatalf("DescribeNamespace: %v", err)
	}
	list, err := c.OperatorService().ListSearchAttributes(ctx,
		&operatorservice.ListSearchAttributesRequest{Namespace: s.Namespace()})
	if err != nil {
		t.Fatalf("ListSearchAttributes: %v", err)
	}
	for name, typ := range testAttrs {
		if got := list.GetCustomAttributes()[name]; got != typ {
			t.Errorf("search attribute %s: got %v, want %v", name, got, typ)
		}
	}

	t.Run("UI", func(t *testing.T) {
		if s.UIURL() == "" {
			t.Fatal("UI disabled")
		}
		for _, path := range []string{"/", "/api/v1/namespaces"} {
			// The UI's API answers code 14 while its gRPC connection backs off.
			if err := getOK(ctx, s.UIURL()+path, 5*time.Second); err != nil {
				t.Errorf("GET %s: %v", path, err)
			}
		}
	})

	t.Run("VisibilityBySearchAttribute", func(t *testing.T) {
		w := startWorker(t, c, "devserver-test")
		defer w.Stop()
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			TaskQueue: "devserver-test",
			TypedSearchAttributes: temporal.NewSearchAttributes(
				temporal.NewSearchAttributeKeyKeyword("TenantId").ValueSet("x")),
		}, echoWorkflow, "hi")
		if err != nil {
			t.Fatalf("ExecuteWorkflow: %v", err)
		}
		var out string
		if err := run.Get(ctx, &out); err != nil || out != "hi" {
			t.Fatalf("result %q, %v", out, err)
		}
		// Visibility is written asynchronously.
		for {
			resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
				Namespace: s.Namespace(),
				Query:     "TenantId = 'x'",
			})
			if err != nil {
				t.Fatalf("ListWorkflow: %v", err)
			}
			if len(resp.GetExecutions()) == 1 && resp.GetExecutions()[0].GetExecution().GetWorkflowId() == run.GetID() {
				return
			}
			select {
			case <-ctx.Done():
				t.Fatalf("workflow not found by TenantId: %v", resp.GetExecutions())
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
}

func getOK(ctx context.Context, url string, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = &statusError{resp.StatusCode, string(body)}
		}
		last = err
		select {
		case <-ctx.Done():
			return last
		case <-time.After(100 * time.Millisecond):
		}
	}
}

type statusError struct {
	code int
	body string
}

func (e *statusError) Error() string { return http.StatusText(e.code) + ": " + e.body }

func TestRestartKeepsWorkflows(t *testing.T) {
	dbFile := filepath.Join(t.TempDir(), "temporal.db")
	opts := Options{
		DBFile:           dbFile,
		UIPort:           NoUI,
		SearchAttributes: testAttrs,
		Logger:           testLogger(),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	s := startServer(t, opts)
	c := dial(t, s)
	w := startWorker(t, c, "devserver-restart")
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: "devserver-restart"}, waitForSignalWorkflow)
	if err != nil {
		t.Fatalf("ExecuteWorkflow: %v", err)
	}
	waitFirstTaskDone(ctx, t, c, run.GetID())
	w.Stop()
	c.Close()
	stopServer(t, s)

	// A new attribute on an existing DB goes through AddSearchAttributes.
	opts.SearchAttributes = map[string]enums.IndexedValueType{"Extra": enums.INDEXED_VALUE_TYPE_INT}
	for k, v := range testAttrs {
		opts.SearchAttributes[k] = v
	}
	s = startServer(t, opts)
	c = dial(t, s)
	defer c.Close()
	w = startWorker(t, c, "devserver-restart")
	defer w.Stop()

	list, err := c.OperatorService().ListSearchAttributes(ctx,
		&operatorservice.ListSearchAttributesRequest{Namespace: s.Namespace()})
	if err != nil {
		t.Fatalf("ListSearchAttributes: %v", err)
	}
	if got := list.GetCustomAttributes()["Extra"]; got != enums.INDEXED_VALUE_TYPE_INT {
		t.Errorf("Extra: got %v", got)
	}
	// Start promised the new attribute is usable in queries right away.
	if _, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{
		Namespace: s.Namespace(), Query: "Extra IS NULL",
	}); err != nil {
		t.Errorf("query on new attribute: %v", err)
	}

	began := time.Now()
	if err := c.SignalWorkflow(ctx, run.GetID(), run.GetRunID(), "go", "on"); err != nil {
		t.Fatalf("SignalWorkflow after restart: %v", err)
	}
	var out string
	if err := c.GetWorkflow(ctx, run.GetID(), run.GetRunID()).Get(ctx, &out); err != nil || out != "got on" {
		t.Fatalf("result %q, %v", out, err)
	}
	t.Logf("signal to completion after restart: %v", time.Since(began))
}

// waitFirstTaskDone makes sure the workflow is running on the worker, not
// merely recorded, before the server goes down.
func waitFirstTaskDone(ctx context.Context, t *testing.T, c client.Client, id string) {
	t.Helper()
	for {
		d, err := c.DescribeWorkflowExecution(ctx, id, "")
		if err != nil {
			t.Fatalf("DescribeWorkflowExecution: %v", err)
		}
		if d.GetPendingWorkflowTask() == nil && d.GetWorkflowExecutionInfo().GetHistoryLength() >= 4 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatal("first workflow task never completed")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func TestInMemory(t *testing.T) {
	s := startServer(t, Options{UIPort: NoUI, Namespace: "mem", Logger: testLogger()})
	if s.UIURL() != "" {
		t.Errorf("UIURL() = %q with the UI disabled", s.UIURL())
	}
	c := dial(t, s)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.WorkflowService().DescribeNamespace(ctx,
		&workflowservice.DescribeNamespaceRequest{Namespace: "mem"}); err != nil {
		t.Fatalf("DescribeNamespace: %v", err)
	}
	// ensureSearchAttributes relies on queries naming unknown attributes
	// failing until the frontend knows them.
	if _, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{
		Namespace: "mem", Query: "Nope IS NULL",
	}); err == nil {
		t.Error("query on an unknown search attribute succeeded")
	}
	stopServer(t, s)
}

// The server would hit logger.Fatal on a taken port; Start must return an
// error instead of killing the process.
func TestPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	for _, opts := range []Options{{FrontendPort: port}, {UIPort: port}} {
		opts.Logger = testLogger()
		s, err := Start(context.Background(), opts)
		if err == nil {
			_ = s.Stop()
			t.Errorf("Start(%+v) succeeded on a taken port", opts)
		} else if !strings.Contains(err.Error(), strconv.Itoa(port)) {
			t.Errorf("error does not name the port: %v", err)
		}
	}
}
