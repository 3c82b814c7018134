package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/api/serviceerror"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/contract/scan"
	"github.com/secureops/secureops/internal/domainerr"
	"github.com/secureops/secureops/internal/scans"
)

func terminal(status string) bool {
	return status == "completed" || status == "failed" || status == "cancelled"
}

// scanCancel asks the scan's workflow to stop: a queued scan leaves its
// tenant's queue, a running one has its scanner process group killed, and the
// workflow records the scan as cancelled.
func (s *Server) scanCancel(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "id")
	if err != nil {
		return err
	}
	var sc scans.Scan
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		if sc, err = scans.Get(ctx, tx, id); err != nil {
			return err
		}
		if terminal(sc.Status) {
			return domainerr.New(domainerr.Conflict, "the scan already ended ("+sc.Status+")")
		}
		return audit(ctx, tx, r, a, sc.TenantID, "scan.cancel_requested", "scan", id.String(), nil)
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
	defer cancel()
	if err := s.Temporal.CancelWorkflow(ctx, scan.WorkflowID(id), ""); err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return domainerr.New(domainerr.Conflict, "the scan's workflow already ended")
		}
		s.logErr(r, "cancel scan workflow", err)
		return domainerr.New(domainerr.Unavailable, "the scan could not be cancelled; try again shortly")
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"id": id, "status": "cancelling"})
	return nil
}

// scanEvents streams the scan as Server-Sent Events: one "progress" event
// whenever what the user sees changes, then one "end" event with the final
// scan, and the stream closes. Browsers reconnect by themselves; the first
// event always carries the current state, so nothing is missed.
func (s *Server) scanEvents(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "id")
	if err != nil {
		return err
	}
	load := func() (scans.Scan, error) {
		var sc scans.Scan
		err := s.inTx(r, func(ctx context.Context, tx pgx.Tx, _ *auth.Access) error {
			var err error
			sc, err = scans.Get(ctx, tx, id)
			return err
		})
		return sc, err
	}
	sc, err := load()
	if err != nil {
		return err
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no") // proxies must not hold events back
	w.WriteHeader(http.StatusOK)
	seq := 0
	send := func(event string, v any) bool {
		b, _ := json.Marshal(v)
		seq++
		// A scan may run for hours: each write gets its own deadline.
		_ = rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
		if _, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", seq, event, b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	key := func(sc scans.Scan) string {
		return fmt.Sprint(sc.Status, sc.Progress, sc.ProgressMessage, sc.Counts)
	}
	last := ""
	tick := time.NewTicker(s.eventsEvery())
	defer tick.Stop()
	keepalive := time.NewTicker(15 * time.Second)
	defer keepalive.Stop()
	for {
		if k := key(sc); k != last {
			last = k
			if terminal(sc.Status) {
				send("end", scanView(sc))
				return nil
			}
			if !send("progress", scanView(sc)) {
				return nil
			}
		}
		select {
		case <-r.Context().Done():
			return nil
		case <-keepalive.C:
			_ = rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
			if _, err := fmt.Fprint(w, ": keepalive\n\n"); err != nil || rc.Flush() != nil {
				return nil
			}
		case <-tick.C:
			next, err := load()
			if err != nil {
				if r.Context().Err() == nil {
					send("error", map[string]string{"detail": "the scan could not be read; reconnect to continue"})
				}
				return nil
			}
			sc = next
		}
	}
}

func (s *Server) eventsEvery() time.Duration {
	if s.EventsPollInterval > 0 {
		return s.EventsPollInterval
	}
	return 500 * time.Millisecond
}
