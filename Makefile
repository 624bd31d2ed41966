# fsxkms build, test and local-run targets. Needs Go, make, git (make lint lists the Go files with
# it) and bash (the recipes' shell); make test and make lint also need cfn-lint (pip install
# cfn-lint); make test, make demo, make devstack and make invoke need moto_server, the local stack's
# DynamoDB for the alert state table (pip install 'moto[server]'; Debian has no python3-moto
# package); make test, off arm64, qemu-user-static (Debian); make sam-invoke, the SAM CLI and Docker.
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

# Reads go test -v output and prints, per package, each failed test with what it logged and each
# skipped test with its reason (the last thing it logged: t.Skip's message).
define TEST_SUMMARY
/^=== (RUN|CONT|NAME) / { cur = $$3; next }
/^=== / { next }
/^ *--- (FAIL|SKIP|PASS): / {
	name = $$3
	if ($$2 == "FAIL:") fails = fails "    --- FAIL: " name "\n" logs[name]
	if ($$2 == "SKIP:") skips = skips "    --- SKIP: " name ": " last[name] "\n"
	delete logs[name]; delete last[name]; next
}
/^    / && cur != "" {
	line = substr($$0, 5)
	if (line ~ /^    /) last[cur] = last[cur] " " substr(line, 5); else last[cur] = line
	logs[cur] = logs[cur] "        " line "\n"; next
}
/^(ok|FAIL)[ \t]/ {
	if (fails != "" || skips != "") printf "%s\n%s%s", $$2, fails, skips
	fails = skips = ""; cur = ""; next
}
endef
export TEST_SUMMARY

# The SAM build targets are for sam build, which sets ARTIFACTS_DIR; without it they would write /bootstrap.
ARTIFACTS_CHECK = if [ -z "$(ARTIFACTS_DIR)" ]; then echo "make $@: ARTIFACTS_DIR is not set: this target is sam build's (BuildMethod: makefile sets it); run sam build, or make build for functions/<name>/bootstrap" >&2; exit 2; fi

.PHONY: all build tools test lint lint-template devstack devstack-down demo invoke sam-invoke events clean build-KmsEventsFunction build-SweepFunction build-SweepWorkerFunction $(addprefix build-fn-,$(FUNCTIONS))

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
## qemu-user (says so when qemu is missing). The summary names every failed test with its log and
## every skipped test with its reason; the whole -v log is .devstack/test.log.
test: tools lint-template
	@$(MOTO_CHECK)
	@$(QEMU_CHECK)
	$(GO) vet ./...
	mkdir -p .devstack
	@echo "$(GO) test -count=1 -v ./... (log: .devstack/test.log)"; rc=0; \
	$(GO) test -count=1 -v ./... 2>&1 | tee .devstack/test.log | { grep --line-buffered -vE '^(=== |    |--- (PASS|SKIP)|PASS$$)' || true; } || rc=$$?; \
	echo "go test summary:"; grep -E '^(ok|FAIL|panic)' .devstack/test.log || true; \
	details=$$(awk "$$TEST_SUMMARY" .devstack/test.log); if [ -n "$$details" ]; then echo "failed and skipped tests:"; echo "$$details"; fi; \
	$(QEMU_CHECK); exit $$rc

## lint: gofmt, go vet, staticcheck and modernize (pinned in tools/go.mod), the golden emails' 80 columns,
## and cfn-lint on the templates.
lint: tools lint-template
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...
	$(MODERNIZE) ./...
	$(GO) test -count=1 -run '^TestGoldenEmailWidth$$' ./pkg/alert/

## lint-template: cfn-lint on every template: template.yaml and org/*.yaml (the member accounts'),
## against the CloudFormation and SAM specifications, offline; it must print nothing.
TEMPLATES := template.yaml $(sort $(wildcard org/*.yaml))
lint-template:
	@command -v $(CFN_LINT) >/dev/null 2>&1 || { echo "cfn-lint not found: make lint and make test run it on $(TEMPLATES); install it with: pip install cfn-lint" >&2; exit 1; }
	$(CFN_LINT) $(TEMPLATES)

## devstack / devstack-down: the local AWS stack in the background; writes .devstack/env (which also
## exports AWS_ENDPOINT_URL_DYNAMODB and STATE_TABLE, the alert state table in moto_server) and
## .devstack/sam-env.json (make sam-invoke). DEMO=1 seeds it with the demo world of make invoke.
devstack: tools
	@$(MOTO_CHECK)
	$(GO) build -o $(BIN)/devstack ./internal/cmd/devstack
	$(BIN)/devstack up -dir $(ROOT)/.devstack$(if $(DEMO), -demo)

devstack-down:
	@if [ -x $(BIN)/devstack ]; then $(BIN)/devstack down -dir $(ROOT)/.devstack; else echo "devstack: not running"; fi

## demo: the monitor's main job locally: the real kms-events bootstrap under the Lambda
## emulator on the local stack, a scenario of KMS changes, and the alerts a person receives.
demo: tools
	@$(MOTO_CHECK)
	$(GO) run ./internal/cmd/demo

## invoke: events through the kms-events bootstrap under the Lambda emulator on a local stack of its
## own with the demo world, never an AWS account: EVENT=events/<file>.json (several: EVENT="a b"),
## every file of events/ without EVENT; each event's change is made on the stack first, or the
## output says why it cannot be; KEEP=1 runs them in sequence on one world and alert state.
invoke: tools
	@$(MOTO_CHECK)
	$(GO) run ./internal/cmd/invoke$(if $(KEEP), -keep) $(or $(EVENT),$(wildcard events/*.json))

## sam-invoke: one event through `sam local invoke` (SAM CLI, Docker) on the stack of make devstack
## (make devstack DEMO=1 for the demo world), never an AWS account: endpoints from
## .devstack/sam-env.json, dummy credentials from .devstack/env. FUNCTION=SweepFunction for the sweep.
FUNCTION ?= KmsEventsFunction
sam-invoke:
	@if [ -z "$(EVENT)" ]; then echo "usage: make sam-invoke EVENT=events/<file>.json [FUNCTION=KmsEventsFunction]" >&2; exit 2; fi
	@command -v sam >/dev/null 2>&1 || { echo "sam not found: make sam-invoke runs sam local invoke (the SAM CLI, and Docker); make invoke EVENT=$(EVENT) runs the same function without them" >&2; exit 1; }
	@if [ ! -x $(BIN)/devstack ] || [ ! -f .devstack/env ]; then echo "make sam-invoke runs on the local stack, which is not running: make devstack DEMO=1 first" >&2; exit 1; fi
	$(BIN)/devstack sam-env -dir $(ROOT)/.devstack
	sam build --build-in-source
	. .devstack/env && sam local invoke $(FUNCTION) --event "$(EVENT)" --env-vars .devstack/sam-env.json --docker-network host

## events: regenerate the sample events in events/ from internal/scenario.
events:
	$(GO) run ./internal/cmd/genevents

clean:
	rm -rf bin functions/*/bootstrap

## SAM (BuildMethod: makefile) calls build-<LogicalId> with ARTIFACTS_DIR set.
build-KmsEventsFunction:
	@$(ARTIFACTS_CHECK)
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/kms-events

build-SweepFunction:
	@$(ARTIFACTS_CHECK)
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/sweep

build-SweepWorkerFunction:
	@$(ARTIFACTS_CHECK)
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/sweep-worker
