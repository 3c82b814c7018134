package portal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-chi/chi/v5"
)

// The portal is a client of the API, called in-process: every rule, every
// permission check and every audit entry stays in one place (the API's route
// table and the domain layer under it), and a read-only member's forged POST
// is refused by the same code that refuses it from curl.

// APIError is the API's problem answer.
type APIError struct {
	Status int
	Type   string `json:"type"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
	Errors []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

func (e *APIError) Error() string {
	if e.Detail != "" {
		return e.Detail
	}
	return http.StatusText(e.Status)
}

// FieldErrors maps field → message, for forms.
func (e *APIError) FieldErrors() map[string]string {
	m := map[string]string{}
	for _, f := range e.Errors {
		m[f.Field] = f.Message
	}
	return m
}

// StatusOf is the API status behind err (0 when err is no API error).
func StatusOf(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// Cookies the portal keeps beside Kratos' session.
const (
	tenantCookie = "so_tenant"        // the tenant the person acts in (X-Tenant-Id)
	impCookie    = "so_impersonation" // a platform admin's impersonation token
)

// apiRequest builds the in-process request: the browser's cookies, tenant
// choice and impersonation, with its address for rate limits and audit.
func (p *Portal) apiRequest(r *http.Request, method, path string, body io.Reader, contentType string) (*http.Request, error) {
	// The API router must route this request afresh: without dropping chi's
	// route context it would take the page's as a sub-router's.
	ctx := context.WithValue(r.Context(), chi.RouteCtxKey, nil)
	req, err := http.NewRequestWithContext(ctx, method, path, body)
	if err != nil {
		return nil, err
	}
	req.RemoteAddr = r.RemoteAddr
	req.Host = r.Host
	if c := r.Header.Get("Cookie"); c != "" {
		req.Header.Set("Cookie", c)
	}
	if id := r.Header.Get("X-Request-Id"); id != "" {
		req.Header.Set("X-Request-Id", id)
	}
	for _, h := range []string{"X-Forwarded-For", "X-Real-Ip", "User-Agent"} {
		if v := r.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	if t := tenantOf(r); t != "" {
		req.Header.Set("X-Tenant-Id", t)
	}
	if c, err := r.Cookie(impCookie); err == nil && c.Value != "" {
		req.Header.Set("X-Impersonation", c.Value)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	return req, nil
}

// tenantOf is the tenant chosen in the switcher ("" for the default). The
// request's ?tenant= wins so a link can name it.
func tenantOf(r *http.Request) string {
	if t := r.URL.Query().Get("tenant"); t != "" {
		return t
	}
	if c, err := r.Cookie(tenantCookie); err == nil {
		return c.Value
	}
	return ""
}

// call runs one API operation as the browser's session: in is sent as JSON
// (nil: no body), a 2xx answer is decoded into out (nil: discarded), and
// anything else returns an *APIError.
func (p *Portal) call(r *http.Request, method, path string, in, out any) error {
	var body io.Reader
	ct := ""
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body, ct = bytes.NewReader(b), "application/json"
	}
	rec, err := p.exchange(r, method, path, body, ct)
	if err != nil {
		return err
	}
	if out == nil || rec.body.Len() == 0 {
		return nil
	}
	if err := json.Unmarshal(rec.body.Bytes(), out); err != nil {
		return fmt.Errorf("portal: decoding %s %s: %w", method, path, err)
	}
	return nil
}

// get is call for a GET with query parameters.
func (p *Portal) get(r *http.Request, path string, q url.Values, out any) error {
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	return p.call(r, http.MethodGet, path, nil, out)
}

// exchange sends one request to the API in-process as the browser's
// person and returns its answer; a 4xx or 5xx is an *APIError.
func (p *Portal) exchange(r *http.Request, method, path string, body io.Reader, contentType string) (*recorder, error) {
	req, err := p.apiRequest(r, method, path, body, contentType)
	if err != nil {
		return nil, err
	}
	rec := &recorder{header: http.Header{}}
	p.api().ServeHTTP(rec, req)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if rec.status >= 400 {
		ae := &APIError{Status: rec.status}
		_ = json.Unmarshal(rec.body.Bytes(), ae)
		return nil, ae
	}
	return rec, nil
}

// recorder keeps an in-process API answer.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *recorder) Header() http.Header { return w.header }
func (w *recorder) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
}
func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(b)
}

// stream runs a streaming API operation (server-sent events) and hands each
// event's data to fn until the stream ends, fn returns false or ctx ends.
func (p *Portal) stream(ctx context.Context, r *http.Request, path string, fn func(event, data string) bool) error {
	req, err := p.apiRequest(r.WithContext(ctx), http.MethodGet, path, nil, "")
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req = req.WithContext(ctx)
	pr, pw := io.Pipe()
	sw := &streamWriter{header: http.Header{}, pw: pw, started: make(chan struct{})}
	go func() {
		p.api().ServeHTTP(sw, req)
		sw.start(http.StatusOK)
		_ = pw.Close()
	}()
	<-sw.started
	if sw.status >= 400 {
		b, _ := io.ReadAll(pr)
		ae := &APIError{Status: sw.status}
		_ = json.Unmarshal(b, ae)
		return ae
	}
	defer pr.Close()
	return readSSE(pr, func(ev, data string) bool {
		if !fn(ev, data) {
			cancel()
			return false
		}
		return true
	})
}

type streamWriter struct {
	header  http.Header
	status  int
	pw      *io.PipeWriter
	started chan struct{}
	once    bool
}

func (w *streamWriter) Header() http.Header { return w.header }
func (w *streamWriter) start(s int) {
	if !w.once {
		w.once, w.status = true, s
		close(w.started)
	}
}
func (w *streamWriter) WriteHeader(s int)           { w.start(s) }
func (w *streamWriter) Write(b []byte) (int, error) { w.start(http.StatusOK); return w.pw.Write(b) }
func (w *streamWriter) Flush()                      {}

// readSSE splits a text/event-stream into events.
func readSSE(rd io.Reader, fn func(event, data string) bool) error {
	buf := make([]byte, 0, 64<<10)
	tmp := make([]byte, 32<<10)
	for {
		n, err := rd.Read(tmp)
		buf = append(buf, tmp[:n]...)
		for {
			i := bytes.Index(buf, []byte("\n\n"))
			if i < 0 {
				break
			}
			block := string(buf[:i])
			buf = buf[i+2:]
			ev, data := "message", ""
			for _, line := range strings.Split(block, "\n") {
				switch {
				case strings.HasPrefix(line, "event:"):
					ev = strings.TrimSpace(line[len("event:"):])
				case strings.HasPrefix(line, "data:"):
					if data != "" {
						data += "\n"
					}
					data += strings.TrimPrefix(line[len("data:"):], " ")
				}
			}
			if data != "" && !fn(ev, data) {
				return nil
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
