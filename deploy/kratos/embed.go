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

// DefaultUIURL is the portal's address as kratos.yml spells it; kratosdev
// rewrites it to where the portal really runs.
const DefaultUIURL = "http://127.0.0.1:8080"

// DefaultWebAuthnOrigin is the WebAuthn origin kratos.yml names (the portal
// on http://localhost); kratosdev rewrites it to where the portal runs.
const DefaultWebAuthnOrigin = "http://localhost:8080"
