package portal

import (
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/secureops/secureops/internal/portal/views"
	"github.com/secureops/secureops/internal/tiers"
)

// Billing: the tenant's plan, status, trial and usage (GET /api/v1/billing,
// owners and platform admins), a card through Stripe Checkout, invoices and
// cards in Stripe's customer portal, and plan changes (the billing
// workflow's update). Billing emails link to /billing.
func (p *Portal) billingRoutes(r chi.Router) {
	r.Get("/billing", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/app/billing", http.StatusSeeOther)
	})
	r.Get("/app/billing", p.page(p.billingPage))
	r.Post("/app/billing/checkout", p.page(p.billingSession("checkout")))
	r.Post("/app/billing/portal", p.page(p.billingSession("portal")))
	r.Post("/app/billing/plan", p.page(p.billingPlan))
}

func (p *Portal) renderBilling(w http.ResponseWriter, r *http.Request, problem string) error {
	var doc views.BillingDoc
	if err := p.get(r, "/api/v1/billing", nil, &doc); err != nil {
		return err
	}
	bv := views.BillingView{Doc: doc, Error: problem, Notice: noticeOf(r)}
	for _, t := range tiers.All {
		bv.Plans = append(bv.Plans, views.PlanChoice{Name: t.Name, Title: t.Title, MonthlyCents: t.MonthlyCents})
	}
	return render(w, r, views.Billing(p.pageMeta(r, "Billing", viewerFrom(r.Context())), bv))
}

func (p *Portal) billingPage(w http.ResponseWriter, r *http.Request) error {
	return p.renderBilling(w, r, "")
}

// billingSession opens a Stripe Checkout or customer-portal session and
// sends the browser there.
func (p *Portal) billingSession(kind string) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		var out struct {
			URL string `json:"url"`
		}
		err := p.call(r, http.MethodPost, "/api/v1/billing/"+kind, map[string]string{}, &out)
		if f, ok := formFailure(err, nil); ok {
			return p.renderBilling(w, r, f.Error)
		} else if StatusOf(err) == http.StatusServiceUnavailable {
			return p.renderBilling(w, r, err.Error())
		} else if err != nil {
			return err
		}
		if !strings.HasPrefix(out.URL, "https://") {
			return p.renderBilling(w, r, "Stripe answered no usable address; try again shortly.")
		}
		http.Redirect(w, r, out.URL, http.StatusSeeOther)
		return nil
	}
}

// billingPlan asks the billing workflow to change the plan.
func (p *Portal) billingPlan(w http.ResponseWriter, r *http.Request) error {
	err := p.call(r, http.MethodPost, "/api/v1/billing/plan", map[string]string{"plan": r.PostFormValue("plan")}, nil)
	if f, ok := formFailure(err, nil); ok {
		msg := f.Error
		if msg == "" {
			for _, m := range f.Errors {
				msg = m
			}
		}
		return p.renderBilling(w, r, msg)
	} else if err != nil {
		return err
	}
	redirect(w, r, "/app/billing?done=plan")
	return nil
}
