package scanner

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/secureops/secureops/internal/checks"
	"github.com/secureops/secureops/internal/contract/scan"
	"github.com/secureops/secureops/internal/findings"
)

// runChecks runs SecureOps' own checks on every web endpoint of the target
// (see webEndpoints for how ports and TLS are chosen) and returns their
// findings as a JSON array, the "secureops" report format.
func (a *Activities) runChecks(ctx context.Context, j job) ([]byte, error) {
	var pct atomic.Int32
	pct.Store(-1)
	stop := a.heartbeatWhile(ctx, j.in, &pct)
	defer stop()

	all := []findings.Finding{}
	eps := webEndpoints(ctx, j)
	for i, ep := range eps {
		opts := a.CheckOptions
		opts.Progress = func(done, total int, _ string) {
			if total > 0 {
				pct.Store(int32((i*100 + done*100/total) / len(eps)))
			}
		}
		fs, err := checks.Run(ctx, checks.Input{
			Host:     j.t.Host,
			Addr:     netip.AddrPortFrom(j.addr, uint16(ep.Port)),
			TLS:      ep.TLS,
			BasePath: ep.Path,
		}, opts)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err != nil {
			// The port answered the probe moments ago, so this is worth a
			// retry; a partial result would mark the rest fixed.
			return nil, fmt.Errorf("secureops checks on port %d: %w", ep.Port, err)
		}
		all = append(all, fs...)
	}
	return json.Marshal(all)
}

// heartbeatWhile heartbeats the latest progress until stop is called, for
// scanners that run in-process: the heartbeat is how cancellation reaches
// the activity, and what tells Temporal the worker is alive.
func (a *Activities) heartbeatWhile(ctx context.Context, in scan.RunInput, pct *atomic.Int32) (stop func()) {
	every := a.HeartbeatEvery
	if every <= 0 {
		every = 2 * time.Second
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(every)
		defer tick.Stop()
		last := int32(-1)
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
				p := pct.Load()
				activity.RecordHeartbeat(ctx, int(p))
				if p != last {
					last = p
					a.saveProgress(ctx, in, int(p))
				}
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}
