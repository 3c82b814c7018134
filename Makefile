# Every command a person runs. `make run` and `make test` work on a fresh
# Debian machine: they install what is missing first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

GO        ?= go
BIN       := $(CURDIR)/bin
DATA_DIR  ?= $(CURDIR)/.data
SQLC_VERSION          := v1.31.1
KRATOS_VERSION        := v1.3.1
STRIPE_MOCK_VERSION   := v0.185.0

export PATH := $(BIN):$(PATH)

# Each stage says what it does and how long it usually takes (scripts/stage.sh).
STAGE := $(CURDIR)/scripts/stage.sh
# Independent tool builds run side by side: on 2 cores the Go compiler's own
# parallelism leaves gaps (downloads, cgo, linking) that another build fills.
JOBS ?= 4

.PHONY: help
help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

.PHONY: deps
deps: ## Install missing Debian packages (postgresql, nmap, nikto, chromium, poppler-utils)
	@$(STAGE) "checking Debian packages" "seconds; 1-3 minutes when some are missing" ./scripts/install-deps.sh

$(BIN)/sqlc:
	@$(STAGE) "building sqlc" "about 2 minutes the first time" \
	env GOBIN=$(BIN) $(GO) install github.com/sqlc-dev/sqlc/cmd/sqlc@$(SQLC_VERSION)

# stripe-mock: newer versions drop the usage-records endpoint stripe-go v76
# uses, older ones lack billing meters. Keep in step with internal/stripemock.
$(BIN)/stripe-mock:
	@$(STAGE) "building stripe-mock" "about 1 minute the first time" \
	env GOBIN=$(BIN) $(GO) install github.com/stripe/stripe-mock@$(STRIPE_MOCK_VERSION)

# workflowcheck and Kratos are pinned in their own tool modules (tools/*):
# their dependency graphs must not leak into ours.
$(BIN)/workflowcheck: tools/workflowcheck/go.mod
	@cd tools/workflowcheck && $(STAGE) "building workflowcheck" "about 1 minute the first time" \
	env GOBIN=$(BIN) $(GO) install go.temporal.io/sdk/contrib/tools/workflowcheck

$(BIN)/templ: tools/templ/go.mod
	@cd tools/templ && $(STAGE) "building templ" "about 1 minute the first time" \
	env GOBIN=$(BIN) $(GO) install github.com/a-h/templ/cmd/templ

$(BIN)/kratos: tools/kratos/go.mod
	@cd tools/kratos && $(STAGE) "building Kratos" "about 5 minutes the first time" \
	env CGO_ENABLED=1 $(GO) build -tags sqlite -trimpath \
	  -ldflags "-s -w -X github.com/ory/kratos/driver/config.Version=$(KRATOS_VERSION)" \
	  -o $(BIN)/kratos github.com/ory/kratos

TOOL_BINS := $(BIN)/sqlc $(BIN)/workflowcheck $(BIN)/kratos $(BIN)/stripe-mock $(BIN)/templ

.PHONY: tools
tools: ## Build pinned Go tools into ./bin (sqlc, workflowcheck, kratos, stripe-mock, templ), in parallel
	@$(MAKE) --no-print-directory -j$(JOBS) $(TOOL_BINS)

.PHONY: build
build: ## Build bin/secureops with the embedded Temporal server (dev) 
	@$(STAGE) "building bin/secureops" "about 3 minutes the first time, seconds afterwards" \
	$(GO) build -tags devserver -o $(BIN)/secureops ./cmd/secureops

.PHONY: build-prod
build-prod: ## Build the production binary (no embedded Temporal server)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o $(BIN)/secureops-prod ./cmd/secureops

.PHONY: run
run: deps ## Run the whole platform on embedded defaults (Ctrl-C stops it)
	@$(MAKE) --no-print-directory -j$(JOBS) $(TOOL_BINS) build
	@echo "==> starting the platform (about 15 seconds; the first start also initialises PostgreSQL and migrates)"
	DATA_DIR=$(DATA_DIR) DEV_BROWSER_HOST=$${DEV_BROWSER_HOST-localhost} $(BIN)/secureops dev

.PHONY: generate
generate: $(BIN)/sqlc $(BIN)/templ ## Regenerate sqlc code from sql/ and templ code from internal/portal/views
	$(BIN)/sqlc generate
	$(BIN)/templ generate -path internal/portal/views

.PHONY: test
test: deps tools ## Install what is missing, start a throwaway Postgres, vet and run every test
	./scripts/test.sh

.PHONY: bench
bench: deps tools ## Run the benchmarks (performance targets live here, not in tests)
	./scripts/test.sh bench

.PHONY: chaos
chaos: deps tools ## Kill processes of the production shape mid-work (internal/chaos); verdicts printed, figures in bench/results/chaos.json
	./scripts/chaos.sh $(CASES)

.PHONY: coldstart
coldstart: ## What a newcomer waits for: make run from a fresh clone with empty Go caches, until ready (bench/results/coldstart.json)
	./scripts/coldstart.sh

.PHONY: chaos-ci
chaos-ci: ## The reduced chaos set for CI (cases 0, 1, 2 and 3, about 4 minutes; not in make test)
	./scripts/chaos.sh 0,1,2,3

.PHONY: lint
lint: $(BIN)/workflowcheck ## gofmt, go vet and Temporal's workflowcheck
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './bin/*')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags devserver ./cmd/... ./internal/devserver/...
	$(BIN)/workflowcheck ./workflows/...

.PHONY: docs-assets
docs-assets: ## Refresh the embedded API docs renderer from npm
	./scripts/update-docs-assets.sh

.PHONY: check-deploy
check-deploy: ## Check docker-compose.yml, the Dockerfile, the Caddyfile and the Helm chart offline (also part of `make test`)
	cd deploy/composecheck && $(GO) test -count=1 ./...
	cd deploy/helm/chartcheck && $(GO) test -count=1 ./...

.PHONY: compose-up
compose-up: ## Start the production-shaped stack with Docker Compose
	docker compose up --build -d

.PHONY: clean
clean: ## Remove build output (keeps .data)
	rm -rf $(BIN)/secureops $(BIN)/secureops-prod
