// Package llmtriage asks an OpenAI-compatible model (through langchaingo's
// openai provider) for a triage decision on findings the rules have already
// decided: valid, false_positive or needs_review, with a confidence, a
// one-paragraph reasoning and a remediation. It is the LLM step of the triage
// workflow; the rules' decision stands whenever this package gives no answer
// (no model configured, the tenant has not opted in) or an error (the model
// failed, timed out or answered nonsense twice).
//
// What the model may and may not do:
//   - Numbers (EPSS, CVSS, priority) never come from it: its answer has no
//     such field, and the one number it gives (confidence) is bounded 0–1.
//   - It may not call a KEV finding, or one with EPSS ≥ 0.5, a false
//     positive: such an answer becomes needs_review (see Guard).
//   - Scanner output (evidence, description, title) is untrusted data: it is
//     truncated and fenced, and the prompt says so.
//
// Answers are cached per tenant and (fingerprint, prompt version, model) in
// llm_triage_cache, so a re-scan does not ask again; a tenant's findings go to
// the model only after the tenant opted in (tenants.settings llm_opt_in).
package llmtriage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/llms/openai"

	"github.com/secureops/secureops/internal/config"
	"github.com/secureops/secureops/internal/db"
	"github.com/secureops/secureops/internal/db/dbq"
	"github.com/secureops/secureops/internal/triagerules"
)

// PromptVersion names the prompt and answer schema below; change it whenever
// either changes, so cached answers of the old prompt are not reused.
const PromptVersion = "triage-2026-12-03.1"

// Decisions the model may give.
const (
	DecisionValid         = "valid"
	DecisionFalsePositive = "false_positive"
	DecisionNeedsReview   = "needs_review"
)

// Defaults of Options.
const (
	DefaultBatchSize     = 20
	DefaultTimeout       = 90 * time.Second
	DefaultEvidenceLimit = 2000
)

// ErrModel wraps every failure of the model itself (unreachable, an HTTP
// error, a timeout, an invalid answer twice): the caller keeps the rules'
// decision. A database error is returned unwrapped.
var ErrModel = errors.New("llmtriage: model failed")

// Item is one finding to decide, with what the rules decided.
type Item struct {
	FindingID      uuid.UUID
	Fingerprint    string
	Scanner        string
	RuleID         string
	Title          string
	Severity       string
	Target         string
	Component      string
	Evidence       string
	Description    string
	CVEs           []string
	CWEs           []string
	KEV            bool
	EPSS           float64
	RulesDecision  string
	RulesReasoning string
}

// Example is an analyst's earlier decision on a similar finding (same rule id
// or CWE), shown to the model as a precedent.
type Example struct {
	RuleID   string
	CWE      string
	Title    string
	Decision string // valid | false_positive | needs_review
	Reason   string // the analyst's why
}

// Answer is the model's decision on one finding, after the guards.
type Answer struct {
	FindingID     uuid.UUID
	Decision      string // valid | false_positive | needs_review
	Confidence    float64
	Reasoning     string
	Remediation   string
	Model         string
	PromptVersion string
	Cached        bool // from llm_triage_cache, no request made
}

// Options tune a Client; zero values take the defaults.
type Options struct {
	BatchSize     int           // findings per request
	Timeout       time.Duration // per request
	EvidenceLimit int           // bytes of evidence kept per finding
	HTTPClient    *http.Client  // for the openai provider (nil: http.DefaultClient)
}

// Client decides findings with one model. A nil *Client is valid: no model
// is configured and Decide answers nothing.
type Client struct {
	db    *db.DB
	model string
	// strict asks with the json_schema response format; loose without it,
	// with JSON mode, once the server refused the schema.
	strict, loose llms.Model
	noSchema      atomic.Bool
	opts          Options
}

// New returns the client of cfg's model, or nil (no model) when cfg names
// none.
func New(cfg config.LLM, d *db.DB, o Options) (*Client, error) {
	if !cfg.Configured() {
		return nil, nil
	}
	common := []openai.Option{
		openai.WithBaseURL(strings.TrimRight(cfg.BaseURL, "/")),
		openai.WithModel(cfg.Model),
		// The provider refuses an empty token; servers without keys
		// (Ollama, llama.cpp) ignore the header.
		openai.WithToken(orDefault(cfg.APIKey, "none")),
	}
	if o.HTTPClient != nil {
		common = append(common, openai.WithHTTPClient(o.HTTPClient))
	}
	strict, err := openai.New(append(common, openai.WithResponseFormat(ResponseFormat()))...)
	if err != nil {
		return nil, fmt.Errorf("llmtriage: %w", err)
	}
	loose, err := openai.New(common...)
	if err != nil {
		return nil, fmt.Errorf("llmtriage: %w", err)
	}
	return newClient(cfg.Model, strict, loose, d, o), nil
}

// NewWithModel returns a client over any langchaingo model (llms/fake in
// tests, another provider), named name in answers and the cache. It is
// asked in JSON mode, with no response format of its own.
func NewWithModel(name string, m llms.Model, d *db.DB, o Options) *Client {
	return newClient(name, m, m, d, o)
}

func newClient(name string, strict, loose llms.Model, d *db.DB, o Options) *Client {
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.EvidenceLimit <= 0 {
		o.EvidenceLimit = DefaultEvidenceLimit
	}
	return &Client{db: d, model: name, strict: strict, loose: loose, opts: o}
}

// Model is the model's name ("" for a nil client).
func (c *Client) Model() string {
	if c == nil {
		return ""
	}
	return c.model
}

// OptedIn reports whether tenant agreed to send its findings to an outside
// model.
func (c *Client) OptedIn(ctx context.Context, tenant uuid.UUID) (bool, error) {
	var in bool
	err := c.db.InTx(ctx, db.TenantScope(tenant), func(ctx context.Context, tx pgx.Tx) error {
		var err error
		in, err = db.Q.LLMTriageOptIn(ctx, tx, tenant)
		return err
	})
	if db.IsNotFound(err) {
		return false, nil
	}
	return in, err
}

// Decide answers items of tenant: cached answers first, then the model, in
// batches of Options.BatchSize, with examples (analyst precedents; those
// matching a batch's rule ids or CWEs are shown with it). It answers nothing
// and sends nothing when c is nil (no model) or the tenant has not opted in.
// Every answer has passed Guard. On an error the answers of the batches that
// succeeded are returned with it (and cached); the rules stand for the rest.
func (c *Client) Decide(ctx context.Context, tenant uuid.UUID, items []Item, examples ...Example) ([]Answer, error) {
	if c == nil || len(items) == 0 {
		return nil, nil
	}
	in, err := c.OptedIn(ctx, tenant)
	if err != nil || !in {
		return nil, err
	}
	cached, err := c.cacheGet(ctx, tenant, items)
	if err != nil {
		return nil, err
	}
	var out []Answer
	var ask []Item
	seen := make(map[uuid.UUID]bool, len(items))
	for _, it := range items {
		if seen[it.FindingID] { // one answer per finding
			continue
		}
		seen[it.FindingID] = true
		if a, ok := cached[it.Fingerprint]; ok && it.Fingerprint != "" {
			a.FindingID = it.FindingID
			out = append(out, Guard(it, a))
			continue
		}
		ask = append(ask, it)
	}
	for start := 0; start < len(ask); start += c.opts.BatchSize {
		batch := ask[start:min(start+c.opts.BatchSize, len(ask))]
		answers, err := c.ask(ctx, batch, relevant(examples, batch))
		if err != nil {
			return out, err
		}
		if err := c.cachePut(ctx, tenant, batch, answers); err != nil {
			return out, err
		}
		for i, it := range batch {
			out = append(out, Guard(it, answers[i]))
		}
	}
	return out, nil
}

// Guard applies what the model may not decide: a finding in CISA KEV or with
// EPSS ≥ 0.5 is never a false positive on the model's word (it becomes
// needs_review, for an analyst; the rule is triagerules.NeverFalsePositive). It also stamps the answer's finding,
// model-independent fields.
func Guard(it Item, a Answer) Answer {
	a.FindingID = it.FindingID
	a.PromptVersion = orDefault(a.PromptVersion, PromptVersion)
	if a.Decision != DecisionFalsePositive {
		return a
	}
	epss := it.EPSS
	why, guarded := triagerules.NeverFalsePositive(it.KEV, &epss)
	if !guarded {
		return a
	}
	a.Decision = DecisionNeedsReview
	a.Reasoning = "The model proposed false_positive, but " + why + ": an analyst decides. Model: " + a.Reasoning
	return a
}

// ask sends one batch, falling back to JSON mode when the server refuses
// the schema and asking once more when the answer is invalid. The answers
// come back in batch order, unguarded.
func (c *Client) ask(ctx context.Context, batch []Item, examples []Example) ([]Answer, error) {
	msgs := []llms.MessageContent{
		llms.TextParts(llms.ChatMessageTypeSystem, systemPrompt),
		llms.TextParts(llms.ChatMessageTypeHuman, userPrompt(batch, examples, c.opts.EvidenceLimit)),
	}
	var lastErr error
	for attempt := 0; attempt < 2; attempt++ {
		content, err := c.call(ctx, msgs)
		if err != nil {
			return nil, err
		}
		answers, verr := parseAnswers(content, batch)
		if verr == nil {
			for i := range answers {
				answers[i].Model = c.model
				answers[i].PromptVersion = PromptVersion
			}
			return answers, nil
		}
		lastErr = verr
		msgs = append(msgs,
			llms.TextParts(llms.ChatMessageTypeAI, truncate(content, 4000)),
			llms.TextParts(llms.ChatMessageTypeHuman, "That answer is invalid: "+verr.Error()+
				". Answer again: one JSON object {\"answers\": [...]} with exactly one entry for each finding id given, and nothing else."))
	}
	return nil, fmt.Errorf("%w: invalid answer twice: %w", ErrModel, lastErr)
}

// call makes one request within the timeout.
func (c *Client) call(ctx context.Context, msgs []llms.MessageContent) (string, error) {
	for {
		ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
		m, opts := c.strict, []llms.CallOption{llms.WithTemperature(0)}
		fallback := c.noSchema.Load()
		if fallback || c.strict == c.loose {
			m, opts = c.loose, append(opts, llms.WithJSONMode())
		}
		resp, err := m.GenerateContent(ctx, msgs, opts...)
		cerr := ctx.Err()
		cancel()
		switch {
		case err == nil && (resp == nil || len(resp.Choices) == 0):
			return "", fmt.Errorf("%w: no choices", ErrModel)
		case err == nil:
			return resp.Choices[0].Content, nil
		case cerr != nil:
			return "", fmt.Errorf("%w: %w (%v)", ErrModel, cerr, err)
		case !fallback && c.strict != c.loose && refusesSchema(err):
			c.noSchema.Store(true)
			continue
		default:
			return "", fmt.Errorf("%w: %w", ErrModel, err)
		}
	}
}

// refusesSchema recognises a server's "no json_schema response format here"
// (a 4xx naming the response format or the schema).
func refusesSchema(err error) bool {
	s := strings.ToLower(err.Error())
	if !strings.Contains(s, "status code: 4") {
		return false
	}
	for _, w := range []string{"response_format", "json_schema", "schema", "not supported", "unsupported"} {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

type wireAnswer struct {
	ID          string   `json:"id"`
	Decision    string   `json:"decision"`
	Confidence  *float64 `json:"confidence"`
	Reasoning   string   `json:"reasoning"`
	Remediation string   `json:"remediation"`
}

// parseAnswers validates the model's answer against batch: a JSON object
// {"answers": [...]}, one answer per finding id and no other, a known
// decision, a confidence within 0–1, a reasoning.
func parseAnswers(content string, batch []Item) ([]Answer, error) {
	s := strings.TrimSpace(content)
	if rest, ok := strings.CutPrefix(s, "```"); ok { // JSON mode servers sometimes fence
		rest = strings.TrimPrefix(rest, "json")
		s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "```"))
	}
	var body struct {
		Answers []wireAnswer `json:"answers"`
	}
	dec := json.NewDecoder(strings.NewReader(s))
	if err := dec.Decode(&body); err != nil {
		return nil, fmt.Errorf("not the JSON object asked for: %v", err)
	}
	index := make(map[string]int, len(batch))
	for i, it := range batch {
		index[it.FindingID.String()] = i
	}
	out := make([]Answer, len(batch))
	seen := make([]bool, len(batch))
	for _, w := range body.Answers {
		i, ok := index[strings.ToLower(strings.TrimSpace(w.ID))]
		switch {
		case !ok:
			return nil, fmt.Errorf("id %q is not one of the findings given", truncate(w.ID, 64))
		case seen[i]:
			return nil, fmt.Errorf("id %s answered twice", w.ID)
		case w.Decision != DecisionValid && w.Decision != DecisionFalsePositive && w.Decision != DecisionNeedsReview:
			return nil, fmt.Errorf("id %s: decision %q is not valid, false_positive or needs_review", w.ID, truncate(w.Decision, 32))
		case w.Confidence == nil || *w.Confidence < 0 || *w.Confidence > 1:
			return nil, fmt.Errorf("id %s: confidence must be a number from 0 to 1", w.ID)
		case strings.TrimSpace(w.Reasoning) == "":
			return nil, fmt.Errorf("id %s: reasoning is empty", w.ID)
		}
		seen[i] = true
		out[i] = Answer{
			FindingID:   batch[i].FindingID,
			Decision:    w.Decision,
			Confidence:  *w.Confidence,
			Reasoning:   truncate(strings.TrimSpace(w.Reasoning), 2000),
			Remediation: truncate(strings.TrimSpace(w.Remediation), 4000),
		}
	}
	var missing []string
	for i, ok := range seen {
		if !ok {
			missing = append(missing, batch[i].FindingID.String())
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("no answer for %s", strings.Join(missing, ", "))
	}
	return out, nil
}

func (c *Client) cacheGet(ctx context.Context, tenant uuid.UUID, items []Item) (map[string]Answer, error) {
	var fps []string
	for _, it := range items {
		if it.Fingerprint != "" {
			fps = append(fps, it.Fingerprint)
		}
	}
	out := map[string]Answer{}
	if len(fps) == 0 {
		return out, nil
	}
	err := c.db.InTx(ctx, db.TenantScope(tenant), func(ctx context.Context, tx pgx.Tx) error {
		rows, err := db.Q.LLMTriageCacheGet(ctx, tx, dbq.LLMTriageCacheGetParams{
			TenantID: tenant, PromptVersion: PromptVersion, Model: c.model, Fingerprints: fps})
		for _, r := range rows {
			out[r.Fingerprint] = Answer{Decision: r.Decision, Confidence: float64(r.Confidence), Reasoning: r.Reasoning,
				Remediation: r.Remediation, Model: c.model, PromptVersion: PromptVersion, Cached: true}
		}
		return err
	})
	return out, err
}

func (c *Client) cachePut(ctx context.Context, tenant uuid.UUID, batch []Item, answers []Answer) error {
	return c.db.InTx(ctx, db.TenantScope(tenant), func(ctx context.Context, tx pgx.Tx) error {
		for i, it := range batch {
			if it.Fingerprint == "" {
				continue
			}
			a := answers[i]
			if err := db.Q.LLMTriageCachePut(ctx, tx, dbq.LLMTriageCachePutParams{
				TenantID: tenant, Fingerprint: it.Fingerprint, PromptVersion: PromptVersion, Model: c.model,
				Decision: a.Decision, Confidence: float32(a.Confidence), Reasoning: a.Reasoning, Remediation: a.Remediation,
			}); err != nil {
				return err
			}
		}
		return nil
	})
}

// SetOptIn records tenant's consent (or its withdrawal) to send its findings
// to an outside model, in the caller's transaction (the API's, with its
// scope). found is false when the tenant is not in the transaction's scope.
func SetOptIn(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, optIn bool) (found bool, err error) {
	raw, err := db.Q.LLMTriageSetOptIn(ctx, tx, dbq.LLMTriageSetOptInParams{TenantID: tenant, OptIn: optIn})
	if err != nil {
		return false, err
	}
	return raw != nil && string(raw) != "null", nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
