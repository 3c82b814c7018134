package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/contract/scan"
	"github.com/secureops/secureops/internal/domainerr"
	"github.com/secureops/secureops/internal/parsers"
	"github.com/secureops/secureops/internal/scans"
	"github.com/secureops/secureops/internal/targets"
)

// MaxImportBytes is the largest report an import accepts.
const MaxImportBytes = 100 << 20

type importForm struct {
	scanner    string
	targetID   string
	target     string
	targetKind string
	complete   string
	file       []byte
	filename   string
}

// readImportForm streams the multipart body: the report is read once, up to
// the limit, and small fields are bounded so a hostile form cannot make us
// buffer more than the report.
func readImportForm(r *http.Request, w http.ResponseWriter) (*importForm, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return nil, statusErr(http.StatusUnsupportedMediaType, "send the report as multipart/form-data with fields scanner, file and target_id or target")
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxImportBytes+1<<20)
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, badRequest("malformed multipart body: " + err.Error())
	}
	f := &importForm{}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, statusErr(http.StatusRequestEntityTooLarge, "the report is larger than 100 MB")
			}
			return nil, badRequest("malformed multipart body: " + err.Error())
		}
		name := part.FormName()
		if name == "file" {
			if f.file != nil {
				return nil, invalid("file", "send exactly one file")
			}
			f.filename = part.FileName()
			b, err := io.ReadAll(io.LimitReader(part, MaxImportBytes+1))
			if err != nil {
				var mbe *http.MaxBytesError
				if errors.As(err, &mbe) {
					return nil, statusErr(http.StatusRequestEntityTooLarge, "the report is larger than 100 MB")
				}
				return nil, badRequest("reading the file failed: " + err.Error())
			}
			if len(b) > MaxImportBytes {
				return nil, statusErr(http.StatusRequestEntityTooLarge, "the report is larger than 100 MB")
			}
			f.file = b
			continue
		}
		b, err := io.ReadAll(io.LimitReader(part, 4097))
		if err != nil {
			return nil, badRequest("malformed multipart body: " + err.Error())
		}
		if len(b) > 4096 {
			return nil, invalid(name, name+" must be at most 4096 bytes")
		}
		v := strings.TrimSpace(string(b))
		switch name {
		case "scanner":
			f.scanner = v
		case "target_id":
			f.targetID = v
		case "target":
			f.target = v
		case "target_kind":
			f.targetKind = v
		case "complete":
			f.complete = v
		default:
			return nil, invalid(name, "unknown field "+strconv.Quote(name)+"; the fields are scanner, file, target_id, target, target_kind, complete")
		}
	}
	return f, nil
}

// scanImport accepts a report from the tenant's own tools (Trivy in CI, a ZAP
// run, a DefectDojo generic export) and stores it through the same workflow
// and ingest path as a scan. The report is parsed here first so a bad file
// is a 422 naming the problem, not a failed workflow.
func (s *Server) scanImport(w http.ResponseWriter, r *http.Request) error {
	form, err := readImportForm(r, w)
	if err != nil {
		return err
	}
	switch {
	case form.scanner == "":
		return invalid("scanner", "scanner is required: one of "+strings.Join(parsers.Scanners, ", "))
	case form.file == nil:
		return invalid("file", "file is required")
	case (form.targetID == "") == (form.target == ""):
		return invalid("target_id", "give either target_id (a registered target) or target")
	}
	// Parsers take "Trivy" too; the stored name must be the canonical one, or
	// a later "trivy" import could not fix these findings and DefectDojo's
	// scan type lookup would miss.
	form.scanner = strings.ToLower(strings.TrimSpace(form.scanner))
	complete := true
	if form.complete != "" {
		if complete, err = strconv.ParseBool(form.complete); err != nil {
			return invalid("complete", "complete must be true or false")
		}
	}
	parsed, err := parsers.Parse(form.scanner, form.file)
	if err != nil {
		if errors.Is(err, parsers.ErrUnknownScanner) {
			return domainerr.New(domainerr.Refused, fmt.Sprintf("unknown report format %q; known: %s", form.scanner, strings.Join(parsers.Scanners, ", ")))
		}
		return domainerr.New(domainerr.Refused, err.Error())
	}
	var pt targets.Target
	if form.target != "" {
		if pt, err = targets.ParseAs(targets.Kind(form.targetKind), form.target); err != nil {
			return invalid("target", err.Error())
		}
	}
	a := accessFrom(r.Context())
	if err := requireTenant(a); err != nil {
		return err
	}
	id := uuid.New()
	var in scan.Input
	err = s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		var t targets.Registered
		if form.targetID != "" {
			tid, err := uuid.Parse(form.targetID)
			if err != nil {
				return invalid("target_id", "target_id must be a UUID")
			}
			if t, err = targets.GetOfTenant(ctx, tx, a.TenantID, tid); domainerr.Is(err, domainerr.NotFound) {
				return invalid("target_id", "no target with this id in the acting tenant")
			} else if err != nil {
				return err
			}
		} else {
			// Uploads need no ownership proof (nothing is scanned), but the
			// target is registered so its findings group and list with it.
			var err error
			if t, _, err = targets.Register(ctx, tx, s.Policy, a.TenantID, pt, ""); err != nil {
				return err
			}
		}
		if _, err := s.scanRules().InsertImport(ctx, tx, a, scans.NewScan{
			ID: id, TenantID: a.TenantID, TargetID: t.ID, Target: t.Value, Scanners: []string{form.scanner},
			WorkflowID: scan.WorkflowID(id), Source: "import", Complete: complete,
		}); err != nil {
			return err
		}
		rid, err := scans.StoreReport(ctx, tx, a.TenantID, id, form.scanner, form.file)
		if err != nil {
			return err
		}
		in = scan.Input{TenantID: a.TenantID, ScanID: id, Target: t.Value, Scanners: []string{form.scanner}, ReportID: &rid}
		return audit(ctx, tx, r, a, uuid.Nil, "scan.imported", "scan", id.String(),
			map[string]any{"target": t.Value, "scanner": form.scanner, "bytes": len(form.file), "filename": form.filename})
	})
	if err != nil {
		return err
	}
	if err := s.startScan(r, in); err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/scans/"+id.String())
	writeJSON(w, http.StatusAccepted, map[string]any{
		"id": id, "workflow_id": scan.WorkflowID(id), "status": "queued", "target": in.Target,
		"scanner": form.scanner, "findings_in_report": len(parsed),
	})
	return nil
}
