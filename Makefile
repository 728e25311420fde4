# The README's commands are `make run` and `make test`; .ci/run runs `make test`.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: run test build

# Start a hub with the defaults: SQLite in ./tether-data, http://127.0.0.1:8080.
run:
	$(GO) run ./cmd/tether serve

# Every test, storage suites on SQLite and PostgreSQL (TETHER_TEST_POSTGRES_URL).
test:
	$(GO) vet ./... && $(GO) test -count=1 -timeout 15m ./...

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o bin/tether ./cmd/tether
