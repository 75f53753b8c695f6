# servagent — build, test, bench.
# `make test` is what CI runs (.ci/run); it installs nothing by itself except
# the npm packages of the interop suite (npm ci, from the committed lockfile).

GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
DATE      ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
PKG        = github.com/servagent/servagent/pkg/buildinfo
LDFLAGS    = -s -w -X $(PKG).Version=$(VERSION) -X $(PKG).Commit=$(COMMIT) -X $(PKG).Date=$(DATE)
BIN        = bin/servagent
# Packages with real concurrency (process groups, sessions, token store, renewal loop).
RACE_PKGS  = ./pkg/runner/... ./pkg/jobs/... ./pkg/server/... ./pkg/tools/... ./pkg/oauth/... ./pkg/auth/... ./pkg/acme/...

export CGO_ENABLED = 0

.PHONY: all build test lint unit race interop systemd packages fuzz bench man completions clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/servagent

# Every test: static checks, Go unit and integration tests (Pebble ACME
# included), the race detector on concurrent packages, short fuzz runs, the
# Node/Inspector/conformance interop suite, install/uninstall inside a
# throw-away systemd container, and the release packages (goreleaser snapshot,
# .deb installed in the container, .rpm listed).
test: lint unit race fuzz interop systemd packages

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

unit:
	$(GO) test -count=1 -timeout 15m ./...
	cd third_party/go-sdk && $(GO) test -count=1 ./internal/json/

race:
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 15m $(RACE_PKGS)

# A count, not a duration: Go 1.26's fuzz coordinator can report a spurious
# "context deadline exceeded" when a -fuzztime duration ends (go.dev/issue/75804).
fuzz:
	@for f in $$($(GO) test -list 'Fuzz.*' ./pkg/oauth/ 2>/dev/null | grep ^Fuzz); do \
		echo "fuzz $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime 100000x ./pkg/oauth/ || exit 1; done

interop: build
	bash test/interop/run.sh $(CURDIR)/$(BIN)

systemd:
	bash test/systemd/run.sh $(CURDIR)/$(BIN)

# goreleaser check + release --snapshot (amd64 and arm64, ~1-5 min), the
# archive names update and install.sh read, rpm -qpl, then dpkg -i and the
# setup wizard in a systemd container (test/packages/run.sh).
packages:
	bash test/packages/run.sh

bench:
	bash bench/run.sh

man:
	$(GO) run ./internal/mangen man/

completions:
	$(GO) run ./cmd/servagent completion bash > completions/servagent.bash
	$(GO) run ./cmd/servagent completion zsh > completions/_servagent
	$(GO) run ./cmd/servagent completion fish > completions/servagent.fish

clean:
	rm -rf bin dist
