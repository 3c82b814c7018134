// Body of the "SSO required" check of a sign-in by anything but OIDC
// (POST /api/v1/kratos/hooks/sso/password-login): who signs in and the
// methods their session used so far (a second factor after OIDC is fine).
function(ctx) {
  identity_id: ctx.identity.id,
  email: ctx.identity.traits.email,
  methods: if std.objectHas(ctx, 'session') && std.isObject(ctx.session) && std.objectHas(ctx.session, 'authentication_methods') && std.isArray(ctx.session.authentication_methods)
  then [m.method for m in ctx.session.authentication_methods] else [],
}
