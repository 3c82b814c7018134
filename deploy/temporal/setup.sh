#!/bin/sh
# One-shot: prepares the Temporal namespace SecureOps runs in, then exits.
# Run by the `temporal-setup` compose service in the temporalio/admin-tools
# image (it carries the `temporal` CLI) once the server is up, and safe to run
# again at any time (`docker compose run --rm temporal-setup`):
#   1. waits until the frontend answers a health check,
#   2. creates the namespace unless it exists,
#   3. registers the custom search attributes the code queries by
#      (internal/temporalx: TenantId, Kind, ScanTarget, all Keyword).
# An attribute that exists with the same type is fine; with another type it
# is an error, because workflows would then fail to upsert it.
#
# Environment: TEMPORAL_ADDRESS (host:port, default temporal:7233),
# TEMPORAL_NAMESPACE (default default), TEMPORAL_NAMESPACE_RETENTION (default 168h),
# SETUP_TIMEOUT_SECONDS (default 180).
# POSIX sh: the admin-tools image is Alpine (busybox), without bash.
set -eu
# busybox sh (the image) has pipefail; dash (to run it elsewhere) may not.
# shellcheck disable=SC3040
if (set -o pipefail) 2>/dev/null; then set -o pipefail; fi

ADDRESS="${TEMPORAL_ADDRESS:-temporal:7233}"
NAMESPACE="${TEMPORAL_NAMESPACE:-default}"
RETENTION="${TEMPORAL_NAMESPACE_RETENTION:-168h}"
TIMEOUT="${SETUP_TIMEOUT_SECONDS:-180}"
SEARCH_ATTRIBUTES="TenantId:Keyword Kind:Keyword ScanTarget:Keyword"

log() { echo "temporal-setup: $*"; }

started=$(date +%s)
# retry DESCRIPTION COMMAND...: runs COMMAND until it succeeds or the overall
# deadline passes; exit status 2 means a permanent failure, not worth a retry.
# The server answers health before its namespace cache and membership settle,
# so every step is retried, not only the first.
retry() {
  what="$1"
  shift
  while :; do
    rc=0
    out=$("$@" 2>&1) || rc=$?
    if [ "$rc" -eq 0 ]; then
      return 0
    fi
    if [ "$rc" -eq 2 ]; then
      log "failed: $what"
      printf '%s\n' "$out" >&2
      exit 1
    fi
    if [ $(($(date +%s) - started)) -ge "$TIMEOUT" ]; then
      log "gave up after ${TIMEOUT}s: $what"
      printf '%s\n' "$out" >&2
      exit 1
    fi
    log "waiting: $what"
    sleep 3
  done
}

retry "frontend $ADDRESS to answer" \
  temporal operator cluster health --address "$ADDRESS"
log "frontend $ADDRESS is serving"

if temporal operator namespace describe --address "$ADDRESS" --namespace "$NAMESPACE" >/dev/null 2>&1; then
  log "namespace $NAMESPACE exists"
else
  create_namespace() {
    if out=$(temporal operator namespace create --address "$ADDRESS" \
      --namespace "$NAMESPACE" --retention "$RETENTION" 2>&1); then
      return 0
    fi
    # Another run (or a restart of this one) got there first.
    case "$out" in
      *"already exists"* | *"AlreadyExists"* | *"already registered"*) return 0 ;;
    esac
    printf '%s\n' "$out" >&2
    return 1
  }
  retry "namespace $NAMESPACE to be created" create_namespace
  log "namespace $NAMESPACE created (retention $RETENTION)"
fi

add_search_attribute() {
  # $1 name, $2 type
  if out=$(temporal operator search-attribute create --address "$ADDRESS" \
    --namespace "$NAMESPACE" --name "$1" --type "$2" 2>&1); then
    return 0
  fi
  case "$out" in
    *"different type"*)
      echo "search attribute $1 exists with another type than $2: fix it by hand"
      printf '%s\n' "$out"
      return 2
      ;;
    *"already exists"* | *"AlreadyExists"*) return 0 ;;
  esac
  printf '%s\n' "$out" >&2
  return 1
}

for sa in $SEARCH_ATTRIBUTES; do
  name="${sa%%:*}"
  type="${sa#*:}"
  retry "search attribute $name ($type)" add_search_attribute "$name" "$type"
  log "search attribute $name ($type) registered"
done

# The namespace is usable once a describe answers from this frontend too.
retry "namespace $NAMESPACE to be visible" \
  temporal operator namespace describe --address "$ADDRESS" --namespace "$NAMESPACE"
log "done"
