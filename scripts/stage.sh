#!/usr/bin/env bash
# Runs one stage of `make run` / `make test` and says what it is, how long it
# usually takes and how long it took, so that a first run on an empty Go cache
# (which prints nothing but compiler lines for minutes) never looks hung.
#   scripts/stage.sh "building Kratos" "about 5 minutes the first time" cmd args...
# The usual durations are estimates for 2 cores and an empty GOCACHE and
# GOMODCACHE; later runs take seconds.
set -uo pipefail
what="$1" usual="$2"
shift 2
began=$(date +%s)
echo "==> ${what} (${usual})"
"$@"
rc=$?
took=$(( $(date +%s) - began ))
human="${took}s"
if [ "$took" -ge 60 ]; then human="$((took / 60))m$((took % 60))s"; fi
if [ "$rc" -eq 0 ]; then
  echo "<== ${what}: done in ${human}"
else
  echo "!!! ${what}: failed after ${human} (exit ${rc})" >&2
fi
exit "$rc"
