package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/secureops/secureops/internal/observability"
)

// logFields carries what inner middleware learns (the tenant) back out to the
// access log, which wraps them and only sees the outer request.
type logFields struct{ tenantID, userID string }

type logFieldsKey struct{}

// requestContext exposes chi's request id to clients and puts it on every log
// record of the request.
func requestContext(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := middleware.GetReqID(r.Context())
		w.Header().Set("X-Request-Id", id)
		ctx := observability.WithAttrs(r.Context(), slog.String("request_id", id))
		ctx = context.WithValue(ctx, logFieldsKey{}, &logFields{})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// recoverer turns a panic into a logged 500 problem: no panic reaches a user.
func recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				slog.ErrorContext(r.Context(), "panic in handler", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				writeProblem(w, Problem{Status: http.StatusInternalServerError, Detail: "internal error", Instance: r.URL.Path})
			}
		}()
		next.ServeHTTP(w, r)
	})
}

type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "secureops_http_requests_total", Help: "HTTP requests by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "secureops_http_request_duration_seconds", Help: "HTTP request latency by route pattern.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "method"}),
	}
	if reg != nil {
		// A second router on the same registry (tests) reuses the collectors.
		if err := reg.Register(m.requests); err != nil {
			if are, ok := err.(prometheus.AlreadyRegisteredError); ok {
				m.requests = are.ExistingCollector.(*prometheus.CounterVec)
			}
		}
		if err := reg.Register(m.duration); err != nil {
			if are, ok := err.(prometheus.AlreadyRegisteredError); ok {
				m.duration = are.ExistingCollector.(*prometheus.HistogramVec)
			}
		}
	}
	return m
}

// accessLog records one line and the metrics per request, labelled by the
// route pattern (not the raw path, which would explode label cardinality).
func (m *httpMetrics) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		route := chi.RouteContext(r.Context()).RoutePattern()
		if route == "" {
			route = "unmatched"
		}
		status := ww.Status()
		if status == 0 {
			status = http.StatusOK
		}
		d := time.Since(start)
		m.requests.WithLabelValues(route, r.Method, strconv.Itoa(status)).Inc()
		m.duration.WithLabelValues(route, r.Method).Observe(d.Seconds())
		attrs := []any{"method", r.Method, "route", route, "path", r.URL.Path, "status", status, "duration_ms", d.Milliseconds(), "bytes", ww.BytesWritten()}
		if lf, ok := r.Context().Value(logFieldsKey{}).(*logFields); ok && lf.tenantID != "" {
			attrs = append(attrs, "tenant_id", lf.tenantID, "user_id", lf.userID)
		}
		level := slog.LevelInfo
		if route == "/healthz" || route == "/readyz" || route == "/metrics" {
			level = slog.LevelDebug
		}
		slog.Log(r.Context(), level, "http request", attrs...)
	})
}
