# signgate: `make demo` shows the gate working end to end; `make test` runs
# every test, unit and integration, against real containerd, runc, crictl, a
# real registry and real signatures.
SHELL := /bin/bash
BIN   := $(CURDIR)/_output/bin
GO    ?= go
# Go 1.26.10 from the module proxy (the machine has 1.26.8): it fixes the
# net/http, crypto/tls and crypto/x509 vulnerabilities make vuln finds in
# 1.26.8. Every script that builds signgate goes through make, or exports it.
export GOTOOLCHAIN := go1.26.10
# The external programs the integration suite and the demo run, built from
# the Go module proxy in their own tools modules (integration/tools/*).
TOOLS := $(BIN)/containerd $(BIN)/containerd-shim-runc-v2 $(BIN)/crictl $(BIN)/cosign $(BIN)/notation $(BIN)/local-kms $(BIN)/olareg
# Only the integration suite signs keyless with the real CLI (make demo
# need not wait for these).
KEYLESS_TOOLS := $(BIN)/fulcio $(BIN)/timestamp-server $(BIN)/rekor-server-posix
# Private registries: an authenticated registry and a kubelet credential
# provider plugin (TestPrivateRegistry*).
CRED_TOOLS := $(BIN)/distribution-registry $(BIN)/ecr-credential-provider
DEBS  := runc docker-registry busybox-static systemd time conmon

.PHONY: all help build test unit integration crio-test matrix racebin packaging demo demo-keep bench profile deps tools check clean deb image fuzz lint vuln k8s-test demo-k8s

all: build

help: ## this list
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z0-9-]+):.*## (.*)/\1\t\2/' | expand -t 14

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

# The image verifier is always static (no cgo): containerd runs it once per
# pull, and a static binary starts in half the time.
build: ## signgate and signgate-image-verifier into _output/bin
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/signgate
	CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/signgate-image-verifier

tools: $(TOOLS) ## containerd 2.2, crictl, cosign, notation, olareg and local-kms from the module proxy

$(BIN)/containerd $(BIN)/containerd-shim-runc-v2:
	cd integration/tools/containerd-2.2 && $(GO) build -tags no_btrfs -o $(BIN)/ \
		github.com/containerd/containerd/v2/cmd/containerd \
		github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2

# Every containerd minor release people run, each in a tools module of its
# own (integration/tools/containerd-X.Y), built into _output/containerd/X.Y.
# make test runs the suite against CONTAINERD_TEST, make matrix against
# CONTAINERD_MATRIX. 2.2 is also the one in $(BIN), for the demo and bench.
CTD := $(CURDIR)/_output/containerd
CONTAINERD_TEST   := 2.2 2.4
CONTAINERD_MATRIX := 2.1 2.0 1.7
ctd_module = github.com/containerd/containerd$(if $(filter 1.%,$(1)),,/v2)
$(CTD)/2.2/containerd: $(BIN)/containerd $(BIN)/containerd-shim-runc-v2
	mkdir -p $(CTD)/2.2 && ln -sf $(BIN)/containerd $(BIN)/containerd-shim-runc-v2 $(CTD)/2.2/
$(CTD)/%/containerd:
	cd integration/tools/containerd-$* && $(GO) build -tags no_btrfs -o $(CTD)/$*/ \
		$(call ctd_module,$*)/cmd/containerd $(call ctd_module,$*)/cmd/containerd-shim-runc-v2

# olareg: a registry that serves the OCI referrers API (Debian's 2.8 does not).
$(BIN)/olareg:
	cd integration/tools/olareg && $(GO) build -o $(BIN)/ github.com/olareg/olareg/cmd/olareg

# distribution v3: a registry with htpasswd auth and TLS.
$(BIN)/distribution-registry:
	cd integration/tools/distribution && $(GO) build -o $@ github.com/distribution/distribution/v3/cmd/registry
# The kubelet's ECR credential provider plugin. Its module has a replace,
# which a plain build from the proxy ignores: the tools module repeats it.
# Static, as released: a node's plugin runs inside signgate's container.
$(BIN)/ecr-credential-provider:
	cd integration/tools/ecr-credential-provider && CGO_ENABLED=0 $(GO) build -o $(BIN)/ k8s.io/cloud-provider-aws/cmd/ecr-credential-provider

# Sigstore's certificate authority, timestamp authority and log, for keyless
# signing with the real cosign CLI on loopback (TestRealCosignKeyless).
$(BIN)/fulcio:
	cd integration/tools/fulcio && $(GO) build -o $(BIN)/ github.com/sigstore/fulcio
$(BIN)/timestamp-server:
	cd integration/tools/tsa && $(GO) build -o $(BIN)/ github.com/sigstore/timestamp-authority/v2/cmd/timestamp-server
# Rekor v2 (rekor-tiles) on the local filesystem.
$(BIN)/rekor-server-posix:
	cd integration/tools/rekor && $(GO) build -o $(BIN)/rekor-server-posix github.com/sigstore/rekor-tiles/v2/cmd/rekor-server/posix

# CRI-O, the other runtime NRI serves, for `make crio-test`: v1.35.2 (NRI
# v0.11, with the default validator that makes the gate fail closed). The
# module proxy refuses v1.34.4-6, v1.35.1 and v1.36.0, and its v1.34.0 is
# the tag as first pushed (NRI v0.9, no validator); go-criu v8.3.0 stands in
# for the v8.1.0 CRI-O names, which the proxy refuses. ~10 min cold. Tags drop
# btrfs, devicemapper, ostree and gpgme (openpgp in Go instead); no seccomp
# tag, as the machine has no libseccomp-dev.
CRIO_TAGS := containers_image_ostree_stub exclude_graphdriver_btrfs btrfs_noversion exclude_graphdriver_devicemapper containers_image_openpgp
$(BIN)/crio:
	cd integration/tools/crio && $(GO) build -tags "$(CRIO_TAGS)" -o $(BIN)/ github.com/cri-o/cri-o/cmd/crio
# pinns, CRI-O's namespace pinner, is C in the same module (Debian has no
# package of it).
$(BIN)/pinns:
	cd integration/tools/crio && src=$$($(GO) list -m -f '{{.Dir}}' github.com/cri-o/cri-o)/pinns/src && \
		$(CC) -std=c99 -Os -Wall -Werror -Wextra -static -o $(BIN)/pinns $$src/*.c
CRIO_TOOLS := $(BIN)/crio $(BIN)/pinns

$(BIN)/crictl:
	cd integration/tools/crictl && $(GO) build -o $(BIN)/ sigs.k8s.io/cri-tools/cmd/crictl

$(BIN)/notation:
	cd integration/tools/notation && $(GO) build -o $(BIN)/ github.com/notaryproject/notation/cmd/notation

# The AWS KMS emulator (nsmithuk/local-kms), for the KMS key tests.
$(BIN)/local-kms:
	cd integration/tools/localkms && $(GO) build -o $(BIN)/ github.com/nsmithuk/local-kms

# Helm, to lint and render charts/signgate (make packaging) and install it
# on the test cluster (make k8s-test).
$(BIN)/helm:
	cd integration/tools/helm && $(GO) build -o $(BIN)/ helm.sh/helm/v3/cmd/helm

# promtool, to test the chart's alerting rules (make packaging). Without
# Prometheus' service discovery plugins (remove_all_sd: the cloud SDKs),
# which rule tests never use: under half the build time.
$(BIN)/promtool:
	cd integration/tools/promtool && $(GO) build -tags remove_all_sd -o $(BIN)/ github.com/prometheus/prometheus/cmd/promtool

$(BIN)/nfpm:
	cd packaging/tools && $(GO) build -o $(BIN)/ github.com/goreleaser/nfpm/v2/cmd/nfpm

# The Debian package: a static binary, the unit, the config (a conffile), the
# drop-ins to copy (in /usr/share/signgate) and the state directory.
DEB_VERSION ?= 0.1.0~git$(shell git rev-parse --short HEAD 2>/dev/null || echo 0)
DEB := _output/signgate_$(DEB_VERSION)_$(shell $(GO) env GOARCH).deb
deb: $(BIN)/nfpm ## the Debian package
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/signgate ./cmd/signgate-image-verifier
	GOARCH=$$($(GO) env GOARCH) SIGNGATE_VERSION=$(DEB_VERSION) $(BIN)/nfpm package \
		--config packaging/deb/nfpm.yaml --packager deb --target $(DEB)

$(BIN)/cosign:
	cd integration/tools/cosign && $(GO) build -o $(BIN)/ github.com/sigstore/cosign/v3/cmd/cosign

# Debian packages: runc, the distribution registry, a static busybox for images.
deps: ## the Debian packages the tests and demo need (runc, conmon, registry, busybox, systemd, time)
	@if ! command -v runc >/dev/null || ! command -v conmon >/dev/null || ! command -v docker-registry >/dev/null || ! test -x /bin/busybox || ! command -v systemd-analyze >/dev/null || ! test -x /usr/bin/time; then \
		echo "installing $(DEBS)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEBS); \
	fi

check: ## gofmt, go vet and the lean build
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet ./...
	@# A lean build without any KMS provider must still compile.
	$(GO) build -tags no_awskms,no_gcpkms,no_azurekms,no_vaultkms -o /dev/null ./cmd/signgate

# SIGNGATE_NO_SKIP=1: under make a test that lacks what it needs (a tool,
# root, the KMS emulator) fails instead of skipping (internal/testkit/testenv).
# The package test (./packaging) runs in `make packaging`, on the .deb.
unit: $(BIN)/local-kms ## unit tests (race detector); no root needed
	SIGNGATE_LOCAL_KMS=$(BIN)/local-kms SIGNGATE_NO_SKIP=1 \
		$(GO) test -race -count=1 $$($(GO) list ./... | grep -v -e /integration -e '/packaging$$')

# Needs root: it runs containerd and runc. signgate runs with the race
# detector, and halts on a race, so concurrency bugs fail the suite.
RACEBIN := $(CURDIR)/_output/race
racebin: deps tools $(KEYLESS_TOOLS) $(CRED_TOOLS)
	mkdir -p $(RACEBIN)
	for t in containerd containerd-shim-runc-v2 crictl cosign notation local-kms olareg fulcio timestamp-server rekor-server-posix distribution-registry ecr-credential-provider; do ln -sf $(BIN)/$$t $(RACEBIN)/$$t; done
	$(GO) build -race -ldflags "$(LDFLAGS)" -o $(RACEBIN)/ ./cmd/signgate
	CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o $(RACEBIN)/ ./cmd/signgate-image-verifier
# logged NAME runs the go test command that follows it, keeping its -v
# output in _output/logs/NAME.log and, when it fails, printing the failed
# tests and their messages last (.ci/failures): a CI view that shows only
# the tail of a long log still names what failed.
LOGS := $(CURDIR)/_output/logs
logged = mkdir -p $(LOGS) && set -o pipefail && run() { "$$@" 2>&1 | tee $(LOGS)/$(1).log || { .ci/failures $(LOGS)/$(1).log; return 1; }; } && run
# suite runs the integration suite once per containerd version given.
suite = for v in $(1); do echo "=== integration suite on containerd $$v"; \
	$(call logged,integration-$$v) env GORACE=halt_on_error=1 SIGNGATE_TEST_BIN=$(RACEBIN) SIGNGATE_CONTAINERD=$(CTD)/$$v SIGNGATE_LOCAL_KMS=$(BIN)/local-kms SIGNGATE_NO_SKIP=1 \
	$(GO) test -count=1 -p 1 -timeout 20m -v ./integration/ || exit 1; done

integration: racebin $(foreach v,$(CONTAINERD_TEST),$(CTD)/$(v)/containerd) ## the end-to-end suite on containerd 2.2 and 2.4: real runc, crictl, registries, signatures (root)
	$(call suite,$(CONTAINERD_TEST))

# The gate cases on CRI-O (integration/crio): CRI-O from the module proxy,
# conmon and runc from Debian, signgate reading CRI-O's storage.
# Helm renders the chart's config for doctor as the pod runs it.
crio-test: racebin $(CRIO_TOOLS) $(BIN)/helm ## the gate cases on a real CRI-O 1.35.2: allow, deny, annotation spoofing, fails closed (signgate absent, killed, wedged), auto (root)
	ln -sf $(BIN)/crio $(BIN)/pinns $(RACEBIN)/
	$(call logged,crio) env GORACE=halt_on_error=1 SIGNGATE_TEST_BIN=$(RACEBIN) SIGNGATE_HELM=$(BIN)/helm SIGNGATE_NO_SKIP=1 \
		$(GO) test -count=1 -p 1 -timeout 10m -v ./integration/crio/

matrix: racebin $(foreach v,$(CONTAINERD_MATRIX),$(CTD)/$(v)/containerd) ## the end-to-end suite on containerd 2.1, 2.0 and 1.7 (root)
	$(call suite,$(CONTAINERD_MATRIX))

# A one-node Kubernetes cluster from the module proxy (etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kubelet, kubectl: v1.34.2 in
# integration/tools/kubernetes), on each containerd in CONTAINERD_K8S with the
# DaemonSet's drop-in, running the shipped DaemonSet with the image built here.
K8S := $(CURDIR)/_output/k8s
K8S_CMDS := kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl
K8S_VERSION := v1.34.2
# The version Kubernetes' own build stamps in (nodes and kubectl show it).
K8S_LDFLAGS := $(foreach p,k8s.io/component-base/version k8s.io/client-go/pkg/version,-X $(p).gitVersion=$(K8S_VERSION) -X $(p).gitMajor=1 -X $(p).gitMinor=34)
CONTAINERD_K8S := 2.2 2.4
$(K8S)/kubelet:
	cd integration/tools/kubernetes && $(GO) build -ldflags "$(K8S_LDFLAGS)" -o $(K8S)/ $(addprefix k8s.io/kubernetes/cmd/,$(K8S_CMDS))
	cd integration/tools/kubernetes && $(GO) build -o $(K8S)/etcd go.etcd.io/etcd/server/v3
k8s_env = SIGNGATE_TEST_BIN=$(RACEBIN) SIGNGATE_K8S_BIN=$(K8S) SIGNGATE_IMAGE_LAYOUT=$(CURDIR)/_output/image

# The chart, installed with helm install, on each containerd in CONTAINERD_K8S.
k8s-test: racebin image $(BIN)/helm $(K8S)/kubelet $(foreach v,$(CONTAINERD_K8S),$(CTD)/$(v)/containerd) ## the Helm chart (the shipped DaemonSet) on a real one-node Kubernetes cluster, on containerd 2.2 and 2.4 (root)
	for v in $(CONTAINERD_K8S); do echo "=== Kubernetes on containerd $$v"; \
		$(call logged,k8s-$$v) env $(k8s_env) SIGNGATE_HELM=$(BIN)/helm SIGNGATE_CONTAINERD=$(CTD)/$$v SIGNGATE_NO_SKIP=1 $(GO) test -count=1 -p 1 -timeout 20m -v ./integration/k8s/ || exit 1; done

demo-k8s: racebin image $(K8S)/kubelet $(CTD)/2.2/containerd ## the gate on a Kubernetes node: a signed and an unsigned Deployment (root)
	$(k8s_env) SIGNGATE_CONTAINERD=$(CTD)/2.2 $(GO) run ./integration/demo-k8s

# The container image, as an OCI layout (no Docker engine needed).
image: deb ## the container image, as an OCI layout
	$(GO) run ./packaging/image -binary $(BIN)/signgate -out _output/image -tag ghcr.io/signgate/signgate:$(VERSION)

# Installs the package on this machine with dpkg, checks it, and purges it;
# builds the image; validates the Kubernetes manifests and the Helm chart
# (helm lint, helm template against signgate.yaml, promtool on its alerts).
packaging: deps deb image $(BIN)/helm $(BIN)/promtool ## install the .deb with dpkg, check it, purge it; check the manifests and the chart
	SIGNGATE_NO_SKIP=1 SIGNGATE_TEST_DEB=$(CURDIR)/$(DEB) $(GO) test -count=1 -v ./packaging/...
	cd packaging/tools && SIGNGATE_NO_SKIP=1 SIGNGATE_BIN=$(BIN)/signgate SIGNGATE_HELM=$(BIN)/helm SIGNGATE_PROMTOOL=$(BIN)/promtool \
		$(GO) test -count=1 -v ./kubecheck/

test: check unit integration crio-test packaging k8s-test ## everything: check, unit, integration, packaging, Kubernetes (the README's test command)

demo: deps build tools ## the gate end to end (the README's first command)
	SIGNGATE_TEST_BIN=$(BIN) SIGNGATE_LOCAL_KMS=$(BIN)/local-kms $(GO) run ./integration/demo

demo-keep: deps build tools ## the demo, then its registry, containerd and signgate left up to try verify and inspect (Ctrl-C stops them)
	SIGNGATE_KEEP=1 SIGNGATE_TEST_BIN=$(BIN) SIGNGATE_LOCAL_KMS=$(BIN)/local-kms $(GO) run ./integration/demo

bench: deps build tools $(CRIO_TOOLS) $(CRED_TOOLS) ## the benchmark table
	SIGNGATE_TEST_BIN=$(BIN) $(GO) run ./integration/bench

# profile: signgate built with its profiler (-tags profile), under the
# bench's create loop for 30 s; the CPU profile lands in _output/cpu.pprof.
PROFBIN := $(CURDIR)/_output/profile
profile: deps build tools ## CPU profile of signgate while containers are created
	mkdir -p $(PROFBIN)
	for t in containerd containerd-shim-runc-v2 crictl cosign notation local-kms olareg signgate-image-verifier; do ln -sf $(BIN)/$$t $(PROFBIN)/$$t; done
	$(GO) build -tags profile -ldflags "$(LDFLAGS)" -o $(PROFBIN)/ ./cmd/signgate
	SIGNGATE_TEST_BIN=$(PROFBIN) SIGNGATE_PROFILE=$(CURDIR)/_output/cpu.pprof $(GO) run ./integration/bench

# staticcheck, from its own tools module.
$(BIN)/staticcheck:
	cd integration/tools/staticcheck && $(GO) build -o $(BIN)/ honnef.co/go/tools/cmd/staticcheck

lint: $(BIN)/staticcheck ## staticcheck over every package
	$(BIN)/staticcheck ./...

# govulncheck against the Go vulnerability database as the pinned
# golang.org/x/vulndb module holds it (no network beyond the module proxy;
# bump that module's version for newer data). vulngate fails on a
# vulnerable symbol signgate's code calls, unless allowed.txt says why it
# does not apply.
VULNTOOLS := integration/tools/govulncheck
vuln: ## govulncheck, offline, against the pinned vulnerability database
	cd $(VULNTOOLS) && $(GO) build -o $(BIN)/ golang.org/x/vuln/cmd/govulncheck golang.org/x/vulndb/cmd/indexdb ./vulngate
	rm -rf _output/vulndb
	$(BIN)/indexdb -vulns "$$(cd $(VULNTOOLS) && $(GO) list -m -f '{{.Dir}}' golang.org/x/vulndb)/data/osv" -out _output/vulndb
	set -o pipefail; $(BIN)/govulncheck -db file://$(CURDIR)/_output/vulndb -format json ./... | $(BIN)/vulngate $(VULNTOOLS)/allowed.txt

# Each fuzz target for FUZZTIME (go test fuzzes one target per run). The
# targets are found in the source, so a moved or renamed one cannot drop out
# silently (go test -fuzz passes when its pattern matches nothing, which
# once left config:FuzzParse fuzzing nothing after it moved to setup/).
# CI passes an execution count (FUZZTIME=20000x): a duration races Go 1.26's
# fuzz coordinator at the deadline and fails with a bare "context deadline
# exceeded" and no failing input (go.dev/issue/75804, fixed in Go 1.27).
FUZZTIME ?= 30s
fuzz: ## every fuzz target, FUZZTIME each (default 30s; NNNx for a count)
	@set -e; targets=$$(grep -rHo --include='*_test.go' --exclude-dir=_output '^func Fuzz[A-Za-z0-9_]*' . \
		| sed -E 's#^\./(.*)/[^/]*:func (Fuzz.*)$$#\1:\2#' | sort -u); \
	test -n "$$targets" || { echo "fuzz: no fuzz targets found" >&2; exit 1; }; \
	for t in $$targets; do \
		pkg=$${t%%:*}; fn=$${t#*:}; echo "fuzz $$pkg $$fn ($(FUZZTIME))"; \
		$(GO) test -list "^$$fn\$$" ./$$pkg/ | grep -qx "$$fn" || { echo "fuzz: $$fn not found in ./$$pkg" >&2; exit 1; }; \
		$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) ./$$pkg/; \
	done

clean: ## remove _output
	rm -rf _output
