# syntax=docker/dockerfile:1
#
# Two images of the single `secureops` binary (`api`, `worker --queues=…`,
# `migrate` and `probe` are its subcommands; see docker-compose.yml and
# deploy/helm/secureops):
#
#   target runtime (the default, last stage): the static binary on a
#     distroless base, no shell, no package manager, uid 65532. For the API,
#     migrate and the scans and onboarding workers, which run no scanner.
#       docker build -t secureops:local .
#   target scanner: the same binary on Debian with nmap, nikto, Trivy and
#     Nuclei at the versions pinned below, for `worker --queues=scanners`.
#       docker build --target scanner -t secureops-scanner:local .
#
# Built WITHOUT the `devserver` tag, so the in-process Temporal server and its
# UI (only for `make run`) are not linked: production talks to a Temporal
# cluster at TEMPORAL_ADDRESS.
#
# Which scanners a deployment offers follows NMAP_PATH, NIKTO_PATH, TRIVY_PATH
# and NUCLEI_PATH in the settings every process reads (config.InstalledScanners),
# not this file: the scanner image's defaults below match what it installs.

ARG GO_VERSION=1.26
# Scanner versions. Debian's packages are bookworm's (nikto from non-free);
# Trivy and Nuclei are built from their Go modules at these tags.
ARG NMAP_VERSION=7.93+dfsg1-1
ARG NIKTO_VERSION=1:2.1.5-3.1
ARG TRIVY_VERSION=v0.74.0
ARG NUCLEI_VERSION=v3.6.0

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

# ---- scanner tools ------------------------------------------------------------
# Trivy and Nuclei from their Go modules (Debian has neither), static.
FROM golang:${GO_VERSION}-bookworm AS scanner-tools
ARG TRIVY_VERSION
ARG NUCLEI_VERSION
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    set -eux; \
    CGO_ENABLED=0 GOBIN=/out go install -trimpath -ldflags "-s -w" \
        github.com/aquasecurity/trivy/cmd/trivy@${TRIVY_VERSION}; \
    CGO_ENABLED=0 GOBIN=/out go install -trimpath -ldflags "-s -w" \
        github.com/projectdiscovery/nuclei/v3/cmd/nuclei@${NUCLEI_VERSION}; \
    /out/trivy --version; \
    /out/nuclei -version 2>&1 | head -n3

# ---- scanner ------------------------------------------------------------------
FROM debian:bookworm-slim AS scanner
ARG NMAP_VERSION
ARG NIKTO_VERSION

# nmap (Debian main) and nikto (Debian non-free only, hence the extra
# component); ca-certificates for TLS to registries and scanned targets.
RUN set -eux; \
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then \
        sed -i 's/^Components: main$/Components: main non-free/' /etc/apt/sources.list.d/debian.sources; \
    else \
        echo 'deb http://deb.debian.org/debian bookworm main non-free' > /etc/apt/sources.list.d/non-free.list; \
    fi; \
    apt-get update; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        ca-certificates "nmap=${NMAP_VERSION}" "nikto=${NIKTO_VERSION}"; \
    rm -rf /var/lib/apt/lists/*; \
    nmap --version | head -n1; \
    test -x /usr/bin/nikto

# A fixed, unprivileged uid with a home: Trivy keeps its vulnerability
# database under ~/.cache, Nuclei its templates under ~/nuclei-templates.
# nmap runs unprivileged TCP connect scans (-sT).
RUN groupadd --system --gid 10001 secureops \
 && useradd --system --uid 10001 --gid secureops --home-dir /home/secureops --create-home \
        --shell /usr/sbin/nologin secureops

COPY --from=scanner-tools /out/trivy /out/nuclei /usr/local/bin/
COPY --from=build /out/secureops /usr/local/bin/secureops

USER 10001:10001
ENV HOME=/home/secureops
# The templates Nuclei runs, fetched once at build time (scans then start
# without a download; the worker passes -disable-update-check).
RUN nuclei -update-templates -silent && test -d /home/secureops/nuclei-templates

ENV SECUREOPS_ENV=production \
    METRICS_ADDR=:9090 \
    NMAP_PATH=/usr/bin/nmap \
    NIKTO_PATH=/usr/bin/nikto \
    TRIVY_PATH=/usr/local/bin/trivy \
    NUCLEI_PATH=/usr/local/bin/nuclei \
    WORKER_QUEUES=scanners
WORKDIR /home/secureops
# 9090: the worker's /metrics and /healthz.
EXPOSE 9090
ENTRYPOINT ["/usr/local/bin/secureops"]
CMD ["worker"]

# ---- runtime (default) ----------------------------------------------------------
# Distroless static: CA certificates, tzdata and /etc/passwd only. The
# `nonroot` user is 65532; health checks use `secureops probe URL`.
FROM gcr.io/distroless/static-debian12:nonroot AS runtime

COPY --from=build /out/secureops /usr/local/bin/secureops

ENV SECUREOPS_ENV=production \
    HTTP_ADDR=:8080 \
    METRICS_ADDR=:9090

USER 65532:65532
# 8080: the API (`secureops api`); 9090: /metrics and a worker's /healthz.
EXPOSE 8080 9090

ENTRYPOINT ["/usr/local/bin/secureops"]
CMD ["api"]
