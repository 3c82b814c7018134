package devserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
	"go.uber.org/zap/zapcore"
)

// parseLevel accepts the usual names case-insensitively; "" keeps the server
// quiet because at info it logs several lines per second even when idle.
func parseLevel(s string) (slog.Level, error) {
	if s == "" {
		return slog.LevelWarn, nil
	}
	if strings.EqualFold(s, "warning") {
		s = "warn"
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("devserver: log level %q: %w", s, err)
	}
	return l, nil
}

// minLevelHandler drops records below min whatever the wrapped handler's own
// level is, so a caller's info-level logger does not get the server's chatter.
// min is shared so Stop can raise it for every derived logger at once.
type minLevelHandler struct {
	min  *slog.LevelVar
	next slog.Handler
}

func (h minLevelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min.Level() && h.next.Enabled(ctx, l)
}

func (h minLevelHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.next.Handle(ctx, r)
}

func (h minLevelHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return minLevelHandler{min: h.min, next: h.next.WithAttrs(attrs)}
}

func (h minLevelHandler) WithGroup(name string) slog.Handler {
	return minLevelHandler{min: h.min, next: h.next.WithGroup(name)}
}

func filteredLogger(l *slog.Logger, min *slog.LevelVar) *slog.Logger {
	return slog.New(minLevelHandler{min: min, next: l.Handler()})
}

// serverLogger implements the server's log.Logger on top of slog.
type serverLogger struct {
	l    *slog.Logger // already level-filtered
	tags []tag.Tag    // from With, converted only when something is logged
}

var (
	_ log.Logger      = serverLogger{}
	_ log.WithLogger  = serverLogger{}
	_ log.SLogWrapper = serverLogger{}
)

func (s serverLogger) Debug(msg string, tags ...tag.Tag) { s.log(slog.LevelDebug, msg, tags) }
func (s serverLogger) Info(msg string, tags ...tag.Tag)  { s.log(slog.LevelInfo, msg, tags) }
func (s serverLogger) Warn(msg string, tags ...tag.Tag)  { s.log(slog.LevelWarn, msg, tags) }
func (s serverLogger) Error(msg string, tags ...tag.Tag) { s.log(slog.LevelError, msg, tags) }

// DPanic only panics in zap's development mode; the server never runs in it.
func (s serverLogger) DPanic(msg string, tags ...tag.Tag) { s.log(slog.LevelError, msg, tags) }

// Panic and Fatal must not return: the server calls Fatal when, for example, a
// listener cannot be created and would go on with a nil listener. A panic
// (recovered in Start when it happens there) beats os.Exit in a host process.
func (s serverLogger) Panic(msg string, tags ...tag.Tag) {
	s.log(slog.LevelError, msg, tags)
	panic(fatalError(msg, append(s.tags[:len(s.tags):len(s.tags)], tags...)))
}

func (s serverLogger) Fatal(msg string, tags ...tag.Tag) {
	s.log(slog.LevelError, msg, tags)
	panic(fatalError(msg, append(s.tags[:len(s.tags):len(s.tags)], tags...)))
}

// With is called per request all over the server while almost nothing it
// builds is logged at warn, so converting tags (Value() runs a zap encoder)
// waits until a message passes the level.
func (s serverLogger) With(tags ...tag.Tag) log.Logger {
	return serverLogger{l: s.l, tags: append(s.tags[:len(s.tags):len(s.tags)], tags...)}
}

// SLog is used by server components that want slog directly; returning the
// filtered logger keeps them under the same level.
func (s serverLogger) SLog() *slog.Logger {
	if len(s.tags) == 0 {
		return s.l
	}
	return slog.New(s.l.Handler().WithAttrs(attrs(s.tags)))
}

func (s serverLogger) log(level slog.Level, msg string, tags []tag.Tag) {
	ctx := context.Background()
	if !s.l.Enabled(ctx, level) {
		return
	}
	if len(s.tags) > 0 {
		tags = append(s.tags[:len(s.tags):len(s.tags)], tags...)
	}
	if isNoise(msg, tags) {
		return
	}
	s.l.LogAttrs(ctx, level, msg, attrs(tags)...)
}

// isNoise matches messages that every start prints and that say nothing
// useful here:
//   - the HTTP API only serves Nexus, which we do not use, and enabling it
//     would cost another port;
//   - the server's own internal worker races the frontend's health flag at
//     start and retries; Start itself waits for health.
func isNoise(msg string, tags []tag.Tag) bool {
	if strings.HasPrefix(msg, "HTTP API port has not been set") {
		return true
	}
	for _, t := range tags {
		if err, ok := tagValue(t).(error); ok && strings.Contains(err.Error(), "Frontend is not healthy yet") {
			return true
		}
	}
	return false
}

func tagValue(t tag.Tag) any {
	if zt, ok := t.(tag.ZapTag); ok {
		if f := zt.Field(); f.Type == zapcore.ErrorType {
			return f.Interface // Value() would flatten the error to text
		}
	}
	return t.Value()
}

func attrs(tags []tag.Tag) []slog.Attr {
	out := make([]slog.Attr, len(tags))
	for i, t := range tags {
		out[i] = slog.Any(t.Key(), tagValue(t))
	}
	return out
}

func fatalError(msg string, tags []tag.Tag) error {
	var b strings.Builder
	b.WriteString("temporal server: ")
	b.WriteString(msg)
	for _, t := range tags {
		fmt.Fprintf(&b, " %s=%v", t.Key(), tagValue(t))
	}
	return errors.New(b.String())
}
