# Ditto — make targets. `make run` and `make test` need only Go.
GO      ?= go
PKGS    ?= ./...
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)

.PHONY: run build test test-short bench bench-micro lint fmt e2e-node image deploy-check clean

## run: start the gateway on embedded defaults (in-memory cache, providers from env vars)
run:
	$(GO) run -ldflags "$(LDFLAGS)" ./cmd/ditto

## build: build bin/ditto
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/ditto ./cmd/ditto

# The race detector needs cgo and a C compiler. Where there is none (Go turns
# CGO_ENABLED off when it finds no compiler), the tests run without it.
RACE ?= $(shell [ "$$($(GO) env CGO_ENABLED)" = 1 ] && command -v "$$($(GO) env CC)" >/dev/null 2>&1 && echo -race)

## test: every Go test, with the race detector where cgo works (Redis tests start their own redis-server)
test:
	$(GO) vet $(PKGS)
	@[ -n "$(RACE)" ] || echo "make test: cgo is unavailable (no C compiler): running without -race"
	$(GO) test $(RACE) -count=1 -timeout 15m $(PKGS)

## test-short: fast loop without the race detector
test-short:
	$(GO) test -count=1 $(PKGS)

## e2e-node: the Node end-to-end suite (official openai npm SDK, aimock upstream, OpenAPI schema checks) against bin/ditto
e2e-node: build
	cd e2e && npm ci --no-audit --no-fund && DITTO_BIN=$(CURDIR)/bin/ditto npm test

MICRO := ./normalize/ ./cachekey/ ./cache/store/

## bench: every scenario (load harness and the Go benchmarks behind the decode
## and memory-overhead targets); writes benchmarks/RESULTS.md in under 10 minutes
bench:
	bash benchmarks/run.sh

## bench-micro: the micro-benchmarks 6 times each, benchstat input on stdout
bench-micro:
	@$(GO) test -run '^$$' -bench . -benchmem -count 6 $(MICRO)

## lint: gofmt and go vet
lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet $(PKGS)

# Container engine for `make image`: podman when installed (no daemon
# needed), else docker; CONTAINER=docker make image picks one.
CONTAINER ?= $(shell command -v podman >/dev/null 2>&1 && echo podman || echo docker)
IMAGE     ?= ditto:$(VERSION)
# Extra build flags, e.g. --build-arg GO_IMAGE=... (deploy/check.sh uses it).
IMAGE_FLAGS ?=

## image: build the container image ($(IMAGE)) with podman or docker
image:
	@command -v $(CONTAINER) >/dev/null 2>&1 || { echo "make image: neither podman nor docker is installed"; exit 1; }
	$(CONTAINER) build $(if $(filter podman,$(notdir $(CONTAINER))),--format docker) \
		--build-arg VERSION=$(VERSION) $(IMAGE_FLAGS) -t $(IMAGE) .

## deploy-check: lint and render the Helm chart, validate compose, build and run the image (deploy/check.sh)
deploy-check:
	bash deploy/check.sh

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin
