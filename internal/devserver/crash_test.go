package devserver

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
)

const crashHelperEnv = "DEVSERVER_TEST_CRASH_DB"

// TestHelperCrashingServer is the process TestRestartAfterSIGKILL kills: it
// serves DBFile with a workflow waiting for a signal, then sleeps.
func TestHelperCrashingServer(t *testing.T) {
	dbFile := os.Getenv(crashHelperEnv)
	if dbFile == "" {
		t.Skip("helper process for TestRestartAfterSIGKILL")
	}
	s := startServer(t, Options{DBFile: dbFile, UIPort: NoUI, SearchAttributes: testAttrs,
		Logger: slog.New(slog.DiscardHandler)})
	c := dial(t, s)
	startWorker(t, c, "devserver-crash")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: "devserver-crash"}, waitForSignalWorkflow)
	if err != nil {
		t.Fatal(err)
	}
	waitFirstTaskDone(ctx, t, c, run.GetID())
	fmt.Println("READY", run.GetID(), run.GetRunID())
	time.Sleep(time.Hour) // until SIGKILL
}

// A SIGKILLed `secureops dev` leaves its Temporal SQLite file mid-use (WAL
// and shared-memory files beside it, no clean shutdown): the next start on
// the same file must come up and carry on the workflows it held.
func TestRestartAfterSIGKILL(t *testing.T) {
	dbFile := filepath.Join(t.TempDir(), "temporal.db")
	helper := exec.Command(os.Args[0], "-test.run=^TestHelperCrashingServer$", "-test.count=1")
	helper.Env = append(os.Environ(), crashHelperEnv+"="+dbFile)
	helper.Stderr = os.Stderr
	stdout, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = helper.Process.Kill(); _ = helper.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	f := strings.Fields(line)
	if err != nil || len(f) != 3 || f[0] != "READY" {
		t.Fatalf("helper: %q %v", line, err)
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	if err := helper.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = helper.Wait()

	began := time.Now()
	s := startServer(t, Options{DBFile: dbFile, UIPort: NoUI, SearchAttributes: testAttrs, Logger: testLogger()})
	t.Logf("restart on the killed server's file took %v", time.Since(began).Round(time.Millisecond))
	c := dial(t, s)
	defer c.Close()
	w := startWorker(t, c, "devserver-crash")
	defer w.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.SignalWorkflow(ctx, f[1], f[2], "go", "on"); err != nil {
		t.Fatalf("signal after restart: %v", err)
	}
	var out string
	if err := c.GetWorkflow(ctx, f[1], f[2]).Get(ctx, &out); err != nil || out != "got on" {
		t.Fatalf("result %q, %v", out, err)
	}
}
