#!/usr/bin/env bash
# The fault tests `make test` runs after the main run, inside a stack of their own
# (`PAYRAIL_FAULT_STACK=1 infra/local/test-env.sh infra/local/run-fault-tests.sh`): they stop and
# restart the emulators mid-stream, which other tests sharing the stack would not survive.
# In the main run (run-tests.sh) the same tests skip.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [[ -z "${PAYRAIL_FAULT_STACK:-}" ]]; then
  echo "run me as: PAYRAIL_FAULT_STACK=1 infra/local/test-env.sh $0" >&2
  exit 2
fi
export PAYRAIL_REQUIRE_EMULATORS=1
cargo test -p payrail-tests --test stream_faults
