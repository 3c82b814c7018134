package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/secureops/secureops/internal/config"
	"github.com/secureops/secureops/internal/mailtmpl"
)

// adminEmailCmd: `secureops admin email preview --template welcome` renders
// an email as it would go out (BRAND_*, EMAIL_TEMPLATES_DIR, the public
// URL) with sample data, so an operator sees an override before deploying.
func adminEmailCmd() *cobra.Command {
	c := &cobra.Command{Use: "email", Short: "Email templates"}
	var name, format, out string
	preview := &cobra.Command{
		Use:   "preview",
		Short: "Render an email template with sample data (text, html or both)",
		Long: "Renders an email template the way the platform sends it: the brand (BRAND_*), the operator's\n" +
			"templates (EMAIL_TEMPLATES_DIR) over the embedded defaults, sample data.\nTemplates: " + strings.Join(mailtmpl.Names, ", "),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.FromEnv(config.ModeDev)
			if err != nil {
				return err
			}
			data := mailtmpl.Sample(name, cfg.PublicURL)
			if data == nil {
				return fmt.Errorf("%w %q; templates: %s", mailtmpl.ErrUnknownTemplate, name, strings.Join(mailtmpl.Names, ", "))
			}
			m, err := cfg.EmailTemplates.Render(name, cfg.Brand, data)
			if err != nil {
				return err
			}
			m = mailtmpl.Branded(cfg.Brand, m)
			var doc string
			switch format {
			case "text":
				doc = "Subject: " + m.Subject + "\n\n" + m.Text
			case "html":
				doc = "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>" + htmlEscape(m.Subject) + "</title></head><body>\n" + m.HTML + "\n</body></html>\n"
			case "both":
				doc = "Subject: " + m.Subject + "\n\n--- text ---\n" + m.Text + "\n--- html ---\n" + m.HTML + "\n"
			default:
				return errors.New("--format: text, html or both")
			}
			if out == "" || out == "-" {
				_, err = fmt.Fprint(cmd.OutOrStdout(), doc)
				return err
			}
			return os.WriteFile(out, []byte(doc), 0o644)
		},
	}
	preview.Flags().StringVar(&name, "template", "", "the template ("+strings.Join(mailtmpl.Names, ", ")+")")
	preview.Flags().StringVar(&format, "format", "both", "text, html (a whole page) or both")
	preview.Flags().StringVar(&out, "out", "", "write to this file instead of standard output")
	_ = preview.MarkFlagRequired("template")
	c.AddCommand(preview)
	return c
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}
