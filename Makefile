# signgate: `make demo` shows the gate working end to end; `make test` runs
# every test, unit and integration, against real containerd, runc, crictl, a
# real registry and real signatures.
SHELL := /bin/bash
BIN   := $(CURDIR)/_output/bin
GO    ?= go
# The external programs the integration suite and the demo run, built from
# the Go module proxy in their own tools modules (integration/tools/*).
TOOLS := $(BIN)/containerd $(BIN)/containerd-shim-runc-v2 $(BIN)/crictl $(BIN)/cosign
DEBS  := runc docker-registry busybox-static

.PHONY: all build test unit integration demo bench deps tools check clean

all: build

build:
	$(GO) build -o $(BIN)/signgate ./cmd/signgate

tools: $(TOOLS)

$(BIN)/containerd $(BIN)/containerd-shim-runc-v2:
	cd integration/tools/containerd && $(GO) build -tags no_btrfs -o $(BIN)/ \
		github.com/containerd/containerd/v2/cmd/containerd \
		github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2

$(BIN)/crictl:
	cd integration/tools/crictl && $(GO) build -o $(BIN)/ sigs.k8s.io/cri-tools/cmd/crictl

$(BIN)/cosign:
	cd integration/tools/cosign && $(GO) build -o $(BIN)/ github.com/sigstore/cosign/v3/cmd/cosign

# Debian packages: runc, the distribution registry, a static busybox for images.
deps:
	@if ! command -v runc >/dev/null || ! command -v docker-registry >/dev/null || ! test -x /bin/busybox; then \
		echo "installing $(DEBS)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEBS); \
	fi

check:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet ./...

unit:
	$(GO) test -count=1 $$($(GO) list ./... | grep -v /integration)

# Needs root: it runs containerd and runc.
integration: deps build tools
	SIGNGATE_TEST_BIN=$(BIN) $(GO) test -count=1 -p 1 -timeout 20m -v ./integration/...

test: check unit integration

demo: deps build tools
	SIGNGATE_TEST_BIN=$(BIN) $(GO) run ./integration/demo

bench: deps build tools
	SIGNGATE_TEST_BIN=$(BIN) $(GO) run ./integration/bench

clean:
	rm -rf _output
