#!/usr/bin/env bash
# Runs the test suite (or, with "bench", the benchmarks) against a throwaway
# PostgreSQL cluster that lives exactly as long as this script.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-test}"

pgbin=""
if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
  pgbin="$(dirname "$(readlink -f "$(command -v pg_ctl)")")"
else
  pgbin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
fi
[ -x "$pgbin/initdb" ] || { echo "PostgreSQL binaries not found" >&2; exit 1; }

tmp="$(mktemp -d /tmp/secureops-test.XXXXXX)"
chmod 755 "$tmp"
pgdata="$tmp/pg"
as_pg=()
if [ "$(id -u)" = "0" ]; then as_pg=(runuser -u postgres --); fi
mkdir -p "$pgdata"
if [ ${#as_pg[@]} -gt 0 ]; then chown postgres "$pgdata"; fi

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 55432)"
cleanup() {
  "${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgdata" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

echo "==> starting a throwaway PostgreSQL (a few seconds)"
"${as_pg[@]}" "$pgbin/initdb" -D "$pgdata" -A trust -U postgres -E UTF8 --locale=C --no-sync >/dev/null
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgdata" -l "$pgdata/server.log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
  start >/dev/null

export TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
export SECUREOPS_REQUIRE_DB=1
export SECUREOPS_REQUIRE_TOOLS=1
export PATH="$PWD/bin:$PATH"

if [ "$mode" = "bench" ]; then
  go test -run '^$' -bench . -benchmem ./...
  exit 0
fi

echo "== gofmt"
unformatted="$(gofmt -l $(find . -name '*.go' -not -path './bin/*' -not -path './.data/*' -not -path './node_modules/*'))"
if [ -n "$unformatted" ]; then echo "gofmt needed:"; echo "$unformatted"; exit 1; fi
stage=scripts/stage.sh
$stage "go vet" "about 3 minutes the first time, under a minute afterwards" \
  bash -c 'go vet ./... && go vet -tags devserver ./cmd/...'
$stage "workflowcheck" "about 30 seconds" bin/workflowcheck ./workflows/...
$stage "go test, every package" "compiling about 5 minutes the first time; the suite runs for minutes" \
  go test -count=1 -timeout 20m ./...
# The deployment checks live in modules of their own (compose-go, the Helm
# SDK and Kubernetes' API types stay out of the product's go.mod): the
# compose file, Dockerfile and Caddyfile, then the Helm chart, all offline.
for m in deploy/composecheck deploy/helm/chartcheck; do
  if [ -f "$m/go.mod" ]; then
    $stage "$m" "compiling Kubernetes' libraries takes about 7 minutes the first time, seconds afterwards" \
      bash -c "cd $m && go vet ./... && go test -count=1 -timeout 10m ./..."
  fi
done
