//go:build devserver

package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/secureops/secureops/internal/config"
	"github.com/secureops/secureops/internal/secretbox"
	"github.com/secureops/secureops/internal/stripemock"
)

// devOnboarding fills in what onboarding needs on one machine: the sealing
// and payload codec keys (generated once, kept in .data with mode 0600 so
// sealed keys and encrypted histories stay readable across restarts),
// stripe-mock on loopback for billing, and an operator address whose
// notifications land in the outbox. Explicit settings win.
func devOnboarding(ctx context.Context, cfg *config.Config, dataDir string, stripePort int, log *slog.Logger) (stop func(), err error) {
	stop = func() {}
	if cfg.SealKey == nil {
		if cfg.SealKey, err = devKey(filepath.Join(dataDir, "seal.key")); err != nil {
			return stop, fmt.Errorf("seal key: %w", err)
		}
	}
	if len(cfg.CodecKeys) == 0 {
		k, err := devKey(filepath.Join(dataDir, "codec.key"))
		if err != nil {
			return stop, fmt.Errorf("payload codec key: %w", err)
		}
		cfg.CodecKeys = []*secretbox.Key{k}
	}
	if cfg.OpsEmail == "" {
		cfg.OpsEmail = "ops@secureops.local"
	}
	if cfg.StripeWebhookSecret == "" {
		// Stripe's webhooks are verified here too; `secureops billing
		// event` signs with this secret (read from endpoints.env).
		if cfg.StripeWebhookSecret, err = devWebhookSecret(filepath.Join(dataDir, "stripe-webhook.secret")); err != nil {
			return stop, fmt.Errorf("Stripe webhook secret: %w", err)
		}
	}
	if !cfg.StripeEnabled() {
		sm, err := stripemock.Start(ctx, stripemock.Options{HTTPPort: stripePort, HTTPSPort: stripePort + 1,
			Dir: filepath.Join(dataDir, "stripe-mock")})
		if err != nil {
			// Sign-ups still work, without subscriptions.
			log.Warn("stripe-mock not started; onboarding skips billing", "error", err)
			return stop, nil
		}
		cfg.StripeAPIBase = sm.URL
		log.Info("stripe-mock started", "url", sm.URL, "version", stripemock.Version)
		stop = func() { _ = sm.Stop() }
	}
	return stop, nil
}

// devWebhookSecret is the dev Stripe webhook secret, made once and kept.
func devWebhookSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	r := make([]byte, 24)
	if _, err := rand.Read(r); err != nil {
		return "", err
	}
	s := "whsec_" + hex.EncodeToString(r)
	return s, os.WriteFile(path, []byte(s+"\n"), 0o600)
}

func devKey(path string) (*secretbox.Key, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		s, err := secretbox.GenerateKey()
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
			return nil, err
		}
		b = []byte(s)
	} else if err != nil {
		return nil, err
	}
	return secretbox.ParseKey(strings.TrimSpace(string(b)))
}
