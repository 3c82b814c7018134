# syntax=docker/dockerfile:1
#
# The production image of the single `secureops` binary: `api`, `worker
# --queues=…` and `migrate` are its subcommands (see docker-compose.yml).
# Built WITHOUT the `devserver` tag, so the in-process Temporal server and its
# UI (only for `make run`) are not linked: production talks to a Temporal
# cluster at TEMPORAL_ADDRESS.

ARG GO_VERSION=1.26

# ---- build ------------------------------------------------------------------
FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src

# Dependencies first: this layer is rebuilt only when go.mod or go.sum change.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download

COPY . .
# CGO off: pgx and the rest are pure Go, and a static binary does not care
# which libc the runtime stage has.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/secureops ./cmd/secureops

# ---- runtime ----------------------------------------------------------------
FROM debian:bookworm-slim

# Scanners the scanner workers run as subprocesses: nmap (Debian main) and
# nikto (Debian non-free only, hence the extra component). ca-certificates for
# TLS to Stripe, Resend, DefectDojo and scanned HTTPS targets.
RUN set -eux; \
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then \
        sed -i 's/^Components: main$/Components: main non-free/' /etc/apt/sources.list.d/debian.sources; \
    else \
        echo 'deb http://deb.debian.org/debian bookworm main non-free' > /etc/apt/sources.list.d/non-free.list; \
    fi; \
    apt-get update; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates nmap nikto; \
    rm -rf /var/lib/apt/lists/*; \
    nmap --version | head -n1; \
    test -x /usr/bin/nikto

# A fixed, unprivileged uid: nmap runs unprivileged TCP connect scans (-sT).
RUN groupadd --system --gid 10001 secureops \
 && useradd --system --uid 10001 --gid secureops --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin secureops

COPY --from=build /out/secureops /usr/local/bin/secureops

ENV SECUREOPS_ENV=production \
    HTTP_ADDR=:8080 \
    METRICS_ADDR=:9090 \
    NMAP_PATH=/usr/bin/nmap \
    NIKTO_PATH=/usr/bin/nikto

USER 10001:10001
WORKDIR /tmp
# 8080: the API (`secureops api`); 9090: a worker's /metrics and /healthz.
EXPOSE 8080 9090

ENTRYPOINT ["/usr/local/bin/secureops"]
CMD ["api"]
