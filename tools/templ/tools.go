//go:build tools

// Package tools pins the templ code generator in its own module, so its
// language-server dependencies stay out of the product's module graph.
package tools

import _ "github.com/a-h/templ/cmd/templ"
