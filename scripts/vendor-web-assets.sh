#!/usr/bin/env bash
# Refreshes the web portal's third-party front-end files embedded in the binary
# (internal/portal/assets/vendor/), taken from npm with `npm pack`. Every
# package is pinned to an exact version AND to the sha512 integrity of its
# tarball, recorded below when the pin was chosen (`npm view PKG@VERSION
# dist.integrity`); a tarball whose hash differs is refused, whatever the
# registry says. Usage (no arguments; the pins are the inputs):
#   scripts/vendor-web-assets.sh
# Then run `go test ./internal/portal/assets/` and commit
# internal/portal/assets/ (README.md is rewritten with the provenance).
#
# To move a package to another version: change its line below, put the new
# version's `npm view PKG@VERSION dist.integrity` in it, run this script, look
# at the portal in a browser, and commit the script with the assets.
set -euo pipefail

# package|version|tarball integrity (sha512, base64)|file in the package|stable name|licence file in the package|licence
PINS=(
  "htmx.org|2.0.11|sha512-Thx/WtpeOQqSrqBCw/A1cwGJGg4UrVa3+sW0GmrM3p4gJgO89ecH4qtbnyzDDWFvBTqjnIMCgELTNt636dtamA==|dist/htmx.min.js|htmx.min.js|LICENSE|0BSD"
  "htmx-ext-sse|2.2.4|sha512-LJmxVhykyflBWgh5PvbRidcyuqMHlgfajmmzumvKctv9puvsufeH6OaejSMZTNTnEI8O2wXXn4ZZtBdpEMqmEQ==|dist/sse.min.js|htmx-ext-sse.min.js|LICENSE|0BSD"
  "chart.js|4.6.1|sha512-hJyniucsFmq//EvXYvJ6c6mahPoI3kaxdjVH8awTaJ/fDNWeSqqqArixMJWkWNN6fcYvPU3HneSANFNYtRi61g==|dist/chart.umd.min.js|chart.umd.min.js|LICENSE.md|MIT"
  "@picocss/pico|2.1.1|sha512-kIDugA7Ps4U+2BHxiNHmvgPIQDWPDU4IeU6TNRdvXQM1uZX+FibqDQT2xUOnnO2yq/LUHcwnGlu1hvf4KfXnMg==|css/pico.min.css|pico.min.css|LICENSE.md|MIT"
)

die() { echo "vendor-web-assets: $*" >&2; exit 1; }

[ "$#" -eq 0 ] || { echo "vendor-web-assets: takes no arguments; versions and hashes are pinned in $0" >&2; exit 2; }
command -v npm >/dev/null 2>&1 || die "npm is required (apt-get install npm)"
command -v node >/dev/null 2>&1 || die "node is required (it comes with npm)"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/internal/portal/assets"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/out"

# sha512 integrity of a file in npm's notation: "sha512-" + base64 of the digest.
integrity() {
  node -e 'const c=require("crypto"),fs=require("fs");process.stdout.write("sha512-"+c.createHash("sha512").update(fs.readFileSync(process.argv[1])).digest("base64"))' "$1"
}
# A top-level string field of a package.json, or "" when absent.
pkgfield() {
  node -e 'const p=require(process.argv[1]);const v=p[process.argv[2]];process.stdout.write(typeof v==="string"?v:"")' "$1" "$2"
}

rows=""
for pin in "${PINS[@]}"; do
  IFS='|' read -r pkg version want file name licfile licence <<<"$pin"
  work="$tmp/$name"
  mkdir -p "$work"
  (cd "$work" && npm pack --silent "$pkg@$version" >/dev/null) || die "npm pack $pkg@$version failed"
  tarball="$(ls "$work"/*.tgz)"

  got="$(integrity "$tarball")"
  if [ "$got" != "$want" ]; then
    echo "vendor-web-assets: INTEGRITY MISMATCH for $pkg@$version ($(basename "$tarball"))" >&2
    echo "  pinned: $want" >&2
    echo "  got:    $got" >&2
    echo "  The registry served different bytes than when this version was pinned. Do not commit; find out why." >&2
    exit 1
  fi

  tar -xzf "$tarball" -C "$work" package/package.json "package/$file" "package/$licfile" ||
    die "$pkg@$version: tarball lacks package/$file or package/$licfile"

  gotv="$(pkgfield "$work/package/package.json" version)"
  [ "$gotv" = "$version" ] || die "npm gave $pkg $gotv, want $version"
  gotl="$(pkgfield "$work/package/package.json" license)"
  [ -z "$gotl" ] || [ "$gotl" = "$licence" ] || die "$pkg@$version declares licence '$gotl', pinned '$licence'; review and update the pin"

  cp "$work/package/$file" "$tmp/out/$name"
  cp "$work/package/$licfile" "$tmp/out/$name.LICENSE"
  sum="$(sha256sum "$tmp/out/$name" | cut -d' ' -f1)"
  rows+="| \`vendor/$name\` | \`$pkg\` | $version | $licence (\`vendor/$name.LICENSE\`) | \`package/$file\` | \`$sum\` | \`$want\` |"$'\n'
  echo "vendor-web-assets: $pkg@$version $file -> vendor/$name ($sum)"
done

# Everything verified: replace vendor/ wholesale so a dropped package leaves nothing behind.
rm -rf "$dest/vendor"
mkdir -p "$dest/vendor"
cp "$tmp/out/"* "$dest/vendor/"

cat >"$dest/README.md" <<MD
# Portal front-end assets

Everything the web portal loads in the browser is embedded in the binary
(\`assets.go\`, \`//go:embed\`) and served by \`assets.Handler()\` under
\`/assets/\`; nothing comes from a CDN. Pages link files through
\`assets.Path(name)\`, which appends \`?v=\` and the start of the file's sha256,
so responses carry \`Cache-Control: public, max-age=31536000, immutable\` and
are gzipped once at start-up.

- \`app.css\`, \`app.js\`: ours (portal styles on top of Pico; chart
  initialisation from \`<canvas data-chart>\` and \`<button data-copy>\`).
- \`vendor/\`: third-party files, unmodified, written by
  \`scripts/vendor-web-assets.sh\`. Do not edit them by hand; the tests check
  them against the table below.

## Vendored files

Each comes from the npm tarball of the package at the exact version shown,
whose sha512 integrity (npm's \`dist.integrity\`) is pinned in the script and
checked before anything is copied.

| File | npm package | Version | Licence | Path in package | sha256 of file | Tarball integrity |
|------|-------------|---------|---------|-----------------|----------------|-------------------|
${rows}
Notes:

- \`htmx-ext-sse\`'s \`package.json\` declares no licence; its \`LICENSE\`
  file is the BSD Zero Clause licence, as for htmx itself.
- \`chart.umd.min.js\` ends with \`//# sourceMappingURL=chart.umd.min.js.map\`.
  The map is not vendored, so a browser's developer tools (only they fetch
  it) log a 404 for it; pages are unaffected.

## Refresh

From the repository root, with npm installed:

\`\`\`sh
scripts/vendor-web-assets.sh
go test ./internal/portal/assets/
\`\`\`

It runs \`npm pack\` for each pinned package in a temporary directory, refuses
a tarball whose sha512 differs from the pin or whose \`package.json\` version
differs, copies the files and licences into \`vendor/\` and rewrites this
README. Run as is, it reproduces the committed files byte for byte. To change a
version, edit its line in the script together with the new version's
\`npm view <package>@<version> dist.integrity\`, then run it, check the portal
in a browser (charts, live updates over SSE) and commit script and assets
together.
MD
echo "vendor-web-assets: wrote internal/portal/assets/vendor/ and README.md"
