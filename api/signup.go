package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/httprate"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/serviceerror"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/bootstrap"
	"github.com/secureops/secureops/internal/contract/onboarding"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/domainerr"
	"github.com/secureops/secureops/internal/secretbox"
	"github.com/secureops/secureops/internal/targets"
	"github.com/secureops/secureops/internal/temporalx"
	plans "github.com/secureops/secureops/internal/tiers"
)

// OnboardingOptions configure sign-up, the first key's reveal and the
// payload codec endpoint.
type OnboardingOptions struct {
	// SignupRateLimit is sign-ups per minute per client address (0: 5).
	SignupRateLimit int
	// SealKey opens the first API key's sealed secret.
	SealKey *secretbox.Key
	// Codec serves the Web UI's remote codec; nil passes payloads through.
	Codec *temporalx.Codec
	// CodecCORSOrigins may call the codec endpoint from a browser.
	CodecCORSOrigins []string
}

// signupLimits are per client address: creating costs a workflow and calls
// to Stripe and Kratos; polling is cheap but still unauthenticated.
type signupLimits struct {
	once   sync.Once
	create *httprate.RateLimiter
	status *httprate.RateLimiter
}

func (s *Server) signupLimiters() *signupLimits {
	l := &s.signup
	l.once.Do(func() {
		n := s.Onboarding.SignupRateLimit
		if n <= 0 {
			n = 5
		}
		onLimit := httprate.WithLimitHandler(func(w http.ResponseWriter, r *http.Request) {
			writeProblem(w, Problem{Status: http.StatusTooManyRequests, Detail: "too many sign-up requests from this address; retry after the time in Retry-After", Instance: r.URL.Path})
		})
		l.create = httprate.NewRateLimiter(n, time.Minute, onLimit)
		l.status = httprate.NewRateLimiter(max(120, 24*n), time.Minute, onLimit)
	})
	return l
}

type signupRequest struct {
	CompanyName   string  `json:"company_name"`
	ContactName   string  `json:"contact_name"`
	Email         string  `json:"email"`
	Tier          string  `json:"tier"`
	InitialTarget *string `json:"initial_target"`
	Phone         *string `json:"phone"`
	Industry      *string `json:"industry"`
}

type signupResponse struct {
	SignupID  string    `json:"signup_id"`
	TenantID  uuid.UUID `json:"tenant_id"`
	StatusURL string    `json:"status_url"`
}

var phoneRe = regexp.MustCompile(`^\+?[0-9][0-9 ()./-]{3,30}$`)

// plainText rejects control characters and invalid UTF-8 in free text.
func plainText(field, v string, minLen, maxLen int) error {
	if !utf8.ValidString(v) || strings.ContainsFunc(v, unicode.IsControl) {
		return invalid(field, field+" must be plain text without control characters")
	}
	n := utf8.RuneCountInString(v)
	if n < minLen || n > maxLen {
		return invalid(field, fmt.Sprintf("%s must be %d to %d characters", field, minLen, maxLen))
	}
	return nil
}

// validateSignup checks every field and normalises them into the workflow input;
// all field errors are reported at once.
func (s *Server) validateSignup(req signupRequest) (onboarding.Input, error) {
	in := onboarding.Input{
		CompanyName: strings.TrimSpace(req.CompanyName), ContactName: strings.TrimSpace(req.ContactName),
		Tier: req.Tier,
	}
	var fields []FieldError
	add := func(err error) {
		if de, ok := domainerr.As(err); ok {
			fields = append(fields, de.Fields...)
		}
	}
	companyErr := plainText("company_name", in.CompanyName, 2, 100)
	add(companyErr)
	in.Slug = bootstrap.Slug(in.CompanyName)
	if companyErr == nil && len(in.Slug) < 2 {
		add(invalid("company_name", "company_name must contain at least two letters or digits"))
	}
	add(plainText("contact_name", in.ContactName, 1, 200))
	email := strings.TrimSpace(req.Email)
	if addr, err := mail.ParseAddress(email); err != nil || addr.Address != email || len(email) > 254 ||
		!strings.Contains(email[strings.LastIndexByte(email, '@')+1:], ".") {
		add(invalid("email", "email must be a plain address like ana@example.com"))
	}
	in.Email = strings.ToLower(email)
	if tier, ok := plans.Get(req.Tier); !ok {
		add(invalid("tier", "tier must be one of "+strings.Join(plans.Names(), ", ")))
	} else if s.InstalledScanners != nil {
		in.Scanners = tier.Offered(s.InstalledScanners)
	}
	if req.InitialTarget != nil && strings.TrimSpace(*req.InitialTarget) != "" {
		if t, err := targets.Parse(*req.InitialTarget); err != nil {
			add(invalid("initial_target", err.Error()))
		} else if len(t.String()) > targets.MaxValueLen {
			add(invalid("initial_target", fmt.Sprintf("initial_target is longer than %d characters once normalised", targets.MaxValueLen)))
		} else {
			in.InitialTarget = t.String()
		}
	}
	if req.Phone != nil && *req.Phone != "" {
		in.Phone = strings.TrimSpace(*req.Phone)
		if !phoneRe.MatchString(in.Phone) {
			add(invalid("phone", "phone must be digits with an optional leading + and separators"))
		}
	}
	if req.Industry != nil && *req.Industry != "" {
		in.Industry = strings.TrimSpace(*req.Industry)
		add(plainText("industry", in.Industry, 1, 100))
	}
	if len(fields) > 0 {
		detail := fields[0].Message
		if len(fields) > 1 {
			detail = fmt.Sprintf("%d fields are invalid", len(fields))
		}
		return in, domainerr.InvalidFields(detail, fields)
	}
	// A target this deployment may not scan (an address or a name for one,
	// an image registry not allowed) is refused now rather than by the first
	// scan; names are checked again when resolved.
	if in.InitialTarget != "" {
		t, _ := targets.Parse(in.InitialTarget)
		if err := s.Policy.CheckTarget(t); err != nil {
			return in, domainerr.Wrap(domainerr.Refused, "initial_target: "+err.Error(), err)
		}
	}
	return in, nil
}

// signupToken is 128 random bits; only its hash is stored.
func signupToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

var signupIDRe = regexp.MustCompile(`^[0-9a-f]{32}$`)

func (s *Server) signupCreate(w http.ResponseWriter, r *http.Request) error {
	if s.signupLimiters().create.RespondOnLimit(w, r, clientIP(r)) {
		return nil
	}
	var req signupRequest
	if err := decodeJSON(r, &req, 16<<10); err != nil {
		return err
	}
	in, err := s.validateSignup(req)
	if err != nil {
		return err
	}
	token, err := signupToken()
	if err != nil {
		return err
	}
	in.TenantID = uuid.New()
	wid := onboarding.WorkflowID(in.Slug)
	hash := auth.HashSecret(token)
	var taken string
	err = s.DB.Auth(r.Context(), func(ctx context.Context, tx pgx.Tx) error {
		taken, err = db.Q.SignupReserve(ctx, tx, dbq.SignupReserveParams{TokenHash: hash, TenantID: in.TenantID, Slug: in.Slug, Email: in.Email, WorkflowID: wid})
		return err
	})
	if err != nil {
		return err
	}
	switch taken {
	case "slug":
		return domainerr.New(domainerr.Conflict, fmt.Sprintf("a company named like this is already signed up (%q); use another company name or ask its owner for an invitation", in.Slug))
	case "email":
		return domainerr.New(domainerr.Conflict, "this email address already has an account; sign in instead, or use another address")
	}
	// The reservation exists now; the start must not be abandoned because
	// the client hung up.
	startCtx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 15*time.Second)
	defer cancel()
	_, err = s.Temporal.ExecuteWorkflow(startCtx, onboarding.StartOptions(in), onboarding.WorkflowName, in)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if err != nil && !errors.As(err, &started) {
		// A timeout can hide a start that succeeded: ask before giving up.
		if d, derr := s.Temporal.DescribeWorkflowExecution(startCtx, wid, ""); derr == nil && searchTenant(d.GetWorkflowExecutionInfo().GetSearchAttributes()) == in.TenantID.String() {
			err = nil
		}
	}
	if err != nil {
		_ = s.DB.Auth(context.WithoutCancel(r.Context()), func(ctx context.Context, tx pgx.Tx) error {
			return db.Q.SignupWithdraw(ctx, tx, hash)
		})
		if started != nil {
			return domainerr.New(domainerr.Conflict, fmt.Sprintf("a company named like this is already signed up (%q)", in.Slug))
		}
		s.logErr(r, "start onboarding workflow", err)
		return domainerr.New(domainerr.Unavailable, "sign-up is unavailable right now; try again shortly")
	}
	status := "/api/v1/signup/" + token
	w.Header().Set("Location", status)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusAccepted, signupResponse{SignupID: token, TenantID: in.TenantID, StatusURL: status})
	return nil
}

func searchTenant(sa *commonpb.SearchAttributes) string {
	p := sa.GetIndexedFields()[temporalx.SATenantID.GetName()]
	if p == nil {
		return ""
	}
	return strings.Trim(string(p.GetData()), `"`)
}

// SignupStatus is the answer of GET /api/v1/signup/{signup_id}.
type SignupStatus struct {
	Status        string            `json:"status"`
	TenantID      uuid.UUID         `json:"tenant_id"`
	Steps         []onboarding.Step `json:"steps"`
	FailureReason *string           `json:"failure_reason"`
}

func (s *Server) signupGet(w http.ResponseWriter, r *http.Request) error {
	if s.signupLimiters().status.RespondOnLimit(w, r, clientIP(r)) {
		return nil
	}
	token := chi.URLParam(r, "signup_id")
	if !signupIDRe.MatchString(token) {
		return invalid("signup_id", "signup_id must be the 32 hex characters the sign-up answered")
	}
	var row dbq.SignupLookupRow
	err := s.DB.Auth(r.Context(), func(ctx context.Context, tx pgx.Tx) error {
		var err error
		row, err = db.Q.SignupLookup(ctx, tx, auth.HashSecret(token))
		return err
	})
	if err != nil {
		return err
	}
	out := SignupStatus{TenantID: row.TenantID, Steps: []onboarding.Step{}}
	qctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	v, err := s.Temporal.QueryWorkflow(qctx, row.WorkflowID, "", onboarding.QueryProgress)
	var p onboarding.Progress
	if err == nil {
		err = v.Get(&p)
	}
	if err == nil && p.TenantID == row.TenantID {
		out.Status, out.Steps = p.Status, p.Steps
		if p.FailureReason != "" {
			out.FailureReason = &p.FailureReason
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	// No answer from the workflow (no worker up, or its history is past
	// retention): the tenant row still says how it ended.
	if err != nil {
		s.logErr(r, "query onboarding progress", err)
	}
	switch row.TenantStatus {
	case "failed":
		out.Status = onboarding.StatusFailed
		if row.FailureReason != "" {
			out.FailureReason = &row.FailureReason
		}
	case "pending", "onboarding":
		out.Status = onboarding.StatusRunning
	default:
		out.Status = onboarding.StatusCompleted
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, out)
	return nil
}

const codecPrefix = "/api/v1/codec/"
