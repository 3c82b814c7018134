#!/usr/bin/env bash
# `make chaos`: builds secureops with the embedded Temporal server and runs the
# fault cases of internal/chaos against the production shape on this machine
# (temporal-server, api and worker processes, a throwaway PostgreSQL). Each
# case prints a "CHAOS PASS|FAIL" verdict line; figures go to
# bench/results/chaos.json. Only loopback targets are scanned.
#   scripts/chaos.sh            every case
#   scripts/chaos.sh 0,1,2,3    the given cases (CI's reduced set, make chaos-ci)
set -euo pipefail
cd "$(dirname "$0")/.."
cases="${1:-${CHAOS_CASES:-}}"
tmp="$(mktemp -d /tmp/secureops-chaos-bin.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
export PATH="$PWD/bin:$PATH"
scripts/stage.sh "building secureops for chaos" "seconds when cached, about 3 minutes the first time" \
  go build -tags devserver -o "$tmp/secureops" ./cmd/secureops
mkdir -p bench/results
echo "==> chaos cases ${cases:-all} (about 4 minutes for 0,1,2,3 and 10 for all; cases 1, 2 and 7 wait out 1-2 min activity timeouts)"
set +e
CHAOS_BIN="$tmp/secureops" CHAOS_CASES="$cases" CHAOS_RESULTS="$PWD/bench/results/chaos.json" \
  go test -tags chaos -count=1 -timeout 30m -v -run TestChaos ./internal/chaos/ 2>&1 | tee "$tmp/chaos.log" |
  grep --line-buffered -E '^(CHAOS|--- |FAIL|ok|PASS)|chaos_test.go'
rc=${PIPESTATUS[0]}
set -e
exit "$rc"
