#!/usr/bin/env bash
# Installs every local-stack tool into the repo's git-ignored .tools/ folder, versions pinned.
# Idempotent: each part is skipped when its pinned version is already there.
set -euo pipefail
cd "$(dirname "$0")/../.."
TOOLS="$PWD/.tools"
mkdir -p "$TOOLS"

MOTO=5.2.5
CARGO_LAMBDA=1.9.2
SAM_CLI=1.170.0
CFN_LINT=1.58.0
CHECKOV=3.3.30
SCHEMATHESIS=4.32.5

stamp() { [ -f "$TOOLS/.$1-$2" ]; }
mark() { touch "$TOOLS/.$1-$2"; }

# DynamoDB is Dynoxide (crates.io dynoxide-rs, pinned in tools/dynamodb/Cargo.toml): built with
# the workspace as the payrail-dynamodb binary, so it needs nothing installed here.

# Emulators and runtime tools share one venv; the AWS linters get their own because
# sam-cli and checkov pin conflicting versions of boto3 and friends.
if ! stamp venv "$MOTO-$CARGO_LAMBDA-$SCHEMATHESIS"; then
  echo "installing moto[sqs]==$MOTO, cargo-lambda==$CARGO_LAMBDA, schemathesis==$SCHEMATHESIS"
  python3 -m venv "$TOOLS/venv"
  "$TOOLS/venv/bin/pip" install -q --disable-pip-version-check \
    "moto[sqs,server]==$MOTO" flask flask-cors "cargo-lambda==$CARGO_LAMBDA" "schemathesis==$SCHEMATHESIS"
  mark venv "$MOTO-$CARGO_LAMBDA-$SCHEMATHESIS"
fi

if ! stamp lint "$SAM_CLI-$CFN_LINT-$CHECKOV"; then
  echo "installing aws-sam-cli==$SAM_CLI, cfn-lint==$CFN_LINT, checkov==$CHECKOV"
  python3 -m venv "$TOOLS/venv-lint"
  "$TOOLS/venv-lint/bin/pip" install -q --disable-pip-version-check \
    "aws-sam-cli==$SAM_CLI" "cfn-lint==$CFN_LINT"
  python3 -m venv "$TOOLS/venv-checkov"
  "$TOOLS/venv-checkov/bin/pip" install -q --disable-pip-version-check "checkov==$CHECKOV"
  mark lint "$SAM_CLI-$CFN_LINT-$CHECKOV"
fi
echo "local tools ready in $TOOLS"
