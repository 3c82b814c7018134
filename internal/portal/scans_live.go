package portal

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/go-chi/chi/v5"

	"github.com/secureops/secureops/internal/portal/views"
)

// scanLive follows a scan for the page: it reads the API's event stream
// in-process and sends each change as an HTML fragment the page swaps in
// (htmx-ext-sse). The last fragment ("end") carries no stream, and the page
// closes its connection on it (sse-close), so the browser does not come
// back. A stream the API refuses or ends early also ends with a fragment
// saying so: a failing EventSource would otherwise reconnect forever.
func (p *Portal) scanLive(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	row := r.URL.Query().Get("view") == "row"
	canCancel := !row && viewerFrom(r.Context()).Can("scans:start")
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // a scan may run for hours
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()

	send := func(event string, c templ.Component) bool {
		var buf bytes.Buffer
		if err := c.Render(r.Context(), &buf); err != nil {
			return false
		}
		var out strings.Builder
		out.WriteString("event: " + event + "\n")
		for _, line := range strings.Split(buf.String(), "\n") {
			out.WriteString("data: " + strings.TrimRight(line, "\r") + "\n")
		}
		out.WriteString("\n")
		if _, err := fmt.Fprint(w, out.String()); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	// last is the scan as last seen, for a closing note.
	var last views.ScanInfo
	stop := func(note string) {
		if last.ID == "" {
			if sc, err := p.loadScan(r, id); err == nil {
				last = sc
			} else {
				last = views.ScanInfo{ID: id, Status: "unknown"}
			}
		}
		send("end", views.ScanLiveView(views.ScanLive{Scan: last, Row: row, Note: note}))
	}

	type msg struct{ event, data string }
	events := make(chan msg)
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go func() {
		done <- p.stream(ctx, r, "/api/v1/scans/"+id+"/events", func(event, data string) bool {
			select {
			case events <- msg{event, data}:
				return true
			case <-ctx.Done():
				return false
			}
		})
	}()
	keepalive := time.NewTicker(15 * time.Second)
	defer keepalive.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-keepalive.C:
			if _, err := fmt.Fprint(w, ": keepalive\n\n"); err != nil || rc.Flush() != nil {
				return
			}
		case err := <-done:
			switch {
			case r.Context().Err() != nil:
			case StatusOf(err) == http.StatusTooManyRequests:
				stop("Too many live views are open; reload the page to follow this scan again.")
			case err != nil && StatusOf(err) != 0:
				stop("Live updates stopped: " + err.Error())
			default:
				stop("Live updates stopped; reload the page to follow the scan again.")
			}
			return
		case m := <-events:
			switch m.event {
			case "progress", "end":
				var sc views.ScanInfo
				if err := json.Unmarshal([]byte(m.data), &sc); err != nil {
					p.Log.ErrorContext(r.Context(), "portal: reading a scan event", "error", err)
					continue
				}
				last = sc
				if m.event == "end" {
					send("end", views.ScanLiveView(views.ScanLive{Scan: sc, Row: row, Final: !row}))
					return
				}
				if !send("progress", views.ScanLiveBody(views.ScanLive{Scan: sc, Row: row, CanCancel: canCancel})) {
					return
				}
			case "error":
				var e struct {
					Detail string `json:"detail"`
				}
				_ = json.Unmarshal([]byte(m.data), &e)
				stop("Live updates stopped: " + e.Detail + ". Reload the page to follow the scan again.")
				return
			}
		}
	}
}
