// Body of the just-in-time membership hook (POST /api/v1/kratos/hooks/sso/join).
function(ctx) {
  local md = if std.objectHas(ctx.identity, 'metadata_public') && std.isObject(ctx.identity.metadata_public) then ctx.identity.metadata_public else {},
  identity_id: ctx.identity.id,
  email: ctx.identity.traits.email,
  name: if std.objectHas(ctx.identity.traits, 'name') then ctx.identity.traits.name else '',
  provider: if std.objectHas(md, 'sso_provider') then md.sso_provider else '',
  provider_email: if std.objectHas(md, 'sso_email') then md.sso_email else '',
}
