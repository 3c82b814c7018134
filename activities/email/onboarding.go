package email

import (
	"context"
	"fmt"
	"html/template"
	"strings"
	texttemplate "text/template"

	"github.com/google/uuid"
	"go.temporal.io/sdk/temporal"

	"github.com/secureops/secureops/internal/contract/onboarding"
	"github.com/secureops/secureops/internal/kratos"
)

// WelcomeKey is the welcome email's idempotency key: one per tenant and
// onboarding attempt. A failed attempt deleted the identity its email's
// recovery link was for, so a restarted onboarding sends a new one.
func WelcomeKey(tenant uuid.UUID, attempt int) string {
	k := "email/welcome/" + tenant.String()
	if attempt > 1 {
		k += fmt.Sprintf("/attempt-%d", attempt)
	}
	return k
}

const welcomeText = `Hello {{.In.ContactName}},

welcome to SecureOps. {{.In.CompanyName}} is set up on the {{.In.Tier}} plan{{if .In.TrialDays}} with a {{.In.TrialDays}}-day free trial{{end}}.

1. Set your password: {{.Recovery.Link}}
   (or enter the code {{.Recovery.Code}}; the link works for 72 hours)
2. Reveal your first API key, once, after you signed in:
   POST {{.URL}}/api/v1/api-keys/initial/reveal
   It is not in this email on purpose, and it is erased after 7 days if nobody reveals it.
3. Start a scan with it:
   curl -H "Authorization: Bearer <key>" -H "Content-Type: application/json" \
        -d '{"target":"<your host>"}' {{.URL}}/api/v1/scans
{{- if .In.InitialTarget}}

We have started a first scan of {{.In.InitialTarget}}; its findings appear in your scans list.
{{- end}}

The API reference: {{.URL}}/docs

The SecureOps team
`

const welcomeHTML = `<p>Hello {{.In.ContactName}},</p>
<p>welcome to SecureOps. {{.In.CompanyName}} is set up on the {{.In.Tier}} plan{{if .In.TrialDays}} with a {{.In.TrialDays}}-day free trial{{end}}.</p>
<ol>
<li><a href="{{.Recovery.Link}}">Set your password</a> (or enter the code <code>{{.Recovery.Code}}</code>; the link works for 72 hours).</li>
<li>Reveal your first API key, once, after you signed in: <code>POST {{.URL}}/api/v1/api-keys/initial/reveal</code>. It is not in this email on purpose, and it is erased after 7 days if nobody reveals it.</li>
<li>Start a scan with it: <code>POST {{.URL}}/api/v1/scans</code> with <code>{"target":"&lt;your host&gt;"}</code>.</li>
</ol>
{{if .In.InitialTarget}}<p>We have started a first scan of {{.In.InitialTarget}}; its findings appear in your scans list.</p>{{end}}
<p><a href="{{.URL}}/docs">API reference</a></p>
<p>The SecureOps team</p>
`

var (
	welcomeTextTmpl = texttemplate.Must(texttemplate.New("welcome").Parse(welcomeText))
	welcomeHTMLTmpl = template.Must(template.New("welcome").Parse(welcomeHTML))
)

// SendWelcome sends the owner a recovery link and a quick-start guide. The
// link and code are asked of Kratos here, at send time, so they appear in no
// workflow input or result; the outbox keeps the message without them
// (unless RevealSecrets, in dev). The API key is never in it.
func (a *Activities) SendWelcome(ctx context.Context, in onboarding.WelcomeInput) (string, error) {
	if a.Kratos == nil {
		return "", temporal.NewNonRetryableApplicationError("Kratos is not configured (KRATOS_PUBLIC_URL, KRATOS_ADMIN_URL)", onboarding.ErrNotConfigured, nil)
	}
	if done, err := a.sentAlready(ctx, WelcomeKey(in.TenantID, in.Attempt)); err != nil || done {
		// A retry after the message went out must not mint a code nobody gets.
		return "", err
	}
	rec, err := a.Kratos.RecoveryCode(ctx, in.OwnerID, onboarding.RecoveryValidity)
	if err != nil {
		return "", err
	}
	data := struct {
		In       onboarding.WelcomeInput
		URL      string
		Recovery kratos.Recovery
	}{in, a.PublicURL, rec}
	var text, html strings.Builder
	if err := welcomeTextTmpl.Execute(&text, data); err != nil {
		return "", err
	}
	if err := welcomeHTMLTmpl.Execute(&html, data); err != nil {
		return "", err
	}
	return a.Send(ctx, Message{
		TenantID: in.TenantID, IdempotencyKey: WelcomeKey(in.TenantID, in.Attempt), To: in.To,
		Subject: "Welcome to SecureOps: set your password", Text: text.String(), HTML: html.String(), Category: "welcome",
		Secrets: []string{rec.Link, rec.Code},
	})
}

// NotifyOps tells operators (OPS_EMAIL) an onboarding finished or failed;
// without OPS_EMAIL it does nothing. One message per event and attempt.
func (a *Activities) NotifyOps(ctx context.Context, in onboarding.OpsInput) (string, error) {
	if a.OpsEmail == "" {
		return "", nil
	}
	subject := fmt.Sprintf("[SecureOps] onboarding %s: %s (%s)", in.Event, in.CompanyName, in.Slug)
	body := fmt.Sprintf("Tenant %s (%s, id %s) on the %s plan: onboarding %s.\nWorkflow: %s (attempt %d)\n",
		in.CompanyName, in.Slug, in.TenantID, in.Tier, in.Event, in.WorkflowID, in.Attempt)
	if in.Reason != "" {
		body += "Reason: " + in.Reason + "\nCompensations have run; reset the workflow in the Temporal Web UI to try again.\n"
	}
	return a.Send(ctx, Message{
		TenantID: in.TenantID, IdempotencyKey: fmt.Sprintf("email/ops/%s/%s/%d", in.TenantID, in.Event, in.Attempt),
		To: a.OpsEmail, Subject: subject, Text: body, Category: "ops",
	})
}
