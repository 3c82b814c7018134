package stripe

import (
	"context"
	"fmt"
	"sync"

	stripego "github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"

	"github.com/secureops/secureops/internal/contract/billing"
	"github.com/secureops/secureops/internal/contract/maintenance"
	"github.com/secureops/secureops/internal/tiers"
)

// NewAPI builds a Stripe client; base is "" for api.stripe.com, or
// stripe-mock's address in dev and tests.
func NewAPI(key, base string) *client.API {
	if key == "" {
		key = "sk_test_123" // stripe-mock accepts any well-formed test key
	}
	// Temporal retries the activity with the same idempotency key; the
	// SDK's own retries would only hide how long a call really took.
	retries := int64(0)
	cfg := &stripego.BackendConfig{MaxNetworkRetries: &retries, LeveledLogger: &stripego.LeveledLogger{Level: stripego.LevelError}}
	if base != "" {
		cfg.URL = stripego.String(base)
	}
	return client.New(key, stripego.NewBackendsWithConfig(cfg))
}

// Catalog maps price lookup keys to Stripe price ids.
type Catalog map[string]string

// Bootstrap makes sure every tier's product and monthly price and the
// metered scans price exist, finding them by lookup_key first: run at
// worker start and by `secureops stripe bootstrap`, any number of times.
func Bootstrap(ctx context.Context, api *client.API) (Catalog, error) {
	want := []struct {
		lookup, product string
		params          *stripego.PriceParams
	}{}
	for _, t := range tiers.All {
		want = append(want, struct {
			lookup, product string
			params          *stripego.PriceParams
		}{t.PriceLookupKey, t.Title, &stripego.PriceParams{
			Currency:   stripego.String(tiers.Currency),
			UnitAmount: stripego.Int64(t.MonthlyCents),
			Recurring:  &stripego.PriceRecurringParams{Interval: stripego.String("month")},
			Metadata:   map[string]string{"secureops_tier": t.Name},
		}})
	}
	want = append(want, struct {
		lookup, product string
		params          *stripego.PriceParams
	}{tiers.ScansMeteredLookupKey, "SecureOps scans", &stripego.PriceParams{
		Currency:   stripego.String(tiers.Currency),
		UnitAmount: stripego.Int64(tiers.ScanUnitCents),
		Recurring: &stripego.PriceRecurringParams{
			Interval: stripego.String("month"), UsageType: stripego.String("metered"), AggregateUsage: stripego.String("sum"),
		},
	}})

	keys := make([]*string, len(want))
	for i, w := range want {
		keys[i] = stripego.String(w.lookup)
	}
	found := Catalog{}
	lp := &stripego.PriceListParams{LookupKeys: keys, Active: stripego.Bool(true)}
	lp.Context = ctx
	it := api.Prices.List(lp)
	for it.Next() {
		p := it.Price()
		if p.LookupKey != "" {
			found[p.LookupKey] = p.ID
		}
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("stripe: list prices: %w", err)
	}
	for _, w := range want {
		if _, ok := found[w.lookup]; ok {
			continue
		}
		if w.lookup == tiers.ScansMeteredLookupKey {
			// Usage reaches this price through the scans meter (the billing
			// cycle's meter events); a meter-backed price takes no
			// aggregate_usage.
			meter, err := ensureMeter(ctx, api)
			if err != nil {
				return nil, err
			}
			w.params.Recurring.Meter = stripego.String(meter)
			w.params.Recurring.AggregateUsage = nil
		}
		pp := &stripego.ProductParams{Name: stripego.String(w.product), Metadata: map[string]string{"secureops_lookup_key": w.lookup}}
		pp.Context = ctx
		pp.SetIdempotencyKey("stripe/product/" + w.lookup)
		prod, err := api.Products.New(pp)
		if err != nil {
			return nil, fmt.Errorf("stripe: create product %s: %w", w.product, err)
		}
		w.params.Product = stripego.String(prod.ID)
		w.params.LookupKey = stripego.String(w.lookup)
		// Moves the key from an archived price of the same name, if any.
		w.params.TransferLookupKey = stripego.Bool(true)
		w.params.Context = ctx
		w.params.SetIdempotencyKey("stripe/price/" + w.lookup)
		price, err := api.Prices.New(w.params)
		if err != nil {
			return nil, fmt.Errorf("stripe: create price %s: %w", w.lookup, err)
		}
		found[w.lookup] = price.ID
	}
	return found, nil
}

// ensureMeter finds the scans meter by its event name, or creates it: one
// meter event per completed scan (value 1), mapped to the customer by id,
// summed per period.
func ensureMeter(ctx context.Context, api *client.API) (string, error) {
	lp := &stripego.BillingMeterListParams{Status: stripego.String("active")}
	lp.Context = ctx
	it := api.BillingMeters.List(lp)
	for it.Next() {
		if m := it.BillingMeter(); m.EventName == billing.MeterEventName {
			return m.ID, nil
		}
	}
	if err := it.Err(); err != nil {
		return "", fmt.Errorf("stripe: list meters: %w", err)
	}
	p := &stripego.BillingMeterParams{
		DisplayName:        stripego.String("SecureOps scans"),
		EventName:          stripego.String(billing.MeterEventName),
		DefaultAggregation: &stripego.BillingMeterDefaultAggregationParams{Formula: stripego.String("sum")},
		CustomerMapping: &stripego.BillingMeterCustomerMappingParams{
			EventPayloadKey: stripego.String("stripe_customer_id"), Type: stripego.String("by_id"),
		},
		ValueSettings: &stripego.BillingMeterValueSettingsParams{EventPayloadKey: stripego.String("value")},
	}
	p.Context = ctx
	p.SetIdempotencyKey("stripe/meter/" + billing.MeterEventName)
	m, err := api.BillingMeters.New(p)
	if err != nil {
		return "", fmt.Errorf("stripe: create meter: %w", err)
	}
	return m.ID, nil
}

// catalogCache bootstraps once and keeps the result; a failed bootstrap is
// tried again on the next call.
type catalogCache struct {
	mu  sync.Mutex
	cat Catalog
}

func (c *catalogCache) get(ctx context.Context, api *client.API) (Catalog, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cat != nil {
		return c.cat, nil
	}
	cat, err := Bootstrap(ctx, api)
	if err != nil {
		return nil, err
	}
	c.cat = cat
	return cat, nil
}

// WarmCatalog bootstraps the catalogue ahead of the first sign-up. It is an
// activity of the maintenance Schedule (internal/contract/maintenance): a
// failure shows in the Web UI and is retried there, and the subscription
// step bootstraps it itself if it is still missing.
func (a *Activities) WarmCatalog(ctx context.Context) (maintenance.CatalogResult, error) {
	if a.API == nil {
		return maintenance.CatalogResult{Skipped: true}, nil
	}
	cat, err := a.catalog.get(ctx, a.API)
	return maintenance.CatalogResult{Prices: len(cat)}, err
}
