# payrail: `make run` serves the whole API locally; `make test` runs every check.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
# The project's own tools, installed by infra/local/install.sh into the ignored .tools/.
export PATH := $(CURDIR)/.tools/venv/bin:$(CURDIR)/.tools/venv-lint/bin:$(PATH)
export SAM_CLI_TELEMETRY := 0

.PHONY: run test bench tools lint unit package

## Install what is missing, start the emulators, seed, and serve http://127.0.0.1:$${PORT:-3000}.
run: tools
	infra/local/run.sh

## Every check: formatting, clippy, the template linters, then all tests on fresh emulators;
## then the fault tests (they stop and restart emulators) on a stack of their own.
test: tools lint
	cargo build --workspace --bins
	infra/local/test-env.sh infra/local/run-tests.sh
	PAYRAIL_FAULT_STACK=1 infra/local/test-env.sh infra/local/run-fault-tests.sh

## The benchmarks (release builds); prints each figure with the command that produced it.
bench: tools
	infra/local/bench.sh

tools:
	infra/local/install.sh

## checkov has its own venv (its pins conflict with sam-cli's); every skip is justified in the
## template next to its resource (Metadata.checkov.skip). --skip-download keeps it offline.
lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	sam validate --lint
	cfn-lint template.yaml
	.tools/venv-checkov/bin/checkov -f template.yaml --framework cloudformation --skip-download --compact --quiet
	infra/ci/lint-workflows.sh

## `sam build` of every function (cargo-lambda, release), then each artifact's size; fails over
## 8 MB zipped. ARCH=arm64|x86_64 (default arm64 when its standard library is installed).
package: tools
	infra/package.sh

## Unit tests only (no emulators).
unit:
	cargo test --workspace --lib --bins
