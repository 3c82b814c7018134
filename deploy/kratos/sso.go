package kratosdeploy

import "embed"

// SSOHookBodies are the Jsonnet bodies of Kratos' single sign-on web hooks,
// named by kratos.yml with file://./<name> (beside it).
//
//go:embed sso-*.jsonnet
var SSOHookBodies embed.FS
