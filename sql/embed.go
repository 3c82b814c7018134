// Package sql embeds the goose migrations so every binary can migrate the
// database it is pointed at without shipping loose files.
package sql

import "embed"

// Migrations holds sql/schema/*.sql in goose format.
//
//go:embed schema/*.sql
var Migrations embed.FS
