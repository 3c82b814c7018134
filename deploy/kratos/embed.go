// Package kratosdeploy embeds the Kratos configuration and identity schema so
// `secureops dev` and the tests run Kratos with exactly what compose mounts.
package kratosdeploy

import _ "embed"

// Config is kratos.yml.
//
//go:embed kratos.yml
var Config []byte

// IdentitySchema is identity.schema.json.
//
//go:embed identity.schema.json
var IdentitySchema []byte
