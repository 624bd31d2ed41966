# fsxkms build, test and local-run targets. Needs Go, make, git and curl; make test and make lint
# also need cfn-lint (pip install cfn-lint); make test, make demo, make devstack and make invoke need
# moto_server, the local stack's DynamoDB for the alert state table (pip install 'moto[server]';
# Debian has no python3-moto package); and make test, off arm64, qemu-user-static (Debian).
SHELL := /usr/bin/env bash
.SHELLFLAGS := -eo pipefail -c
GO        ?= go
ROOT      := $(abspath .)
BIN       := $(ROOT)/.devstack/bin
FUNCTIONS := $(notdir $(wildcard functions/*))
GOARCH_LAMBDA ?= arm64
LAMBDA_FLAGS := -tags lambda.norpc -trimpath -ldflags='-s -w'
STATICCHECK := $(BIN)/staticcheck
MODERNIZE   := $(BIN)/modernize
CFN_LINT    ?= cfn-lint
# Says when qemu-user cannot run the shipped linux/arm64 bootstrap here (TestEndToEnd/arm64 needs it off arm64).
QEMU_CHECK   = if [ "$$(uname -m)" != aarch64 ] && ! command -v qemu-aarch64-static >/dev/null 2>&1; then \
	echo "make test: qemu-aarch64-static is missing, so TestEndToEnd/arm64 (internal/localrun), the shipped arm64 bootstrap under the Lambda emulator, FAILS: install Debian's qemu-user-static (apt-get install -y qemu-user-static; .ci/run does this)" >&2; fi

# Stops when moto_server, the local stack's DynamoDB (the alert state table), is missing or does not
# run (a pyenv shim whose Python has no moto): internal/devstack starts it and every stack test needs it.
MOTO_CHECK   = moto_server --help >/dev/null 2>&1 || { \
	echo "moto_server not found or not working: the local stack's DynamoDB, which holds the alert state table, is moto's server (make test, demo, devstack and invoke need it); install it with: pip install 'moto[server]' (Debian has no python3-moto package)" >&2; exit 1; }

.PHONY: all build tools test lint lint-template devstack devstack-down demo invoke events clean build-KmsEventsFunction build-SweepFunction $(addprefix build-fn-,$(FUNCTIONS))

all: build

## build: every Lambda as functions/<name>/bootstrap (linux/arm64) and the CLI as bin/fsxkms.
build: $(addprefix build-fn-,$(FUNCTIONS))
	$(GO) build -trimpath -o bin/fsxkms ./cmd/fsxkms

$(addprefix build-fn-,$(FUNCTIONS)): build-fn-%:
	CGO_ENABLED=0 GOOS=linux GOARCH=$(GOARCH_LAMBDA) $(GO) build $(LAMBDA_FLAGS) -o functions/$*/bootstrap ./functions/$*

## tools: the pinned third-party servers of the local stack (tools/go.mod) in .devstack/bin.
tools: $(BIN)/local-kms $(BIN)/goaws $(BIN)/aws-lambda-rie $(BIN)/staticcheck $(BIN)/modernize

$(BIN)/local-kms $(BIN)/goaws $(BIN)/aws-lambda-rie $(BIN)/staticcheck $(BIN)/modernize: tools/go.mod tools/go.sum
	mkdir -p $(BIN)
	cd tools && GOBIN=$(BIN) $(GO) install tool
	mv -f $(BIN)/cmd $(BIN)/goaws
	touch $(BIN)/local-kms $(BIN)/goaws $(BIN)/aws-lambda-rie $(BIN)/staticcheck $(BIN)/modernize

## test: cfn-lint on template.yaml, go vet and every test, including integration tests against
## the local stack (stops first when moto_server is missing) and the shipped arm64 bootstrap through
## qemu-user (says so when qemu is missing).
test: tools lint-template
	@$(MOTO_CHECK)
	@$(QEMU_CHECK)
	$(GO) vet ./...
	mkdir -p .devstack
	@echo "$(GO) test -count=1 ./..."; rc=0; $(GO) test -count=1 ./... 2>&1 | tee .devstack/test.log || rc=$$?; \
	echo "go test summary:"; grep -E '^(ok|FAIL|---|panic)' .devstack/test.log | grep -v '^--- PASS' || true; \
	$(QEMU_CHECK); exit $$rc

## lint: gofmt, go vet, staticcheck and modernize (pinned in tools/go.mod) and cfn-lint on template.yaml.
lint: tools lint-template
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...
	$(MODERNIZE) ./...

## lint-template: cfn-lint template.yaml (CloudFormation and SAM specifications, offline); it must print nothing.
lint-template:
	@command -v $(CFN_LINT) >/dev/null 2>&1 || { echo "cfn-lint not found: make lint and make test run it on template.yaml; install it with: pip install cfn-lint" >&2; exit 1; }
	$(CFN_LINT) template.yaml

## devstack / devstack-down: the local AWS stack in the background; writes .devstack/env (which also
## exports AWS_ENDPOINT_URL_DYNAMODB and STATE_TABLE, the alert state table in moto_server).
devstack: tools
	@$(MOTO_CHECK)
	$(GO) build -o $(BIN)/devstack ./internal/cmd/devstack
	$(BIN)/devstack up -dir $(ROOT)/.devstack

devstack-down:
	@if [ -x $(BIN)/devstack ]; then $(BIN)/devstack down -dir $(ROOT)/.devstack; else echo "devstack: not running"; fi

## demo: the monitor's main job locally: the real kms-events bootstrap under the Lambda
## emulator on the local stack, a scenario of KMS changes, and the alerts a person receives.
demo: tools
	@$(MOTO_CHECK)
	$(GO) run ./internal/cmd/demo

## invoke: one event through the function: `sam local invoke` when sam is installed,
## otherwise the built bootstrap under the Lambda emulator on the local stack.
invoke: tools
	@if [ -z "$(EVENT)" ]; then echo "usage: make invoke EVENT=events/<file>.json"; exit 2; fi
	@if command -v sam >/dev/null 2>&1; then \
		sam build && sam local invoke KmsEventsFunction --event "$(EVENT)"; \
	else \
		echo "sam not found: running the bootstrap under the Lambda Runtime Interface Emulator on the local stack"; \
		$(MOTO_CHECK); \
		$(GO) run ./internal/cmd/invoke "$(EVENT)"; \
	fi

## events: regenerate the sample events in events/ from internal/scenario.
events:
	$(GO) run ./internal/cmd/genevents

clean:
	rm -rf bin functions/*/bootstrap

## SAM (BuildMethod: makefile) calls build-<LogicalId> with ARTIFACTS_DIR set.
build-KmsEventsFunction:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/kms-events

build-SweepFunction:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/sweep
