#!/usr/bin/env bash
# `make run`: the whole API on http://127.0.0.1:${PORT:-3000}, on emulators, from template.yaml.
#
# Installs the local tools (infra/local/install.sh), builds the workspace binaries, starts
# the local DynamoDB (Dynoxide) on port 8000 persisting in .local/dynamodb/dynamodb.sqlite, creates the template's tables,
# seeds 20 000 transactions once (when the table has no payment yet), starts SQS (moto) on port
# 9324 and creates the template's queues, starts the functions under cargo lambda watch, the API
# Gateway, SQS event-source and schedule emulations, prints the URLs, and waits. Ctrl-C stops
# everything it started. Table data persists between runs; `rm -rf .local/dynamodb` starts afresh. moto
# keeps queues in memory: they are recreated empty at each run (messages do not survive it).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=infra/local/stack.sh
source infra/local/stack.sh

API_PORT="${PORT:-3000}"
DYNAMODB_PORT="${DYNAMODB_PORT:-8000}"
SQS_PORT="${SQS_PORT:-9324}"
SEED_COUNT="${SEED_COUNT:-20000}"
LOCAL_DIR="$STACK_ROOT/.local"
mkdir -p "$LOCAL_DIR"

bash infra/local/install.sh
stack_log "building the workspace binaries"
cargo build --workspace --bins

# Pagination cursors are signed with CURSOR_KEY and access tokens with TOKEN_SIGNING_KEY (both
# from Secrets Manager in AWS): random keys are kept for the local stack (ignored .local/), so
# cursors and tokens stay valid across restarts.
for name in cursor-key token-signing-key; do
  if [[ ! -s "$LOCAL_DIR/$name" ]]; then
    (umask 077 && random_key >"$LOCAL_DIR/$name")
  fi
done
CURSOR_KEY="$(<"$LOCAL_DIR/cursor-key")"
TOKEN_SIGNING_KEY="$(<"$LOCAL_DIR/token-signing-key")"
# The card data key: a fresh one per run is enough (moto forgets the queues at each run).
CARD_DATA_KEY="$(random_key)"
export CURSOR_KEY TOKEN_SIGNING_KEY CARD_DATA_KEY

start_dynamodb "$DYNAMODB_PORT" --db-path "$LOCAL_DIR/dynamodb"
export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$DYNAMODB_PORT"
"$LOCAL_STACK" create-tables --template "$STACK_TEMPLATE" --prefix "$TABLE_PREFIX"
TRANSACTIONS_TABLE="${TABLE_PREFIX}TransactionsTable"
export TRANSACTIONS_TABLE
seed_demo_users
seed_demo_accounts
backfill_demo_owners

# Does the table hold a payment? Payments are the items whose pk starts with PAY# (see
# shared/src/store/keys.rs); the per-day counters and other items don't count.
# Exit status 0: yes, 1: no, anything else: the check itself failed.
has_payment() {
  "$STACK_TOOLS/venv/bin/python" - "$TRANSACTIONS_TABLE" <<'PY'
import os, sys
import boto3
client = boto3.client(
    "dynamodb",
    endpoint_url=os.environ["AWS_ENDPOINT_URL_DYNAMODB"],
    region_name=os.environ["AWS_REGION"],
)
kwargs = {
    "TableName": sys.argv[1],
    "FilterExpression": "begins_with(pk, :p)",
    "ExpressionAttributeValues": {":p": {"S": "PAY#"}},
    "ProjectionExpression": "pk",
}
while True:
    page = client.scan(**kwargs)
    if page.get("Items"):
        sys.exit(0)
    if "LastEvaluatedKey" not in page:
        sys.exit(1)
    kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
PY
}

payments=0
has_payment || payments=$?
case $payments in
  0) stack_log "$TRANSACTIONS_TABLE already holds payments: not seeding" ;;
  1)
    cat >"$LOCAL_DIR/generator.yaml" <<YAML
# Written by infra/local/run.sh: the generator's target, the local DynamoDB.
endpoint: $AWS_ENDPOINT_URL_DYNAMODB
region: $AWS_REGION
credentials:
  access_key_id: $AWS_ACCESS_KEY_ID
  secret_access_key: $AWS_SECRET_ACCESS_KEY
table: $TRANSACTIONS_TABLE
YAML
    stack_log "seeding $SEED_COUNT transactions into $TRANSACTIONS_TABLE"
    "$STACK_ROOT/target/debug/generate" --config "$LOCAL_DIR/generator.yaml" --count "$SEED_COUNT"
    ;;
  *)
    stack_log "cannot tell whether $TRANSACTIONS_TABLE holds payments (status $payments)"
    exit 1
    ;;
esac

start_sqs "$SQS_PORT"
create_queues

# The gateway and log service simulator on 9090, unless GATEWAY_URL and LOG_URL point elsewhere.
if [[ -z "${GATEWAY_URL:-}" || -z "${LOG_URL:-}" ]]; then
  SIMULATOR_PORT="${SIMULATOR_PORT:-9090}"
  start_simulator "$SIMULATOR_PORT" --latency-ms "${SIMULATOR_LATENCY_MS:-50}"
  GATEWAY_URL="${GATEWAY_URL:-http://127.0.0.1:$SIMULATOR_PORT}"
  LOG_URL="${LOG_URL:-http://127.0.0.1:$SIMULATOR_PORT}"
fi
export GATEWAY_URL LOG_URL

LAMBDA_PORT="${LAMBDA_PORT:-$(free_port)}"
start_lambda "$LAMBDA_PORT"
start_apigw "$API_PORT" "http://127.0.0.1:$LAMBDA_PORT"
start_event_sources "http://127.0.0.1:$LAMBDA_PORT"
start_schedules "http://127.0.0.1:$LAMBDA_PORT"

API="http://127.0.0.1:$API_PORT"
cat <<EOF

payrail is running (logs in $STACK_LOG_DIR; Ctrl-C stops everything):
  $API/docs                    Swagger UI
  $API/openapi.json
  $API/auth/token              POST {"username", "password"} -> a bearer token (${TOKEN_TTL_SECONDS:-30} s)
  $API/transactions?days=7     admin only
  $API/transactions/count?days=30&card_type=visa
DynamoDB (Dynoxide): $AWS_ENDPOINT_URL_DYNAMODB (table $TRANSACTIONS_TABLE); Lambda invoke API: http://127.0.0.1:$LAMBDA_PORT
Payment gateway: $GATEWAY_URL; log service: $LOG_URL (received errors: $LOG_URL/logs)
Payment stream: curl -X POST $GATEWAY_URL/start -d '{"count":1000,"duration_seconds":90}' (progress: GET $GATEWAY_URL/start)
SQS (moto, in memory): $AWS_ENDPOINT_URL_SQS; queues: $ONLINE_QUEUE_URL, $OFFLINE_QUEUE_URL, $LOG_QUEUE_URL
  (dead-letter queues: *DeadLetterQueue; re-drive one: target/debug/redrive --from DLQ_URL --to QUEUE_URL)

Demo users (this local stack only), password '$DEMO_PASSWORD':
  admin (admin), alice (merchant "Alice's Shop"), bob (merchant "Bob's Bikes"), charlie (disabled)

Try:
  TOKEN=\$(curl -s -X POST $API/auth/token -d '{"username":"admin","password":"$DEMO_PASSWORD"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  curl -s -H "Authorization: Bearer \$TOKEN" '$API/transactions/count?days=30&card_type=visa'

EOF

# Wait until Ctrl-C (the INT trap exits, the EXIT trap stops everything) or until one of the
# services dies, which is reported.
set +e
wait -n "${STACK_PGIDS[@]}"
status=$?
set -e
stack_log "a service stopped (exit status $status); stopping the rest. Logs: $STACK_LOG_DIR"
exit 1
