#!/usr/bin/env bash
# The tests `make test` runs inside test-env.sh (which has started the stack and exported
# its addresses): every Rust test, the deploy pipeline's smoke test, then a property-based run
# over /openapi.json. The fault tests (stream_faults) skip here: `make test` runs them next in a
# stack of their own (infra/local/run-fault-tests.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
export PAYRAIL_REQUIRE_EMULATORS=1

cargo test --workspace

# The deploy pipeline's smoke test (tools/src/bin/smoke.rs), run here against the local stack so
# that it is itself tested: token, payments (offline with its idempotent replay, online to its
# final status), the reports as admin, the OpenAPI document. Account 500 plays the dedicated
# smoke account a deployed stage has (docs/deployment.md, "The smoke test").
echo "smoke: the deploy pipeline's smoke test against $PAYRAIL_API_URL"
PAYRAIL_SMOKE_PASSWORD="$PAYRAIL_DEMO_PASSWORD" PAYRAIL_SMOKE_ADMIN_PASSWORD="$PAYRAIL_DEMO_PASSWORD" \
target/debug/smoke --base-url "$PAYRAIL_API_URL" --username alice --admin-username admin \
  --account-id 500

# Schemathesis generates valid and invalid requests from the OpenAPI document and checks that
# nothing yields a 5xx, every response matches the document, and no protected route answers
# without valid credentials (ignored_auth). Requests carry an admin token (schemathesis_auth.py).
# Fixed seed: reproducible in CI. One worker: with two threads, CPython 3.11's ast module can
# fail hypothesis with "AST constructor recursion depth mismatch" (python/cpython#106905).
echo "schemathesis: property-based run over $PAYRAIL_API_URL/openapi.json"
PYTHONPATH="$PWD/infra/local${PYTHONPATH:+:$PYTHONPATH}" SCHEMATHESIS_HOOKS=schemathesis_auth \
.tools/venv/bin/schemathesis run "$PAYRAIL_API_URL/openapi.json" \
  --url "$PAYRAIL_API_URL" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,negative_data_rejection,ignored_auth \
  --max-examples "${SCHEMATHESIS_EXAMPLES:-150}" \
  --seed 20261121 \
  --workers 1 \
  --request-timeout 30 \
  --report junit --report-dir .local/schemathesis
