#!/usr/bin/env bash
# Refreshes the API reference renderer embedded in the binary (api/docs/):
# Redoc's standalone bundle, taken from the npm package with `npm pack` so the
# registry's integrity check applies. Usage:
#   scripts/update-docs-assets.sh            # the pinned version below
#   scripts/update-docs-assets.sh 2.5.4      # another exact version
# Then run `go test -run 'OpenAPI|Spec|Docs' ./api/`, look at /docs in a
# browser, and commit api/docs/ (README.md is rewritten with the provenance).
set -euo pipefail

PKG=redoc
VERSION="${1:-2.5.4}"
FILE=bundles/redoc.standalone.js

case "$VERSION" in
  *[!0-9.]* | "") echo "update-docs-assets: want an exact version like 2.5.4, got '$VERSION'" >&2; exit 2 ;;
esac
command -v npm >/dev/null 2>&1 || { echo "update-docs-assets: npm is required (apt-get install npm)" >&2; exit 1; }

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/api/docs"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

(cd "$tmp" && npm pack --silent "$PKG@$VERSION" >/dev/null)
tarball="$(ls "$tmp"/*.tgz)"
tar -xzf "$tarball" -C "$tmp" package/package.json package/LICENSE "package/$FILE" "package/$FILE.LICENSE.txt"

got="$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$tmp/package/package.json")"
if [ "$got" != "$VERSION" ]; then
  echo "update-docs-assets: npm gave $PKG $got, want $VERSION" >&2
  exit 1
fi

mkdir -p "$dest"
cp "$tmp/package/$FILE" "$dest/redoc.standalone.js"
cp "$tmp/package/$FILE.LICENSE.txt" "$dest/redoc.standalone.js.LICENSE.txt"
cp "$tmp/package/LICENSE" "$dest/redoc.LICENSE"
sum="$(sha256sum "$dest/redoc.standalone.js" | cut -d' ' -f1)"
tsum="$(sha256sum "$tarball" | cut -d' ' -f1)"

cat >"$dest/README.md" <<MD
# API reference renderer

\`redoc.standalone.js\` is the standalone bundle of **Redoc** (npm package
\`$PKG\`, version **$VERSION**, MIT licence: \`redoc.LICENSE\`; bundled
third-party licences: \`redoc.standalone.js.LICENSE.txt\`), file \`$FILE\` of
the package, unmodified.

- sha256 of \`redoc.standalone.js\`: \`$sum\`
- sha256 of the npm tarball \`$(basename "$tarball")\`: \`$tsum\`

It is embedded in the binary (\`api/openapi.go\`, \`//go:embed\`) and served by
\`ServeDocs\` at \`/docs/redoc.standalone.js\`; the page at \`/docs\` renders
\`/api/v1/openapi.json\` with it. Nothing is loaded from a CDN, so the page
works offline. The page's Content-Security-Policy allows only this script,
inline styles (Redoc's styled-components), \`connect-src 'self'\` for the
document and a \`blob:\` worker for the search index.

## Refresh

From the repository root, with npm installed:

\`\`\`sh
scripts/update-docs-assets.sh $VERSION   # or another exact version
go test -run 'OpenAPI|Spec|Docs' ./api/
\`\`\`

which runs, in a temporary directory, \`npm pack $PKG@<version>\`, copies
\`package/$FILE\` here and rewrites this file. After a major version change,
look at /docs in a browser too: the page relies on the bundle auto-starting on
the \`<redoc spec-url>\` element, and its CSP on what the bundle loads.
MD
echo "update-docs-assets: $PKG@$VERSION -> api/docs/redoc.standalone.js ($sum)"
