package devserver

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uioptions "github.com/temporalio/ui-server/v2/server/server_options"
)

// startUI starts the UI server on o.UIPort, already checked to be free
// because the UI server's Start calls os.Exit (via echo's Logger.Fatal) when
// it cannot listen, and waits until it answers.
func startUI(ctx context.Context, o Options, frontend string) (*uiserver.Server, <-chan struct{}, string, error) {
	port := o.UIPort
	url := "http://" + net.JoinHostPort(dialHost(o.IP), strconv.Itoa(port))
	origins := []string{url}
	if h := dialHost(o.IP); h == "127.0.0.1" || h == "::1" {
		origins = append(origins, "http://localhost:"+strconv.Itoa(port))
	}

	host := o.IP
	if strings.Contains(host, ":") {
		host = "[" + host + "]" // the UI formats "%s:%d" itself
	}
	ui := uiserver.NewServer(uioptions.WithConfigProvider(&uiconfig.Config{
		TemporalGRPCAddress: frontend,
		Host:                host,
		Port:                port,
		EnableUI:            true,
		DefaultNamespace:    o.Namespace,
		Codec:               uiconfig.Codec{Endpoint: o.UICodecEndpoint, IncludeCredentials: o.UICodecEndpoint != ""},
		// Plain http on loopback: a Secure CSRF cookie would never come back
		// and every write action in the UI would fail.
		CORS:             uiconfig.CORS{AllowOrigins: origins, CookieInsecure: true},
		HideLogs:         true,
		DisableNewsFetch: true,
	}))

	done := make(chan struct{})
	go func() {
		defer close(done)
		// Returns nil after Stop; any other outcome exits inside the UI server.
		_ = ui.Start()
	}()

	if err := waitHTTP(ctx, url+"/healthz", done); err != nil {
		ui.Stop()
		return nil, nil, "", err
	}
	return ui, done, url, nil
}

func waitHTTP(ctx context.Context, url string, done <-chan struct{}) error {
	hc := &http.Client{Timeout: time.Second}
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		last = err
		select {
		case <-done:
			return fmt.Errorf("devserver: UI server exited: %v", last)
		case <-ctx.Done():
			return fmt.Errorf("devserver: UI not ready: %w (last error: %v)", ctx.Err(), last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
