# Every command a person runs. `make run` and `make test` work on a fresh
# Debian machine: they install what is missing first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

GO        ?= go
BIN       := $(CURDIR)/bin
DATA_DIR  ?= $(CURDIR)/.data
SQLC_VERSION          := v1.31.1
WORKFLOWCHECK_VERSION := v1.50.0

export PATH := $(BIN):$(PATH)

.PHONY: help
help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

.PHONY: deps
deps: ## Install missing Debian packages (postgresql, nmap, nikto)
	@./scripts/install-deps.sh

$(BIN)/sqlc:
	GOBIN=$(BIN) $(GO) install github.com/sqlc-dev/sqlc/cmd/sqlc@$(SQLC_VERSION)

$(BIN)/workflowcheck:
	GOBIN=$(BIN) $(GO) install go.temporal.io/sdk/contrib/tools/workflowcheck@$(WORKFLOWCHECK_VERSION)

.PHONY: tools
tools: $(BIN)/sqlc ## Install pinned Go tools into ./bin

.PHONY: build
build: ## Build bin/secureops with the embedded Temporal server (dev) 
	$(GO) build -tags devserver -o $(BIN)/secureops ./cmd/secureops

.PHONY: build-prod
build-prod: ## Build the production binary (no embedded Temporal server)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o $(BIN)/secureops-prod ./cmd/secureops

.PHONY: run
run: deps build ## Run the whole platform on embedded defaults (Ctrl-C stops it)
	DATA_DIR=$(DATA_DIR) $(BIN)/secureops dev

.PHONY: generate
generate: $(BIN)/sqlc ## Regenerate sqlc code from sql/
	$(BIN)/sqlc generate

.PHONY: test
test: deps tools ## Install what is missing, start a throwaway Postgres, vet and run every test
	./scripts/test.sh

.PHONY: bench
bench: deps ## Run the benchmarks (performance targets live here, not in tests)
	./scripts/test.sh bench

.PHONY: lint
lint: $(BIN)/workflowcheck ## gofmt, go vet and Temporal's workflowcheck
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './bin/*')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags devserver ./cmd/... ./internal/devserver/...
	$(BIN)/workflowcheck ./workflows/...

.PHONY: compose-up
compose-up: ## Start the production-shaped stack with Docker Compose
	docker compose up --build -d

.PHONY: clean
clean: ## Remove build output (keeps .data)
	rm -rf $(BIN)/secureops $(BIN)/secureops-prod
