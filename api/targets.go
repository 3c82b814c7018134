package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.temporal.io/api/serviceerror"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/contract/verify"
	"github.com/secureops/secureops/internal/domainerr"
	"github.com/secureops/secureops/internal/reach"
	"github.com/secureops/secureops/internal/scans"
	"github.com/secureops/secureops/internal/targets"
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

func targetViewOf(t targets.Registered) TargetView {
	v := TargetView{
		ID: t.ID, TenantID: t.TenantID, Kind: string(t.Kind), Value: t.Value, Name: t.Name, CreatedAt: t.CreatedAt,
		Verification: verificationView{
			Status: string(t.Verification.Status), Method: t.Verification.Method, Error: t.Verification.Error,
			Checks: t.Verification.Checks, StartedAt: t.Verification.StartedAt, CheckedAt: t.Verification.CheckedAt, At: t.Verification.At,
		},
	}
	if t.Proven() {
		return v
	}
	pt, err := t.Parsed()
	if err != nil {
		return v
	}
	help := &verificationHelp{HTTP: &httpProof{Content: t.Verification.Token}}
	if !pt.IsIP() {
		help.DNS = &dnsProof{Name: targets.DNSPrefix + pt.Host, Type: "TXT", Value: targets.TXTValue(t.Verification.Token)}
	}
	help.HTTP.URLs = pt.WellKnownURLs()
	v.Instructions = help
	return v
}

func (s *Server) targetCreate(w http.ResponseWriter, r *http.Request) error {
	var req targetRequest
	if err := decodeJSON(r, &req, 16<<10); err != nil {
		return err
	}
	t, name, err := targets.NewRegistration(req.Kind, req.Value, req.Name)
	if err != nil {
		return err
	}
	if err := s.Policy.CheckTarget(t); err != nil {
		return domainerr.Wrap(domainerr.Refused, err.Error(), err)
	}
	a := accessFrom(r.Context())
	if err := requireTenant(a); err != nil {
		return err
	}
	var reg targets.Registered
	var created bool
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		var err error
		if reg, created, err = targets.Register(ctx, tx, s.Policy, a.TenantID, t, name); err != nil || !created {
			return err
		}
		return audit(ctx, tx, r, a, uuid.Nil, "target.created", "target", reg.ID.String(), map[string]any{"value": reg.Value, "kind": reg.Kind})
	})
	if err != nil {
		return err
	}
	code := http.StatusOK
	if created {
		code = http.StatusCreated
		w.Header().Set("Location", "/api/v1/targets/"+reg.ID.String())
	}
	writeJSON(w, code, targetViewOf(reg))
	return nil
}

func (s *Server) targetList(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, before, err := timePage(q)
	if err != nil {
		return err
	}
	f, err := targets.ParseFilter(q.Get("kind"), q.Get("verification_status"))
	if err != nil {
		return err
	}
	var rows []targets.Registered
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, _ *auth.Access) error {
		rows, err = targets.List(ctx, tx, f, before, limit+1)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pageOf(rows, limit, func(t targets.Registered) string { return timeCursor(t.Key()) }, targetViewOf))
	return nil
}

func (s *Server) targetGet(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "id")
	if err != nil {
		return err
	}
	var t targets.Registered
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, _ *auth.Access) error {
		if t, err = targets.Get(ctx, tx, id); err != nil {
			return err
		}
		return reach.Check(ctx, tx, t.TenantID)
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
		t, err := targets.Get(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := reach.Check(ctx, tx, t.TenantID); err != nil {
			return err
		}
		// The target's schedules go with it (the rows cascade); their
		// Temporal Schedules must not keep firing at a deleted target.
		ids, err := scans.ScheduleIDsOfTarget(ctx, tx, id)
		if err != nil {
			return err
		}
		for _, sid := range ids {
			if err := s.syncer().Delete(ctx, sid); err != nil {
				return err
			}
		}
		if err := targets.Delete(ctx, tx, id); err != nil {
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
	var t targets.Registered
	var started bool
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		if t, started, err = targets.StartVerification(ctx, tx, id); err != nil {
			return err
		}
		// Checked after the write: a refusal rolls it back.
		if err := reach.Check(ctx, tx, t.TenantID); err != nil || !started {
			return err
		}
		return audit(ctx, tx, r, a, t.TenantID, "target.verification_started", "target", id.String(), nil)
	})
	if err != nil {
		return err
	}
	if !started {
		writeJSON(w, http.StatusOK, targetViewOf(t))
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 15*time.Second)
	defer cancel()
	_, err = s.Temporal.SignalWithStartWorkflow(ctx, verify.WorkflowID(id), verify.SignalRecheck, nil, verify.StartOptions(t.TenantID, id, t.Value), verify.WorkflowName, verify.Input{TenantID: t.TenantID, TargetID: id, FirstInterval: s.VerifyFirstInterval})
	if err != nil {
		s.logErr(r, "start verification workflow", err)
		return domainerr.New(domainerr.Unavailable, "the verification could not be started; try again shortly")
	}
	w.Header().Set("Location", "/api/v1/targets/"+id.String())
	writeJSON(w, http.StatusAccepted, targetViewOf(t))
	return nil
}
