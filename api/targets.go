package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	averify "github.com/secureops/secureops/activities/verify"
	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/domainerr"
	"github.com/secureops/secureops/internal/targets"
	"github.com/secureops/secureops/internal/temporalx"
	"github.com/secureops/secureops/workflows/verify"
)

type targetRequest struct {
	Kind  string `json:"kind"`
	Value string `json:"value"`
	Name  string `json:"name"`
}

// TargetView is the API representation of a target, with what its owner
// must publish to prove control of it.
type TargetView struct {
	ID           uuid.UUID         `json:"id"`
	TenantID     uuid.UUID         `json:"tenant_id"`
	Kind         string            `json:"kind"`
	Value        string            `json:"value"`
	Name         string            `json:"name"`
	Verification verificationView  `json:"verification"`
	CreatedAt    time.Time         `json:"created_at"`
	Instructions *verificationHelp `json:"instructions,omitempty"`
}

type verificationView struct {
	Status    string     `json:"status"`
	Method    string     `json:"method,omitempty"`
	Error     string     `json:"error,omitempty"`
	Checks    int32      `json:"checks"`
	StartedAt *time.Time `json:"started_at"`
	CheckedAt *time.Time `json:"checked_at"`
	At        *time.Time `json:"verified_at"`
}

type verificationHelp struct {
	DNS  *dnsProof  `json:"dns,omitempty"`
	HTTP *httpProof `json:"http,omitempty"`
}

type dnsProof struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Value string `json:"value"`
}

type httpProof struct {
	URLs    []string `json:"urls"`
	Content string   `json:"content"`
}

func targetViewOf(t dbq.Target) TargetView {
	v := TargetView{
		ID: t.ID, TenantID: t.TenantID, Kind: t.Kind, Value: t.Value, Name: t.Name, CreatedAt: t.CreatedAt,
		Verification: verificationView{
			Status: t.VerificationStatus, Method: t.VerificationMethod, Error: t.VerificationError,
			Checks: t.VerificationChecks, StartedAt: t.VerificationStartedAt, CheckedAt: t.VerificationCheckedAt, At: t.VerifiedAt,
		},
	}
	if t.VerificationStatus == "verified" || t.VerificationStatus == "not_required" {
		return v
	}
	pt, err := targets.ParseAs(targets.Kind(t.Kind), t.Value)
	if err != nil {
		return v
	}
	help := &verificationHelp{HTTP: &httpProof{Content: t.VerificationToken}}
	if !pt.IsIP() {
		help.DNS = &dnsProof{Name: averify.DNSPrefix + pt.Host, Type: "TXT", Value: averify.TXTValue(t.VerificationToken)}
	}
	help.HTTP.URLs = averify.WellKnownURLs(pt)
	v.Instructions = help
	return v
}

func newToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// registerTarget creates (or returns) the tenant's target row for t. Images
// need no proof; loopback in dev and test modes is verified on sight.
func (s *Server) registerTarget(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, t targets.Target, name string) (dbq.TargetCreateRow, error) {
	status, method := "unverified", ""
	var at *time.Time
	switch {
	case t.Kind == targets.KindImage:
		status = "not_required"
	case s.Policy.AutoVerifies(t):
		now := time.Now()
		status, method, at = "verified", "auto", &now
	}
	return db.Q.TargetCreate(ctx, tx, dbq.TargetCreateParams{
		TenantID: tenant, Kind: string(t.Kind), Value: t.String(), Host: t.Host, Name: name,
		VerificationToken: newToken(), VerificationStatus: status, VerificationMethod: method, VerifiedAt: at,
	})
}

func targetFromCreateRow(r dbq.TargetCreateRow) dbq.Target {
	return dbq.Target{
		ID: r.ID, TenantID: r.TenantID, Kind: r.Kind, Value: r.Value, Host: r.Host, Name: r.Name,
		VerificationToken: r.VerificationToken, VerificationStatus: r.VerificationStatus,
		VerificationMethod: r.VerificationMethod, VerificationError: r.VerificationError,
		VerificationChecks: r.VerificationChecks, VerificationStartedAt: r.VerificationStartedAt,
		VerificationCheckedAt: r.VerificationCheckedAt, VerifiedAt: r.VerifiedAt, CreatedAt: r.CreatedAt,
	}
}

func (s *Server) targetCreate(w http.ResponseWriter, r *http.Request) error {
	var req targetRequest
	if err := decodeJSON(r, &req, 16<<10); err != nil {
		return err
	}
	t, err := targets.ParseAs(targets.Kind(req.Kind), req.Value)
	if err != nil {
		field := "value"
		if strings.Contains(err.Error(), "unknown target kind") {
			field = "kind"
		}
		return invalid(field, err.Error())
	}
	if len(req.Name) > 200 {
		return invalid("name", "name must be at most 200 characters")
	}
	if len(t.String()) > 2048 {
		return invalid("value", "the target is longer than 2048 characters once normalised")
	}
	a := accessFrom(r.Context())
	if err := requireTenant(a); err != nil {
		return err
	}
	var row dbq.TargetCreateRow
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		var err error
		if row, err = s.registerTarget(ctx, tx, a.TenantID, t, strings.TrimSpace(req.Name)); err != nil {
			return err
		}
		if !row.Created {
			return nil
		}
		return audit(ctx, tx, r, a, uuid.Nil, "target.created", "target", row.ID.String(), map[string]any{"value": row.Value, "kind": row.Kind})
	})
	if err != nil {
		return err
	}
	code := http.StatusOK
	if row.Created {
		code = http.StatusCreated
		w.Header().Set("Location", "/api/v1/targets/"+row.ID.String())
	}
	writeJSON(w, code, targetViewOf(targetFromCreateRow(row)))
	return nil
}

func (s *Server) targetList(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := limitParam(q.Get("limit"))
	if err != nil {
		return err
	}
	params := dbq.TargetListParams{Lim: int32(limit + 1)}
	if v := q.Get("kind"); v != "" {
		if _, err := targets.ParseAs(targets.Kind(v), "x"); err != nil && strings.Contains(err.Error(), "unknown target kind") {
			return invalid("kind", "kind must be one of domain, host, url, image")
		}
		params.Kind = &v
	}
	if v := q.Get("verification_status"); v != "" {
		switch v {
		case "unverified", "pending", "verified", "failed", "not_required":
		default:
			return invalid("verification_status", "verification_status must be one of unverified, pending, verified, failed, not_required")
		}
		params.VerificationStatus = &v
	}
	if v := q.Get("cursor"); v != "" {
		ts, id, err := decodeTimeCursor(v)
		if err != nil {
			return invalid("cursor", "cursor is not one this API returned")
		}
		params.BeforeCreated, params.BeforeID = &ts, uuid.NullUUID{UUID: id, Valid: true}
	}
	var rows []dbq.Target
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, _ *auth.Access) error {
		rows, err = db.Q.TargetList(ctx, tx, params)
		return err
	})
	if err != nil {
		return err
	}
	page := struct {
		Items      []TargetView `json:"items"`
		NextCursor *string      `json:"next_cursor"`
	}{Items: make([]TargetView, 0, len(rows))}
	if len(rows) > limit {
		rows = rows[:limit]
		last := rows[len(rows)-1]
		c := encodeTimeCursor(last.CreatedAt, last.ID)
		page.NextCursor = &c
	}
	for _, t := range rows {
		page.Items = append(page.Items, targetViewOf(t))
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

func (s *Server) targetGet(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "id")
	if err != nil {
		return err
	}
	var t dbq.Target
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, _ *auth.Access) error {
		t, err = db.Q.TargetGet(ctx, tx, id)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, targetViewOf(t))
	return nil
}

func (s *Server) targetDelete(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "id")
	if err != nil {
		return err
	}
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		t, err := db.Q.TargetGet(ctx, tx, id)
		if err != nil {
			return err
		}
		// The target's schedules go with it (the rows cascade); their
		// Temporal Schedules must not keep firing at a deleted target.
		ids, err := db.Q.ScheduleIDsByTarget(ctx, tx, id)
		if err != nil {
			return err
		}
		for _, sid := range ids {
			if err := s.syncer().Delete(ctx, sid); err != nil {
				return err
			}
		}
		if _, err := db.Q.TargetDelete(ctx, tx, id); err != nil {
			return err
		}
		return audit(ctx, tx, r, a, t.TenantID, "target.deleted", "target", id.String(), map[string]any{"value": t.Value})
	})
	if err != nil {
		return err
	}
	// A verification still waiting for this target has nothing left to do;
	// if this fails it ends on its own at its next check ("gone").
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
	defer cancel()
	if err := s.Temporal.CancelWorkflow(ctx, verify.WorkflowID(id), ""); err != nil {
		var nf *serviceerror.NotFound
		if !errors.As(err, &nf) {
			s.logErr(r, "cancel verification of a deleted target", err)
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// targetVerify starts (or nudges) the target's verification workflow. A
// running verification is asked to look again now rather than duplicated.
func (s *Server) targetVerify(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "id")
	if err != nil {
		return err
	}
	var t dbq.Target
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		if t, err = db.Q.TargetGet(ctx, tx, id); err != nil {
			return err
		}
		if t.VerificationStatus == "verified" || t.VerificationStatus == "not_required" {
			return nil
		}
		if t.VerificationStatus != "pending" {
			if t, err = db.Q.TargetVerificationStart(ctx, tx, id); err != nil {
				return err
			}
		}
		return audit(ctx, tx, r, a, t.TenantID, "target.verification_started", "target", id.String(), nil)
	})
	if err != nil {
		return err
	}
	if t.VerificationStatus != "pending" {
		writeJSON(w, http.StatusOK, targetViewOf(t))
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 15*time.Second)
	defer cancel()
	_, err = s.Temporal.SignalWithStartWorkflow(ctx, verify.WorkflowID(id), verify.SignalRecheck, nil, client.StartWorkflowOptions{
		ID:                    verify.WorkflowID(id),
		TaskQueue:             temporalx.QueueScans,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			temporalx.SATenantID.ValueSet(t.TenantID.String()),
			temporalx.SAKind.ValueSet("verify"),
			temporalx.ScanTargetValue(t.Value),
		),
	}, verify.WorkflowName, verify.Input{TenantID: t.TenantID, TargetID: id, FirstInterval: s.VerifyFirstInterval})
	if err != nil {
		s.logErr(r, "start verification workflow", err)
		return domainerr.New(domainerr.Unavailable, "the verification could not be started; try again shortly")
	}
	w.Header().Set("Location", "/api/v1/targets/"+id.String())
	writeJSON(w, http.StatusAccepted, targetViewOf(t))
	return nil
}
