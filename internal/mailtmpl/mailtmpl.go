// Package mailtmpl renders every email the platform sends from templates:
// embedded defaults (templates/<name>.txt and <name>.html) that an operator
// may override with files of the same names in EMAIL_TEMPLATES_DIR. The
// text file defines the subject ({{define "subject"}}…{{end}}); both files
// read the message's data (the types below) and the platform's brand
// ({{brand.Name}}, {{brand.SupportEmail}}, …). Branded puts the support
// address and legal footer under every message, and the brand's name over
// any "SecureOps" left in it: every sender calls it, once.
package mailtmpl

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html"
	htmltemplate "html/template"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	texttemplate "text/template"

	"github.com/secureops/secureops/internal/brand"
)

//go:embed templates/*.txt templates/*.html
var defaults embed.FS

// Names are the emails the platform sends, each a template pair.
var Names = []string{
	"welcome", "invite", "invitation", "ops",
	"scan-summary", "scan-critical", "kev-alert", "sla-notice", "report-ready", "billing",
}

// Set is a loaded set of templates: the defaults with an operator's overrides.
type Set struct {
	text map[string]*texttemplate.Template
	html map[string]*htmltemplate.Template
	// Overridden lists the files taken from the override directory.
	Overridden []string
}

// ErrUnknownTemplate is returned for a name not in Names.
var ErrUnknownTemplate = errors.New("unknown email template")

func funcs() map[string]any {
	return map[string]any{
		"brand": func() brand.Brand { return brand.Default }, // bound per render
		"join":  strings.Join,
	}
}

// Load parses the embedded defaults and, when dir is not "", the files of
// dir named <name>.txt or <name>.html over them. A file of another name, or
// one that does not parse, is an error naming it (a typo must not silently
// keep the default).
func Load(dir string) (*Set, error) {
	s := &Set{text: map[string]*texttemplate.Template{}, html: map[string]*htmltemplate.Template{}}
	read := func(fsys fs.FS, file string) (string, bool, error) {
		b, err := fs.ReadFile(fsys, file)
		if errors.Is(err, fs.ErrNotExist) {
			return "", false, nil
		}
		return string(b), err == nil, err
	}
	var over fs.FS
	if dir != "" {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("EMAIL_TEMPLATES_DIR: %w", err)
		}
		for _, e := range entries {
			if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			ext := filepath.Ext(e.Name())
			if name := strings.TrimSuffix(e.Name(), ext); (ext != ".txt" && ext != ".html") || !slices.Contains(Names, name) {
				return nil, fmt.Errorf("EMAIL_TEMPLATES_DIR: %s is no email template: name files <template>.txt or <template>.html, templates: %s", e.Name(), strings.Join(Names, ", "))
			}
		}
		over = os.DirFS(dir)
	}
	for _, name := range Names {
		for _, ext := range []string{".txt", ".html"} {
			src, _, err := read(defaults, "templates/"+name+ext)
			if err != nil {
				return nil, err
			}
			origin := "default " + name + ext
			if over != nil {
				o, ok, err := read(over, name+ext)
				if err != nil {
					return nil, fmt.Errorf("EMAIL_TEMPLATES_DIR: %w", err)
				}
				if ok {
					src, origin = o, filepath.Join(dir, name+ext)
					s.Overridden = append(s.Overridden, name+ext)
				}
			}
			if ext == ".txt" {
				t, err := texttemplate.New(name).Funcs(funcs()).Option("missingkey=error").Parse(src)
				if err != nil {
					return nil, fmt.Errorf("email template %s: %w", origin, err)
				}
				if t.Lookup("subject") == nil {
					return nil, fmt.Errorf("email template %s: no {{define \"subject\"}}…{{end}}", origin)
				}
				s.text[name] = t
			} else {
				t, err := htmltemplate.New(name).Funcs(funcs()).Option("missingkey=error").Parse(src)
				if err != nil {
					return nil, fmt.Errorf("email template %s: %w", origin, err)
				}
				s.html[name] = t
			}
		}
	}
	return s, nil
}

var defaultSet = func() *Set {
	s, err := Load("")
	if err != nil {
		panic(err)
	}
	return s
}()

// Default is the embedded templates.
func Default() *Set { return defaultSet }

// Message is a rendered email.
type Message struct {
	Subject, Text, HTML string
}

// Render renders template name with data (the type of that name in
// data.go) under brand b (zero: SecureOps'). A nil Set is the defaults. The
// sender brands the result (Branded) on its way out.
func (s *Set) Render(name string, b brand.Brand, data any) (Message, error) {
	if s == nil {
		s = defaultSet
	}
	if b.Name == "" {
		b = brand.Default
	}
	tt, ok := s.text[name]
	if !ok {
		return Message{}, fmt.Errorf("%w %q; templates: %s", ErrUnknownTemplate, name, strings.Join(Names, ", "))
	}
	bound := map[string]any{"brand": func() brand.Brand { return b }}
	tt, err := tt.Clone()
	if err != nil {
		return Message{}, err
	}
	tt.Funcs(bound)
	var subj, text, htm bytes.Buffer
	if err := tt.ExecuteTemplate(&subj, "subject", data); err != nil {
		return Message{}, fmt.Errorf("email template %s subject: %w", name, err)
	}
	if err := tt.Execute(&text, data); err != nil {
		return Message{}, fmt.Errorf("email template %s.txt: %w", name, err)
	}
	if ht := s.html[name]; ht != nil {
		ht, err := ht.Clone()
		if err != nil {
			return Message{}, err
		}
		ht.Funcs(bound)
		if err := ht.Execute(&htm, data); err != nil {
			return Message{}, fmt.Errorf("email template %s.html: %w", name, err)
		}
	}
	return Message{Subject: strings.Join(strings.Fields(subj.String()), " "), Text: strings.TrimLeft(text.String(), "\n"), HTML: strings.TrimSpace(htm.String())}, nil
}

// Branded puts brand b on a message: its name over ours (a text written for
// SecureOps), the support address and legal footer under the text and the
// HTML. Applied once per message, by whoever sends it.
func Branded(b brand.Brand, m Message) Message {
	if b.Name == "" {
		b = brand.Default
	}
	m.Subject, m.Text, m.HTML = b.Rename(m.Subject), b.Rename(m.Text), b.Rename(m.HTML)
	foot := "Questions: " + b.SupportEmail
	if b.LegalFooter != "" {
		foot += "\n" + b.LegalFooter
	}
	if m.Text != "" {
		m.Text = strings.TrimRight(m.Text, "\n") + "\n\n-- \n" + foot + "\n"
	}
	if m.HTML != "" {
		m.HTML += `<hr><p style="color:#666;font-size:12px">` + html.EscapeString(strings.ReplaceAll(foot, "\n", " · ")) + `</p>`
	}
	return m
}

// Where is a finding's location as emails print it: its URL, else
// host:port, else the scan's target.
func Where(url, host string, port int, target string) string {
	switch {
	case url != "":
		return url
	case host != "":
		return fmt.Sprintf("%s:%d", host, port)
	}
	return target
}
