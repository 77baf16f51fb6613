#!/usr/bin/env bash
# `make test`: runs a command against a fresh local stack on free ports, then stops the stack.
#
#   infra/local/test-env.sh cargo test --workspace
#
# Starts the local DynamoDB (Dynoxide, in memory) and SQS (moto), creates the template's tables and queues,
# starts the functions under cargo lambda watch, the API Gateway and SQS event-source
# emulations, exports
#   PAYRAIL_TEST_DYNAMODB_ENDPOINT, AWS_ENDPOINT_URL_DYNAMODB  the local DynamoDB
#   PAYRAIL_API_URL                                           the HTTP API (API Gateway emulation)
#   PAYRAIL_LAMBDA_URL                                        the Lambda invoke API (cargo lambda watch)
#   TRANSACTIONS_TABLE, USERS_TABLE, ACCOUNTS_TABLE,
#   LOGIN_ATTEMPTS_TABLE, CURSOR_KEY,
#   TOKEN_SIGNING_KEY, TOKEN_TTL_SECONDS                      as the functions see them
#   PAYRAIL_DEMO_PASSWORD                                     the seeded demo users' password
#   PAYRAIL_SIMULATOR_URL, GATEWAY_URL, LOG_URL               the gateway and log service simulator
#   PAYRAIL_SQS_ENDPOINT, AWS_ENDPOINT_URL_SQS                SQS (moto server)
#   ONLINE_QUEUE_URL, OFFLINE_QUEUE_URL, LOG_QUEUE_URL and
#   their ONLINE_DEAD_LETTER_QUEUE_URL, ...                   the template's queues
#   CARD_DATA_KEY                                             the functions' card-sealing key
#   STACK_LOG_DIR                                             every service's log (lambda.log, ...)
#   PAYRAIL_SQS_RECORD                                        a JSON line per message the SQS
#                                                             event sources delivered
#   PAYRAIL_STOP_DYNAMODB, PAYRAIL_START_DYNAMODB,
#   PAYRAIL_STOP_SQS, PAYRAIL_START_SQS                       scripts stopping and restarting an
#                                                             emulator on its port (fault tests)
# (plus dummy AWS credentials and AWS_REGION), runs the command, stops everything it started
# and exits with the command's exit status. Logs are kept in .local/test-stack.* when it fails.
# The template's schedules (the reconciler) run at their rate.
#
# PAYRAIL_FAULT_STACK=1 makes the stack for the fault tests (tests/tests/stream_faults.rs):
# the local DynamoDB persists in a file under $STACK_LOG_DIR (so a restart keeps the data, as DynamoDB does),
# schedules fire every PAYRAIL_SCHEDULE_SECONDS (default 5) and the reconciler re-sends
# payments pending longer than RECONCILE_AFTER_SECONDS (default 15).
set -euo pipefail
if [[ $# -eq 0 ]]; then
  echo "usage: $0 COMMAND [ARG...]" >&2
  exit 2
fi
cd "$(dirname "$0")/../.."
mkdir -p .local
STACK_LOG_DIR="$(mktemp -d "$PWD/.local/test-stack.XXXXXX")"
export STACK_LOG_DIR
# shellcheck source=infra/local/stack.sh
source infra/local/stack.sh

bash infra/local/install.sh >&2
stack_log "building the workspace binaries"
cargo build --workspace --bins

# Fresh signing keys for pagination cursors and access tokens (from Secrets Manager in AWS).
CURSOR_KEY="$(random_key)"
CARD_DATA_KEY="$(random_key)"
TOKEN_SIGNING_KEY="$(random_key)"
export CURSOR_KEY TOKEN_SIGNING_KEY CARD_DATA_KEY
export TOKEN_TTL_SECONDS="${TOKEN_TTL_SECONDS:-30}"

if [[ -n "${PAYRAIL_FAULT_STACK:-}" ]]; then
  export PAYRAIL_FAULT_STACK
  export PAYRAIL_SCHEDULE_SECONDS="${PAYRAIL_SCHEDULE_SECONDS:-5}"
  export RECONCILE_AFTER_SECONDS="${RECONCILE_AFTER_SECONDS:-15}"
fi

dynamodb_port="$(free_port)"
if [[ -n "${PAYRAIL_FAULT_STACK:-}" ]]; then
  start_dynamodb "$dynamodb_port" --db-path "$STACK_LOG_DIR/dynamodb"
else
  start_dynamodb "$dynamodb_port" --in-memory
fi
export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$dynamodb_port"
export PAYRAIL_TEST_DYNAMODB_ENDPOINT="$AWS_ENDPOINT_URL_DYNAMODB"
"$LOCAL_STACK" create-tables --template "$STACK_TEMPLATE" --prefix "$TABLE_PREFIX" >&2
export TRANSACTIONS_TABLE="${TABLE_PREFIX}TransactionsTable"
export USERS_TABLE="${TABLE_PREFIX}UsersTable"
export ACCOUNTS_TABLE="${TABLE_PREFIX}AccountsTable"
export LOGIN_ATTEMPTS_TABLE="${TABLE_PREFIX}LoginAttemptsTable"
seed_demo_users
seed_demo_accounts
export PAYRAIL_DEMO_PASSWORD="$DEMO_PASSWORD"

start_sqs "$(free_port)"
create_queues

simulator_port="$(free_port)"
start_simulator "$simulator_port" --seed 20261121
export PAYRAIL_SIMULATOR_URL="http://127.0.0.1:$simulator_port"
export GATEWAY_URL="$PAYRAIL_SIMULATOR_URL" LOG_URL="$PAYRAIL_SIMULATOR_URL"

lambda_port="$(free_port)"
start_lambda "$lambda_port"
export PAYRAIL_LAMBDA_URL="http://127.0.0.1:$lambda_port"

api_port="$(free_port)"
start_apigw "$api_port" "$PAYRAIL_LAMBDA_URL"
export PAYRAIL_API_URL="http://127.0.0.1:$api_port"

export PAYRAIL_SQS_RECORD="$STACK_LOG_DIR/sqs-deliveries.jsonl"
start_event_sources "$PAYRAIL_LAMBDA_URL"
start_schedules "$PAYRAIL_LAMBDA_URL"

stack_log "running: $*"
set +e
"$@"
status=$?
set -e
stack_stop
if [[ $status -eq 0 ]]; then
  rm -rf "$STACK_LOG_DIR"
else
  stack_log "the command exited with status $status; the stack's logs are in $STACK_LOG_DIR"
fi
exit "$status"
