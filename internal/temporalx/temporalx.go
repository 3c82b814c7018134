// Package temporalx holds what every SecureOps process shares about Temporal:
// task queue names, typed search attribute keys, the client constructor and
// its fx module, the payload codec, the typed activity and workflow
// references the contracts (internal/contract/...) are made of, and the
// upsert of platform Schedules. It imports no other SecureOps package but
// config, observability and secretbox, so every contract may import it.
package temporalx

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"time"
	"unicode/utf8"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
)

// Task queues. Scanner activities run on their own queue so scanner hosts
// (which need nmap, nikto and network reach) scale separately from the
// orchestration workers.
const (
	QueueScans    = "scans"
	QueueScanners = "scanners"
	// QueueOnboarding runs sign-ups: Stripe, Kratos, DefectDojo and email
	// calls that must not wait behind a long scan.
	QueueOnboarding = "onboarding"
)

// AllQueues is what `secureops worker` serves without --queues, and what dev runs.
var AllQueues = []string{QueueScans, QueueScanners, QueueOnboarding}

// Search attributes every workflow sets, so operators can filter the Web UI by
// tenant, process kind and target.
var (
	SATenantID   = temporal.NewSearchAttributeKeyKeyword("TenantId")
	SAKind       = temporal.NewSearchAttributeKeyKeyword("Kind")
	SAScanTarget = temporal.NewSearchAttributeKeyKeyword("ScanTarget")
)

// SearchAttributeTypes lists the custom attributes the namespace must have.
var SearchAttributeTypes = map[string]enumspb.IndexedValueType{
	SATenantID.GetName():   enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	SAKind.GetName():       enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	SAScanTarget.GetName(): enumspb.INDEXED_VALUE_TYPE_KEYWORD,
}

// ClientOptions for Dial.
type ClientOptions struct {
	HostPort  string
	Namespace string
	Logger    *slog.Logger
	Metrics   client.MetricsHandler
	// Codec, when set, encrypts every payload and failure (TEMPORAL_CODEC_KEY).
	Codec *Codec
	// TLS, when set, secures the connection (Temporal Cloud, a TLS
	// frontend); APIKey authenticates with a Temporal Cloud API key (over
	// TLS, default settings when TLS is nil).
	TLS    *tls.Config
	APIKey string
}

// Dial connects to the frontend and waits (up to a minute) until it answers,
// so processes started together with Temporal do not crash-loop.
func Dial(ctx context.Context, o ClientOptions) (client.Client, error) {
	opts := client.Options{
		HostPort:       o.HostPort,
		Namespace:      o.Namespace,
		MetricsHandler: o.Metrics,
	}
	opts.ConnectionOptions.TLS = o.TLS
	if o.APIKey != "" {
		opts.Credentials = client.NewAPIKeyStaticCredentials(o.APIKey)
		if opts.ConnectionOptions.TLS == nil {
			opts.ConnectionOptions.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
		}
	}
	if o.Codec != nil {
		opts.DataConverter = DataConverter(o.Codec)
		opts.FailureConverter = FailureConverter(o.Codec)
	}
	if o.Logger != nil {
		opts.Logger = sdklog.NewStructuredLogger(o.Logger.With("component", "temporal-sdk"))
	}
	deadline := time.Now().Add(time.Minute)
	for {
		c, err := client.DialContext(ctx, opts)
		if err == nil {
			return c, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("connect to Temporal at %s: %w", o.HostPort, err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// ScanTargetValue is the ScanTarget search attribute for a target: keyword
// attributes are VARCHAR(255) in SQL visibility stores, so longer targets
// are cut, at a character boundary.
func ScanTargetValue(target string) temporal.SearchAttributeUpdate {
	const limit = 255
	if len(target) > limit {
		target = target[:limit]
		for len(target) > 0 && !utf8.ValidString(target) {
			target = target[:len(target)-1]
		}
	}
	return SAScanTarget.ValueSet(target)
}
