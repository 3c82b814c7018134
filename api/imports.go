package api

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/secureops/secureops/internal/auth"
	"github.com/secureops/secureops/internal/contract/scan"
	"github.com/secureops/secureops/internal/domainerr"
	"github.com/secureops/secureops/internal/parsers"
	"github.com/secureops/secureops/internal/payments"
	"github.com/secureops/secureops/internal/scans"
	"github.com/secureops/secureops/internal/targets"
)

// MaxImportBytes is the largest report an import accepts.
const MaxImportBytes = 100 << 20

// maxImportBody is the largest request body: the report and the form around
// it. A Content-Length above it is refused before anything is read.
const maxImportBody = MaxImportBytes + 1<<20

// importChunk is how much of a report the API holds at once: a larger report
// goes to the database chunk by chunk as it is read, and the worker parses it.
// A report of at most one chunk is parsed here, so a bad small file is a 422
// naming the problem rather than a failed scan.
const importChunk = 1 << 20

// importReadTimeout bounds reading one upload; the server's ReadTimeout is
// shorter and covers every other request. Within it, each chunk must arrive
// within importChunkWindow, so a trickling client gives its place up early.
const (
	importReadTimeout = 15 * time.Minute
	importChunkWindow = time.Minute
)

var errImportTooLarge = statusErr(http.StatusRequestEntityTooLarge, "the report is larger than 100 MB")

type importForm struct {
	scanner    string
	targetID   string
	target     string
	targetKind string
	complete   string
	file       *importFile
	filename   string
}

// importFile is what the API keeps of an uploaded report: the whole of a small
// one, or the first bytes of a large one whose chunks are stored under
// reportID.
type importFile struct {
	small    []byte // the whole report when it fits in one chunk
	head     []byte // the first bytes of a chunked report, to sniff its format
	size     int64
	chunks   int
	reportID uuid.UUID
}

// chunkStore writes one chunk of an upload's report.
type chunkStore func(seq int, data []byte) error

// readImportFile reads a report part one chunk at a time: a report that fits
// in one chunk stays in memory, a larger one goes to store as it is read, so
// the API never holds more than one chunk of it.
func readImportFile(part io.Reader, reportID uuid.UUID, store chunkStore) (*importFile, error) {
	f := &importFile{reportID: reportID}
	buf := make([]byte, importChunk)
	for {
		n, err := io.ReadFull(part, buf)
		f.size += int64(n)
		if f.size > MaxImportBytes {
			return nil, errImportTooLarge
		}
		last := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
		if err != nil && !last {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, errImportTooLarge
			}
			return nil, badRequest("reading the file failed: " + err.Error())
		}
		if last && f.chunks == 0 {
			f.small = bytes.Clone(buf[:n])
			return f, nil
		}
		if n > 0 {
			if f.head == nil {
				f.head = bytes.Clone(buf[:min(n, 512)])
			}
			if err := store(f.chunks, buf[:n]); err != nil {
				return nil, err
			}
			f.chunks++
		}
		if last {
			return f, nil
		}
	}
}

// readImportForm streams the multipart body: the report is read once, up to
// the limit, chunk by chunk, and small fields are bounded so a hostile form
// cannot make us buffer more than a chunk.
func readImportForm(r *http.Request, w http.ResponseWriter, reportID uuid.UUID, store chunkStore) (*importForm, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return nil, statusErr(http.StatusUnsupportedMediaType, "send the report as multipart/form-data with fields scanner, file and target_id or target")
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxImportBody)
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
				return nil, errImportTooLarge
			}
			return nil, badRequest("malformed multipart body: " + err.Error())
		}
		name := part.FormName()
		if name == "file" {
			if f.file != nil {
				return nil, invalid("file", "send exactly one file")
			}
			f.filename = part.FileName()
			if f.file, err = readImportFile(part, reportID, store); err != nil {
				return nil, err
			}
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

// sniffReport is the API's cheap check of a report too large to parse here:
// its first byte must open the kind of document the format is (XML or JSON).
func sniffReport(scanner string, head []byte) error {
	b := bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\xef\xbb\xbf")), " \t\r\n")
	if len(b) == 0 {
		return domainerr.New(domainerr.Refused, scanner+": the report starts with nothing but white space")
	}
	xml, js := b[0] == '<', b[0] == '{' || b[0] == '['
	switch scanner {
	case "nmap", "zap":
		if !xml {
			return domainerr.New(domainerr.Refused, scanner+": the report is not XML")
		}
	case "nikto":
		if !xml && !js {
			return domainerr.New(domainerr.Refused, scanner+": the report is neither XML nor JSON")
		}
	default:
		if !js {
			return domainerr.New(domainerr.Refused, scanner+": the report is not JSON")
		}
	}
	return nil
}

// scanImport accepts a report from the tenant's own tools (Trivy in CI, a ZAP
// run, a DefectDojo generic export) and stores it through the same workflow
// and ingest path as a scan. Uploads are refused by Content-Length before
// anything is read, limited in number per tenant and in total, and streamed
// to the database; a small report is parsed here so a bad file is a 422
// naming the problem, a large one only sniffed and parsed by the worker.
func (s *Server) scanImport(w http.ResponseWriter, r *http.Request) error {
	if r.ContentLength > maxImportBody {
		return errImportTooLarge
	}
	a := accessFrom(r.Context())
	if err := requireTenant(a); err != nil {
		return err
	}
	// 402 before a byte is read: billing suspended or cancelled.
	if err := s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
		return payments.Hold(ctx, tx, a.TenantID)
	}); err != nil {
		return err
	}
	release, ok := s.imports.acquire(a.TenantID, s.ImportLimits)
	if !ok {
		w.Header().Set("Retry-After", "30")
		return statusErr(http.StatusTooManyRequests, "too many imports are being uploaded; retry after the time in Retry-After")
	}
	defer release()
	// An upload may take longer than the server's read timeout allows other
	// requests; it gets its own, still bounded, renewed chunk by chunk.
	rc := http.NewResponseController(w)
	readBy := time.Now().Add(importReadTimeout)
	extend := func() {
		d := time.Now().Add(importChunkWindow)
		if d.After(readBy) {
			d = readBy
		}
		_ = rc.SetReadDeadline(d)
	}
	extend()

	reportID := uuid.New()
	stored, done := false, false
	defer func() {
		if stored && !done {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 30*time.Second)
			defer cancel()
			if err := s.DB.InTx(ctx, scopeOf(a), func(ctx context.Context, tx pgx.Tx) error {
				return scans.DropReportChunks(ctx, tx, reportID)
			}); err != nil {
				s.logErr(r, "drop chunks of a refused import", err)
			}
		}
	}()
	form, err := readImportForm(r, w, reportID, func(seq int, data []byte) error {
		stored = true
		defer extend()
		return s.inTx(r, func(ctx context.Context, tx pgx.Tx, a *auth.Access) error {
			return scans.StoreReportChunk(ctx, tx, a.TenantID, reportID, seq, data)
		})
	})
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
	if !slices.Contains(parsers.Scanners, form.scanner) {
		return domainerr.New(domainerr.Refused, fmt.Sprintf("unknown report format %q; known: %s", form.scanner, strings.Join(parsers.Scanners, ", ")))
	}
	parsedCount := -1
	if form.file.chunks == 0 {
		parsed, err := parsers.Parse(form.scanner, form.file.small)
		if err != nil {
			return domainerr.New(domainerr.Refused, err.Error())
		}
		parsedCount = len(parsed)
	} else if err := sniffReport(form.scanner, form.file.head); err != nil {
		return err
	}
	var pt targets.Target
	if form.target != "" {
		if pt, err = targets.ParseAs(targets.Kind(form.targetKind), form.target); err != nil {
			return invalid("target", err.Error())
		}
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
		var rid uuid.UUID
		var err error
		if form.file.chunks == 0 {
			rid, err = scans.StoreReport(ctx, tx, a.TenantID, id, form.scanner, form.file.small)
		} else {
			rid, err = scans.StoreChunkedReport(ctx, tx, a.TenantID, id, reportID, form.scanner)
		}
		if err != nil {
			return err
		}
		in = scan.Input{TenantID: a.TenantID, ScanID: id, Target: t.Value, Scanners: []string{form.scanner}, ReportID: &rid}
		return audit(ctx, tx, r, a, uuid.Nil, "scan.imported", "scan", id.String(),
			map[string]any{"target": t.Value, "scanner": form.scanner, "bytes": form.file.size, "filename": form.filename})
	})
	if err != nil {
		return err
	}
	done = true // the chunks belong to a scan now
	if err := s.startScan(r, in); err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/scans/"+id.String())
	res := map[string]any{
		"id": id, "workflow_id": scan.WorkflowID(id), "status": "queued", "target": in.Target,
		"scanner": form.scanner, "bytes": form.file.size,
	}
	if parsedCount >= 0 {
		res["findings_in_report"] = parsedCount
	}
	writeJSON(w, http.StatusAccepted, res)
	return nil
}

// ImportLimits bounds the uploads in progress at once.
type ImportLimits struct {
	// PerTenant is the concurrent uploads of one tenant (0: 2).
	PerTenant int
	// Total is the concurrent uploads of the process (0: 8).
	Total int
}

// importSlots counts the uploads in progress, per tenant and in total.
type importSlots struct {
	mu       sync.Mutex
	total    int
	byTenant map[uuid.UUID]int
}

// acquire takes a slot for the tenant, or reports that none is free.
func (l *importSlots) acquire(tenant uuid.UUID, lim ImportLimits) (release func(), ok bool) {
	per, total := cmp.Or(lim.PerTenant, 2), cmp.Or(lim.Total, 8)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.total >= total || l.byTenant[tenant] >= per {
		return nil, false
	}
	if l.byTenant == nil {
		l.byTenant = map[uuid.UUID]int{}
	}
	l.total++
	l.byTenant[tenant]++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.total--
			if l.byTenant[tenant]--; l.byTenant[tenant] == 0 {
				delete(l.byTenant, tenant)
			}
		})
	}, true
}
