// Body of the single sign-on registration gate (POST /api/v1/kratos/hooks/sso/registration):
// the address the person registers with and what the OIDC mapper recorded.
function(ctx) {
  local md = if std.objectHas(ctx.identity, 'metadata_public') && std.isObject(ctx.identity.metadata_public) then ctx.identity.metadata_public else {},
  email: ctx.identity.traits.email,
  method: if std.objectHas(ctx.flow, 'active') && std.isString(ctx.flow.active) then ctx.flow.active else '',
  provider: if std.objectHas(md, 'sso_provider') then md.sso_provider else '',
  provider_email: if std.objectHas(md, 'sso_email') then md.sso_email else '',
}
