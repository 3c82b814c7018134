package api

// POST /api/v1/findings/{id}/triage/feedback: whether the finding's latest
// triage answer (the rules' or a model's) was useful, with a comment. One
// verdict per person and answer (a second replaces the first); counted in
// GET /api/v1/triage/stats.

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/domainerr"
	"github.com/secureops/secureops/internal/findings"
)

// TriageFeedbackView is one person's verdict on a triage answer.
type TriageFeedbackView struct {
	FindingID uuid.UUID `json:"finding_id"`
	// The answer judged: its source (rules, llm), model and decision.
	Source    string    `json:"source"`
	Model     *string   `json:"model"`
	Decision  string    `json:"decision"`
	Useful    bool      `json:"useful"`
	Comment   string    `json:"comment"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func (s *Server) findingTriageFeedback(w http.ResponseWriter, r *http.Request) error {
	id, err := pathUUID(r, "id")
	if err != nil {
		return err
	}
	req, err := decodeFeedback(r)
	if err != nil {
		return err
	}
	var v TriageFeedbackView
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		f, err := findings.Get(ctx, tx, id)
		if err != nil {
			return err
		}
		answer, err := db.Q.FindingTriageLatestAnswer(ctx, tx, id)
		if errors.Is(err, pgx.ErrNoRows) {
			return domainerr.New(domainerr.Conflict, "this finding has no triage answer to judge yet")
		}
		if err != nil {
			return err
		}
		fb, err := db.Q.TriageFeedbackPut(ctx, tx, dbq.TriageFeedbackPutParams{TenantID: f.TenantID, TriageID: answer.ID,
			FindingID: id, Actor: actorOf(a), Useful: *req.Useful, Comment: req.Comment})
		if err != nil {
			return err
		}
		v = TriageFeedbackView{FindingID: id, Source: answer.Source, Decision: answer.Decision, Useful: fb.Useful,
			Comment: fb.Comment, CreatedAt: fb.CreatedAt, UpdatedAt: fb.UpdatedAt}
		if answer.Model != "" {
			v.Model = &answer.Model
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, v)
	return nil
}
