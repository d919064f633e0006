# alephql: the two commands a newcomer needs are `make run` and `make test`.
# `make help` lists the rest.

GO       ?= go
VERSION  ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
BIN      := bin/alephql
GRAPHIQL := graph/graphiql
APIDOCS := rest/apidocs
FUZZTIME ?= 10m

.DEFAULT_GOAL := help
.PHONY: help run build assets generate check-generate test chaos soak bench bench-api bench-subs bench-follow bench-chain lint check-deps fuzz migrate-diff migrate-hash clean

#? help: list the targets
help:
	@sed -n 's/^#? //p' $(MAKEFILE_LIST) | column -t -s ':'

#? run: build the node and start it on the embedded default (SQLite under ./data), with sample data on a new one
run: build
	./$(BIN) serve --sample-data

#? build: build bin/alephql with GraphiQL embedded
build: assets
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/alephql

#? assets: install GraphiQL and Swagger UI from the npm registry and stage them for embedding
assets: $(GRAPHIQL)/dist/graphiql.min.js $(APIDOCS)/dist/swagger-ui-bundle.js

$(APIDOCS)/dist/swagger-ui-bundle.js: $(APIDOCS)/package.json $(APIDOCS)/package-lock.json
	cd $(APIDOCS) && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	cp $(APIDOCS)/node_modules/swagger-ui-dist/swagger-ui-bundle.js \
	   $(APIDOCS)/node_modules/swagger-ui-dist/swagger-ui.css $(APIDOCS)/dist/

$(GRAPHIQL)/dist/graphiql.min.js: $(GRAPHIQL)/package.json $(GRAPHIQL)/package-lock.json
	cd $(GRAPHIQL) && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	cp $(GRAPHIQL)/node_modules/react/umd/react.production.min.js \
	   $(GRAPHIQL)/node_modules/react-dom/umd/react-dom.production.min.js \
	   $(GRAPHIQL)/node_modules/graphiql/graphiql.min.js \
	   $(GRAPHIQL)/node_modules/graphiql/graphiql.min.css $(GRAPHIQL)/dist/

#? generate: regenerate ent, gqlgen and contract binding code (committed; must be reproducible)
generate:
	$(GO) generate ./ent
	$(GO) generate ./graph
	$(GO) generate ./indexer/evm/alephsync

#? check-generate: fail if generated code differs from what generate writes
check-generate:
	scripts/check-generate.sh

#? test: everything: generated code, vet, import rules, all tests on SQLite and PostgreSQL with Redis, short fuzz runs
test: assets
	scripts/test.sh

#? chaos: fault tests too long or disruptive for make test (own PostgreSQL/Redis restarted under load; RELIABILITY.md)
chaos:
	scripts/chaos.sh

#? soak: SOAK_DURATION (default 30m) of mixed load (500 msgs/s, queries, 1 000 subscribers); fails if RSS, goroutines or open files grow
soak:
	scripts/soak.sh

#? bench: start the test servers and run every benchmark (BENCH=regexp COUNT=n); figures go to BENCHMARKS.md
bench: assets
	scripts/bench.sh

#? bench-subs: issue 5's subscription benchmark, 10 000 subscribers at 100 msgs/s (SIZE=small for 1 000)
bench-subs:
	SIZE=$(or $(SIZE),full) scripts/bench-subs.sh

#? bench-api: issue 5's query benchmark, GraphQL against a pgx baseline (N=1000000 messages, DURATION=20s per run)
bench-api: assets
	N=$(N) ACCOUNTS=$(ACCOUNTS) CLIENTS=$(CLIENTS) DURATION=$(DURATION) WARMUP=$(WARMUP) DEPTH=$(DEPTH) scripts/bench-api.sh

#? bench-follow: issue 13's backfill benchmark, a node following another vs alephql import, durable PostgreSQL (N=1000000)
bench-follow: assets
	N=$(N) PROFILE_DIR=$(PROFILE_DIR) scripts/bench-follow.sh

#? bench-chain: issue 11's chain catch-up benchmark vs alephql import, geth --dev, kubo, durable PostgreSQL (N=1000000 ARCHIVES=100)
bench-chain: assets
	N=$(N) ARCHIVES=$(ARCHIVES) scripts/bench-chain.sh

#? lint: gofmt, go vet, the import rules, and go.mod tidy (go mod tidy -e changes nothing)
lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo 'gofmt needed'; exit 1; }
	$(GO) vet ./...
	scripts/check-deps.sh
	@$(GO) mod tidy -e -diff || { echo 'go.mod or go.sum is not tidy: run go mod tidy -e'; exit 1; }

#? check-deps: enforce the one-way flow sources -> processor -> ent -> graph
check-deps:
	scripts/check-deps.sh

#? fuzz: run every fuzz target for FUZZTIME (default 10m) each
fuzz:
	FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

#? migrate-diff: write a new migration for both dialects: make migrate-diff NAME=add_foo
migrate-diff:
	@test -n "$(NAME)" || { echo 'usage: make migrate-diff NAME=short_name'; exit 2; }
	scripts/migrate-diff.sh $(NAME)

#? migrate-hash: rewrite atlas.sum after merging branches that each added a migration
migrate-hash:
	$(GO) run ./ent/migrate/rehash.go

#? clean: remove build outputs (not ./data)
clean:
	rm -rf bin $(GRAPHIQL)/node_modules $(APIDOCS)/node_modules
	find $(GRAPHIQL)/dist $(APIDOCS)/dist -type f ! -name .keep -delete
