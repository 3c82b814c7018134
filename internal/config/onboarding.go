package config

import (
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/secureops/secureops/internal/secretbox"
)

// Onboarding is the configuration of sign-up and of the outside systems
// onboarding sets up (Stripe, email, DefectDojo), plus the keys that protect
// what it handles.
type Onboarding struct {
	// StripeSecretKey is the Stripe API key; with STRIPE_API_BASE alone (dev:
	// stripe-mock) a test key is used. Neither set: billing is skipped.
	StripeSecretKey string
	StripeAPIBase   string
	// StripeWebhookSecret verifies Stripe-Signature on POST
	// /api/v1/stripe/webhook (whsec_…); empty refuses every webhook.
	StripeWebhookSecret string
	// EmailProvider is "outbox" (rows in Postgres only) or "resend".
	EmailProvider string
	ResendAPIKey  string
	ResendAPIBase string
	EmailFrom     string
	// OpsEmail receives internal notifications (onboarding done or failed).
	OpsEmail string
	// DefectDojo is optional: without DEFECTDOJO_URL its step is skipped.
	DefectDojoURL         string
	DefectDojoToken       string
	DefectDojoProductType string
	// SealKey seals the first API key's secret until its owner reveals it.
	SealKey *secretbox.Key
	// CodecKeys encrypt Temporal payloads; the first encrypts, all decrypt.
	CodecKeys []*secretbox.Key
	// CodecCORSOrigins may call the codec endpoint from a browser (the Web UI).
	CodecCORSOrigins []string
	// PublicURL is where users reach the API and portal (links in emails).
	PublicURL string
	// SignupRateLimit is sign-up requests per minute per client address.
	SignupRateLimit int
}

func loadOnboarding(c *Config) error {
	o := Onboarding{
		StripeSecretKey:       os.Getenv("STRIPE_SECRET_KEY"),
		StripeAPIBase:         strings.TrimRight(os.Getenv("STRIPE_API_BASE"), "/"),
		StripeWebhookSecret:   os.Getenv("STRIPE_WEBHOOK_SECRET"),
		EmailProvider:         get("EMAIL_PROVIDER", "outbox"),
		ResendAPIKey:          os.Getenv("RESEND_API_KEY"),
		ResendAPIBase:         get("RESEND_API_BASE", "https://api.resend.com/"),
		EmailFrom:             get("EMAIL_FROM", "SecureOps <onboarding@secureops.local>"),
		OpsEmail:              os.Getenv("OPS_EMAIL"),
		DefectDojoURL:         strings.TrimRight(os.Getenv("DEFECTDOJO_URL"), "/"),
		DefectDojoToken:       os.Getenv("DEFECTDOJO_TOKEN"),
		DefectDojoProductType: get("DEFECTDOJO_PRODUCT_TYPE", "SecureOps"),
		PublicURL:             strings.TrimRight(get("SECUREOPS_PUBLIC_URL", "http://127.0.0.1:8080"), "/"),
		SignupRateLimit:       5,
	}
	switch o.EmailProvider {
	case "outbox":
	case "resend":
		if o.ResendAPIKey == "" {
			return fmt.Errorf("EMAIL_PROVIDER=resend needs RESEND_API_KEY")
		}
	default:
		return fmt.Errorf("EMAIL_PROVIDER=%q: want outbox or resend", o.EmailProvider)
	}
	for _, u := range []struct{ name, v string }{
		{"STRIPE_API_BASE", o.StripeAPIBase}, {"RESEND_API_BASE", o.ResendAPIBase},
		{"DEFECTDOJO_URL", o.DefectDojoURL}, {"SECUREOPS_PUBLIC_URL", o.PublicURL},
	} {
		if u.v == "" {
			continue
		}
		if p, err := url.Parse(u.v); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return fmt.Errorf("%s=%q: want an http(s) URL", u.name, u.v)
		}
	}
	if o.DefectDojoURL != "" && o.DefectDojoToken == "" {
		return fmt.Errorf("DEFECTDOJO_URL needs DEFECTDOJO_TOKEN")
	}
	if v := os.Getenv("SECUREOPS_SEAL_KEY"); v != "" {
		k, err := secretbox.ParseKey(v)
		if err != nil {
			return fmt.Errorf("SECUREOPS_SEAL_KEY: %w", err)
		}
		o.SealKey = k
	}
	if v := os.Getenv("TEMPORAL_CODEC_KEY"); v != "" {
		keys, err := secretbox.ParseKeys(v)
		if err != nil {
			return fmt.Errorf("TEMPORAL_CODEC_KEY: %w", err)
		}
		o.CodecKeys = keys
	}
	for _, s := range strings.FieldsFunc(os.Getenv("CODEC_CORS_ORIGINS"), func(r rune) bool { return r == ',' || r == ' ' }) {
		o.CodecCORSOrigins = append(o.CodecCORSOrigins, strings.TrimRight(s, "/"))
	}
	if v := os.Getenv("SIGNUP_RATE_LIMIT"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return fmt.Errorf("SIGNUP_RATE_LIMIT=%q: want a positive integer", v)
		}
		o.SignupRateLimit = n
	}
	c.Onboarding = o
	return nil
}

// StripeEnabled reports whether onboarding creates Stripe subscriptions.
func (o Onboarding) StripeEnabled() bool { return o.StripeSecretKey != "" || o.StripeAPIBase != "" }
