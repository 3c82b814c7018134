package api

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/client"

	"github.com/secureops/secureops/internal/contract/gate"
)

// maxPendingJoins bounds the scans of one tenant waiting to be joined to its
// gate by the API; past it a scan joins by its workflow alone.
const maxPendingJoins = 10000

// gateJoins joins new scans to their tenant's gate (gate.Enqueue) off the
// request path. Signals to one workflow are applied one at a time by
// Temporal, so answering a start only once its join was done made every
// start of a busy tenant wait for the others' (at concurrency 8, the join
// was two thirds of a start's latency). Here each tenant has at most one
// join in flight, and the scans started meanwhile go together in the next
// (gate.EnqueueMany), in request order. A join lost to a crash or a full
// queue costs nothing but that ordering hint: the scan's workflow asks its
// gate itself (gate.Acquire) before it waits for a slot, and the gate
// orders its queue by request time.
type gateJoins struct {
	mu      sync.Mutex
	pending map[uuid.UUID][]gate.AcquireInput // present while a sender runs
}

// add queues a join; a sender for the tenant starts if none runs.
func (g *gateJoins) add(c client.Client, log *slog.Logger, in gate.AcquireInput) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.pending == nil {
		g.pending = map[uuid.UUID][]gate.AcquireInput{}
	}
	list, sending := g.pending[in.TenantID]
	if len(list) >= maxPendingJoins {
		return // the workflow joins by itself
	}
	g.pending[in.TenantID] = append(list, in)
	if !sending {
		go g.send(c, log, in.TenantID)
	}
}

// maxJoinBatch bounds the scans one signal joins (its payload).
const maxJoinBatch = 200

// send joins the tenant's queued scans until none is left: what queued up
// while a signal was in flight goes in the next one, together.
func (g *gateJoins) send(c client.Client, log *slog.Logger, tenant uuid.UUID) {
	for {
		g.mu.Lock()
		list := g.pending[tenant]
		if len(list) == 0 {
			delete(g.pending, tenant)
			g.mu.Unlock()
			return
		}
		n := min(len(list), maxJoinBatch)
		batch := list[:n:n]
		g.pending[tenant] = list[n:]
		g.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := gate.EnqueueMany(ctx, c, tenant, batch)
		cancel()
		if err != nil && log != nil {
			log.Warn("queue scans at the tenant's gate; their workflows join by themselves", "scans", n, "error", err)
		}
	}
}

// WaitGateJoins waits until the scans started so far have been joined to
// their gates (or ctx ends): benchmarks count the joins in a start's cost,
// and a shutdown may give them a moment.
func (s *Server) WaitGateJoins(ctx context.Context) error {
	for {
		s.gates.mu.Lock()
		n := len(s.gates.pending)
		s.gates.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}
