package api

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.temporal.io/api/serviceerror"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/contract/scan"
	"github.com/secureops/secureops/internal/db"
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

// StreamLimits bounds the live-event streams.
type StreamLimits struct {
	// PerPrincipal is the concurrent streams of one API key or user (0: 10).
	PerPrincipal int
	// Recheck is how often a stream checks that its credential, tenant and
	// access still hold (0: 30 s).
	Recheck time.Duration
	// MaxLifetime ends a stream with an error event asking to reconnect
	// (0: 30 min).
	MaxLifetime time.Duration
}

func (l StreamLimits) perPrincipal() int       { return cmp.Or(l.PerPrincipal, 10) }
func (l StreamLimits) recheck() time.Duration  { return cmp.Or(l.Recheck, 30*time.Second) }
func (l StreamLimits) lifetime() time.Duration { return cmp.Or(l.MaxLifetime, 30*time.Minute) }

// scanEvents streams the scan as Server-Sent Events: one "progress" event
// whenever what the user sees changes, then one "end" event with the final
// scan, and the stream closes. Browsers reconnect by themselves; the first
// event always carries the current state, so nothing is missed.
//
// Every stream of a scan is fed by one shared poller (streamHub), so N
// viewers cost one query per tick; a principal has at most
// Streams.PerPrincipal streams; each stream re-checks its credential and its
// access every Streams.Recheck and ends after Streams.MaxLifetime, both with
// an "error" event.
func (s *Server) scanEvents(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "id")
	if err != nil {
		return err
	}
	load := func(r *http.Request) (scans.Scan, error) {
		var sc scans.Scan
		err := s.inTx(r, func(ctx context.Context, tx pgx.Tx, _ *auth.Access) error {
			var err error
			sc, err = scans.Get(ctx, tx, id)
			return err
		})
		return sc, err
	}
	sc, err := load(r)
	if err != nil {
		return err
	}
	principal := rateKey(accessFrom(r.Context()).Principal)
	release, ok := s.streams.hold(principal, s.Streams.perPrincipal())
	if !ok {
		w.Header().Set("Retry-After", "30")
		return statusErr(http.StatusTooManyRequests, fmt.Sprintf("at most %d event streams at once per API key or user; close one or retry after the time in Retry-After", s.Streams.perPrincipal()))
	}
	defer release()
	updates, unsubscribe := s.streams.subscribe(s, sc)
	defer unsubscribe()

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
	fail := func(detail string) { send("error", map[string]string{"detail": detail}) }
	key := func(sc scans.Scan) string {
		return fmt.Sprint(sc.Status, sc.Progress, sc.ProgressMessage, sc.Counts)
	}
	last := ""
	keepalive := time.NewTicker(15 * time.Second)
	defer keepalive.Stop()
	recheck := time.NewTicker(s.Streams.recheck())
	defer recheck.Stop()
	lifetime := time.NewTimer(s.Streams.lifetime())
	defer lifetime.Stop()
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
		case <-lifetime.C:
			fail("the stream reached its maximum lifetime of " + s.Streams.lifetime().String() + "; reconnect to continue")
			return nil
		case <-recheck.C:
			if detail := s.streamStillAllowed(r, load); detail != "" {
				fail(detail)
				return nil
			}
		case u := <-updates:
			if u.err != nil {
				if r.Context().Err() == nil {
					fail("the scan could not be read; reconnect to continue")
				}
				return nil
			}
			sc = u.scan
		}
	}
}

// streamStillAllowed authenticates the stream's request again, as the guard
// did when it opened: a revoked or expired key, a session gone, a suspended
// tenant or a lost role or membership ends the stream. It answers the
// reason, or "" while the stream may go on.
func (s *Server) streamStillAllowed(r *http.Request, load func(*http.Request) (scans.Scan, error)) string {
	p, err := s.authenticate(r)
	if err != nil {
		if r.Context().Err() == nil && !isAuthRefusal(err) {
			s.logErr(r, "re-check an event stream's credential", err)
		}
		return "your credential is no longer valid; sign in again and reconnect"
	}
	a, err := s.resolveAccess(r, p)
	if err != nil || !a.Can(auth.PermFindingsView) {
		return "you no longer have access to this scan"
	}
	ctx := context.WithValue(r.Context(), accessKey{}, a)
	if _, err := load(r.WithContext(ctx)); err != nil {
		return "you no longer have access to this scan"
	}
	return ""
}

// isAuthRefusal is an answer about the credential, not an outage.
func isAuthRefusal(err error) bool {
	var se *StatusError
	return (errors.As(err, &se) && se.Status == http.StatusUnauthorized) || domainerr.Is(err, domainerr.Forbidden)
}

// streamHub serves every stream of a scan from one poller, and counts the
// streams each principal holds.
type streamHub struct {
	mu      sync.Mutex
	held    map[string]int
	pollers map[uuid.UUID]*scanPoller
	// polls counts the pollers' queries (tests read it).
	polls atomic.Int64
}

type scanUpdate struct {
	scan scans.Scan
	err  error
}

// scanPoller reads one scan every tick for all its subscribers; it stops
// when the last one leaves, the scan ends, or a read fails.
type scanPoller struct {
	subs map[chan scanUpdate]struct{}
	stop context.CancelFunc
}

func (h *streamHub) hold(principal string, max int) (release func(), ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.held[principal] >= max {
		return nil, false
	}
	if h.held == nil {
		h.held = map[string]int{}
	}
	h.held[principal]++
	var once sync.Once
	return func() {
		once.Do(func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			if h.held[principal]--; h.held[principal] <= 0 {
				delete(h.held, principal)
			}
		})
	}, true
}

// subscribe joins (or starts) the poller of the scan. The poller reads in
// the scan's own tenant scope: each subscriber proved its access by loading
// the scan first, and proves it again on every re-check.
func (h *streamHub) subscribe(s *Server, sc scans.Scan) (<-chan scanUpdate, func()) {
	ch := make(chan scanUpdate, 1)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.pollers == nil {
		h.pollers = map[uuid.UUID]*scanPoller{}
	}
	p := h.pollers[sc.ID]
	if p == nil {
		ctx, cancel := context.WithCancel(context.Background())
		p = &scanPoller{subs: map[chan scanUpdate]struct{}{}, stop: cancel}
		h.pollers[sc.ID] = p
		go h.poll(ctx, s, p, sc.ID, sc.TenantID)
	}
	p.subs[ch] = struct{}{}
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(p.subs, ch)
		if len(p.subs) == 0 && h.pollers[sc.ID] == p {
			p.stop()
			delete(h.pollers, sc.ID)
		}
	}
}

func (h *streamHub) poll(ctx context.Context, s *Server, p *scanPoller, id, tenant uuid.UUID) {
	tick := time.NewTicker(s.eventsEvery())
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		var u scanUpdate
		h.polls.Add(1)
		u.err = s.DB.InTx(ctx, db.TenantScope(tenant), func(ctx context.Context, tx pgx.Tx) error {
			var err error
			u.scan, err = scans.Get(ctx, tx, id)
			return err
		})
		if ctx.Err() != nil {
			return
		}
		h.mu.Lock()
		for ch := range p.subs {
			// Only the latest state matters: replace an unread one.
			select {
			case <-ch:
			default:
			}
			ch <- u
		}
		end := u.err != nil || terminal(u.scan.Status)
		if end && h.pollers[id] == p {
			delete(h.pollers, id)
		}
		h.mu.Unlock()
		if end {
			p.stop()
			return
		}
	}
}

// StreamPolls is how many reads the event-stream pollers have made, and how
// many pollers run now (one per followed scan).
func (s *Server) StreamPolls() (polls int64, pollers int) {
	s.streams.mu.Lock()
	defer s.streams.mu.Unlock()
	return s.streams.polls.Load(), len(s.streams.pollers)
}

func (s *Server) eventsEvery() time.Duration {
	if s.EventsPollInterval > 0 {
		return s.EventsPollInterval
	}
	return 500 * time.Millisecond
}
