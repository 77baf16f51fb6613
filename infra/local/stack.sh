#!/usr/bin/env bash
# Functions shared by run.sh and test-env.sh: source this file, don't run it.
#
#   free_port                               prints a free TCP port (the kernel picks it)
#   start_dynamodb PORT --in-memory         the local DynamoDB (Dynoxide), waits until it answers
#   start_dynamodb PORT --db-path DIR       ... persisting in DIR/dynamodb.sqlite
#   start_sqs PORT                          moto's server (SQS, in memory), waits until it answers;
#                                           exports AWS_ENDPOINT_URL_SQS and PAYRAIL_SQS_ENDPOINT
#                                           Both emulators are restartable on their port: each start
#                                           writes $STACK_LOG_DIR/control/{stop,start}-{dynamodb,sqs}
#                                           and exports their paths as PAYRAIL_STOP_DYNAMODB,
#                                           PAYRAIL_START_DYNAMODB, PAYRAIL_STOP_SQS, PAYRAIL_START_SQS
#                                           (start-sqs recreates the template's queues: moto lost them)
#   create_queues                           the template's queues; exports ONLINE_QUEUE_URL, ... and
#                                           their *_DEAD_LETTER_QUEUE_URL
#   start_lambda PORT                       cargo lambda watch (the functions' runtime + invoke API)
#   start_apigw PORT LAMBDA_URL             the HTTP API emulation (local-stack apigw)
#   start_event_sources LAMBDA_URL          the SQS event-source emulation (local-stack event-sources)
#   start_schedules LAMBDA_URL              the template's Schedule events (local-stack schedules);
#                                           PAYRAIL_SCHEDULE_SECONDS=N fires them every N s instead
#   start_simulator PORT [ARG...]           the gateway and log service simulator
#   random_key                              prints a fresh random key (for the signing keys)
#   seed_demo_users                         the demo users of SPEC §7 (local stack only)
#   seed_demo_accounts                      paying accounts 1..=500 (after seed_demo_users)
#   backfill_demo_owners                    owner ids for data kept from older runs (after seed_demo_users)
#
# Everything started runs in its own process group, logs to $STACK_LOG_DIR/<name>.log, and is
# stopped (the whole group) when the sourcing script exits or gets INT/TERM.
# Tables, queues, routes, event sources and the functions' environment all come from
# template.yaml via local-stack.
# shellcheck shell=bash

STACK_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STACK_TOOLS="$STACK_ROOT/.tools"
STACK_TEMPLATE="$STACK_ROOT/template.yaml"
# The project's own tools (local-stack, users): debug builds unless the caller (bench.sh) says.
STACK_BIN_DIR="${STACK_BIN_DIR:-$STACK_ROOT/target/debug}"
LOCAL_STACK="$STACK_BIN_DIR/local-stack"
CARGO_LAMBDA="$STACK_TOOLS/venv/bin/cargo-lambda"
STACK_LOG_DIR="${STACK_LOG_DIR:-$STACK_ROOT/.local/logs}"
# Prepended to table and queue names (both are the template's logical ids); empty by default.
TABLE_PREFIX="${TABLE_PREFIX:-}"
# How long to wait for a service to answer, in seconds.
STACK_START_TIMEOUT="${STACK_START_TIMEOUT:-120}"
# Environment variables a caller may set to override the template's value (spec section 7).
# Other knobs: STACK_LOG_DIR, LAMBDA_CONCURRENCY (instances per function, default 2),
# SQS_POLLERS (pollers per SQS event source, default 2),
# APIGW_INVOKE_TIMEOUT (seconds per invocation, default 60: a cold instance runs `cargo run`),
# LAMBDA_RELEASE (non-empty: the functions run as release builds, for benchmarks).
STACK_ENV_OVERRIDES=(GATEWAY_URL LOG_URL TOKEN_TTL_SECONDS RUST_LOG RECONCILE_AFTER_SECONDS)
# The restartable emulators' pid files, stop markers and control scripts.
STACK_CONTROL_DIR="$STACK_LOG_DIR/control"

STACK_PGIDS=()
STACK_NAMES=()

# The functions (and the tests that start their binaries) run in the local stack: plain-http
# GATEWAY_URL / LOG_URL (the simulator) are allowed only with this (shared/src/config.rs).
export PAYRAIL_LOCAL_STACK=1

# Dummy credentials: the local stack must never reach a real AWS account.
export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local
export AWS_REGION="${AWS_REGION:-eu-west-1}"
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_DEFAULT_PROFILE
export SAM_CLI_TELEMETRY=0

stack_log() { printf '[local-stack] %s\n' "$*" >&2; }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# require_free_port PORT WHAT: fails when something already listens on PORT (a server still
# running from an earlier start would otherwise answer the readiness checks).
require_free_port() {
  if ! python3 -c 'import socket, sys; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1]))); s.close()' "$1" 2>/dev/null; then
    stack_log "port $1 is in use: cannot start $2 (set another port, or stop what listens there)"
    return 1
  fi
}

# stack_spawn NAME CMD...: starts CMD in a new process group (setsid, which execs in place
# because a background job is no group leader, so $! is the group id), logging to NAME.log.
stack_spawn() {
  local name=$1
  shift
  mkdir -p "$STACK_LOG_DIR"
  setsid "$@" >"$STACK_LOG_DIR/$name.log" 2>&1 </dev/null &
  STACK_PGIDS+=("$!")
  STACK_NAMES+=("$name")
}

# stack_wait NAME PGID DESCRIPTION CMD...: polls CMD until it succeeds; fails early when the
# process is gone and after $STACK_START_TIMEOUT seconds, showing the end of its log.
stack_wait() {
  local name=$1 pgid=$2 what=$3
  shift 3
  local deadline=$((SECONDS + STACK_START_TIMEOUT))
  until "$@" >/dev/null 2>&1; do
    if ! kill -0 "$pgid" 2>/dev/null; then
      stack_log "$what exited before it was ready; end of $STACK_LOG_DIR/$name.log:"
      tail -n 30 "$STACK_LOG_DIR/$name.log" >&2 || true
      return 1
    fi
    if ((SECONDS >= deadline)); then
      stack_log "$what not ready after ${STACK_START_TIMEOUT}s; end of $STACK_LOG_DIR/$name.log:"
      tail -n 30 "$STACK_LOG_DIR/$name.log" >&2 || true
      return 1
    fi
    sleep 0.2
  done
}

# http_answers URL [METHOD]: any HTTP answer (even an error status) means the server is up.
http_answers() { curl -s -o /dev/null --max-time 2 -X "${2:-GET}" "$1"; }

stack_stop() {
  local i pgid deadline
  for ((i = ${#STACK_PGIDS[@]} - 1; i >= 0; i--)); do
    kill -TERM -- "-${STACK_PGIDS[i]}" 2>/dev/null || true
  done
  deadline=$((SECONDS + 10))
  for ((i = ${#STACK_PGIDS[@]} - 1; i >= 0; i--)); do
    pgid=${STACK_PGIDS[i]}
    while kill -0 -- "-$pgid" 2>/dev/null && ((SECONDS < deadline)); do
      sleep 0.1
    done
    if kill -0 -- "-$pgid" 2>/dev/null; then
      stack_log "${STACK_NAMES[i]} did not stop on TERM: killing it"
      kill -KILL -- "-$pgid" 2>/dev/null || true
    fi
  done
  STACK_PGIDS=()
  STACK_NAMES=()
}

trap stack_stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start_dynamodb() {
  local port=$1 mode=${2:---in-memory} dir=${3:-}
  local storage=()
  if [[ ! -x "$STACK_BIN_DIR/payrail-dynamodb" ]]; then
    stack_log "$STACK_BIN_DIR/payrail-dynamodb is missing: cargo build --workspace --bins"
    return 1
  fi
  require_free_port "$port" "the local DynamoDB"
  case "$mode" in
    --in-memory) ;;
    --db-path)
      mkdir -p "$dir"
      storage=(--db-path "$(cd "$dir" && pwd)/dynamodb.sqlite")
      ;;
    *)
      stack_log "start_dynamodb PORT (--in-memory | --db-path DIR)"
      return 1
      ;;
  esac
  stack_spawn dynamodb bash "$STACK_ROOT/infra/local/supervise.sh" dynamodb "$STACK_CONTROL_DIR" \
    "$STACK_BIN_DIR/payrail-dynamodb" --port "$port" "${storage[@]}"
  stack_wait dynamodb "${STACK_PGIDS[-1]}" "the local DynamoDB (Dynoxide) on port $port" \
    http_answers "http://127.0.0.1:$port/"
  write_control_scripts dynamodb "${STACK_PGIDS[-1]}" "http://127.0.0.1:$port/"
  export PAYRAIL_STOP_DYNAMODB="$STACK_CONTROL_DIR/stop-dynamodb"
  export PAYRAIL_START_DYNAMODB="$STACK_CONTROL_DIR/start-dynamodb"
  stack_log "DynamoDB (Dynoxide) on http://127.0.0.1:$port ($mode${dir:+ $dir})"
}

# write_control_scripts NAME SUPERVISOR_PGID URL [AFTER_START...]: $STACK_CONTROL_DIR/stop-NAME
# (stops the emulator; its supervisor, infra/local/supervise.sh, keeps it down) and start-NAME
# (starts it again on its port, waits until URL answers, then runs AFTER_START).
write_control_scripts() {
  local name=$1 pgid=$2 url=$3
  shift 3
  local after=""
  if [[ $# -gt 0 ]]; then
    after=$(printf '%q ' "$@")
  fi
  mkdir -p "$STACK_CONTROL_DIR"
  cat >"$STACK_CONTROL_DIR/stop-$name" <<SH
#!/usr/bin/env bash
# Written by infra/local/stack.sh: stops $name until start-$name (a fault test's outage).
set -euo pipefail
dir=$(printf '%q' "$STACK_CONTROL_DIR")
touch "\$dir/$name.stopped"
pid=\$(<"\$dir/$name.pid")
kill -TERM "\$pid" 2>/dev/null || true
for _ in \$(seq 1 200); do
  kill -0 "\$pid" 2>/dev/null || exit 0
  sleep 0.05
done
kill -KILL "\$pid" 2>/dev/null || true
SH
  cat >"$STACK_CONTROL_DIR/start-$name" <<SH
#!/usr/bin/env bash
# Written by infra/local/stack.sh: starts $name again on its port after stop-$name, waits until
# it answers, and restores what it lost.
set -euo pipefail
dir=$(printf '%q' "$STACK_CONTROL_DIR")
rm -f "\$dir/$name.stopped"
deadline=\$((SECONDS + $STACK_START_TIMEOUT))
until curl -s -o /dev/null --max-time 2 $(printf '%q' "$url"); do
  if ! kill -0 -- -$pgid 2>/dev/null; then
    echo "start-$name: its supervisor is gone (see $name.log)" >&2
    exit 1
  fi
  if ((SECONDS >= deadline)); then
    echo "start-$name: not answering after $STACK_START_TIMEOUT s" >&2
    exit 1
  fi
  sleep 0.2
done
export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_REGION=$(printf '%q' "$AWS_REGION")
export AWS_ENDPOINT_URL_SQS=$(printf '%q' "${AWS_ENDPOINT_URL_SQS:-}")
${after:+$after>/dev/null}
SH
  chmod +x "$STACK_CONTROL_DIR/stop-$name" "$STACK_CONTROL_DIR/start-$name"
}

# start_sqs PORT: moto's server as the local SQS. It keeps everything in memory: queues and
# messages last as long as the process, and create_queues recreates the queues at each start.
start_sqs() {
  local port=$1
  if [[ ! -x "$STACK_TOOLS/venv/bin/moto_server" ]]; then
    stack_log "moto is not installed: run infra/local/install.sh"
    return 1
  fi
  require_free_port "$port" "the SQS emulator (moto)"
  # moto's server, made thread-safe and linear in the queue's depth (see moto_sqs_server.py).
  stack_spawn sqs bash "$STACK_ROOT/infra/local/supervise.sh" sqs "$STACK_CONTROL_DIR" \
    "$STACK_TOOLS/venv/bin/python" "$STACK_ROOT/infra/local/moto_sqs_server.py" -H 127.0.0.1 -p "$port"
  stack_wait sqs "${STACK_PGIDS[-1]}" "the SQS emulator (moto) on port $port" \
    http_answers "http://127.0.0.1:$port/moto-api/"
  export AWS_ENDPOINT_URL_SQS="http://127.0.0.1:$port"
  export PAYRAIL_SQS_ENDPOINT="$AWS_ENDPOINT_URL_SQS"
  # moto forgets every queue when it stops: start-sqs creates them again (same names, so the
  # same URLs), as a real SQS would still have them.
  write_control_scripts sqs "${STACK_PGIDS[-1]}" "http://127.0.0.1:$port/moto-api/" \
    "$LOCAL_STACK" create-queues --template "$STACK_TEMPLATE" --prefix "$TABLE_PREFIX"
  export PAYRAIL_STOP_SQS="$STACK_CONTROL_DIR/stop-sqs"
  export PAYRAIL_START_SQS="$STACK_CONTROL_DIR/start-sqs"
  stack_log "SQS (moto, in memory) on $AWS_ENDPOINT_URL_SQS"
}

# create_queues: the template's queues (dead-letter queues first), and one exported
# <LOGICAL_ID>_URL variable per queue: ONLINE_QUEUE_URL, ONLINE_DEAD_LETTER_QUEUE_URL, ...
create_queues() {
  local lines line
  lines=$("$LOCAL_STACK" create-queues --template "$STACK_TEMPLATE" --prefix "$TABLE_PREFIX")
  while IFS= read -r line; do
    if [[ "$line" == *_URL=* ]]; then
      export "${line?}"
    fi
  done <<<"$lines"
}

# start_lambda PORT: cargo lambda watch on 127.0.0.1:PORT, run from the repo root with the
# functions' environment from template.yaml (local-stack env) exported; it passes its own
# environment to every function. Needs AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SQS,
# CURSOR_KEY and TOKEN_SIGNING_KEY exported (the keys' values: in AWS those variables hold secret
# ARNs); the endpoints reach the functions as they are, and queue references in the template
# resolve to the local queue URLs and ARNs.
start_lambda() {
  local port=$1 env_lines line key
  require_free_port "$port" "cargo lambda watch"
  env_lines=$("$LOCAL_STACK" env --template "$STACK_TEMPLATE" --prefix "$TABLE_PREFIX")
  mkdir -p "$STACK_LOG_DIR"
  (
    while IFS= read -r line; do
      [[ -n "$line" ]] || continue
      key=${line%%=*}
      if [[ " ${STACK_ENV_OVERRIDES[*]} " == *" $key "* && -n "${!key:-}" ]]; then
        continue
      fi
      export "${line?}"
    done <<<"$env_lines"
    cd "$STACK_ROOT" || exit 1
    exec setsid "$CARGO_LAMBDA" lambda watch --ignore-changes \
      --invoke-address 127.0.0.1 --invoke-port "$port" \
      --concurrency "${LAMBDA_CONCURRENCY:-2}" ${LAMBDA_RELEASE:+--release}
  ) >"$STACK_LOG_DIR/lambda.log" 2>&1 </dev/null &
  STACK_PGIDS+=("$!")
  STACK_NAMES+=(lambda)
  stack_wait lambda "${STACK_PGIDS[-1]}" "cargo lambda watch on port $port" \
    http_answers "http://127.0.0.1:$port/" OPTIONS # (a GET / logs an error there)
  stack_log "cargo lambda watch on http://127.0.0.1:$port (log: $STACK_LOG_DIR/lambda.log)"
}

# start_simulator PORT [ARG...]: the gateway and log service simulator (SPEC §5), ARGs passed
# on (--latency-ms, --failure-rate, --decline-rate, --seed, ...; see `simulator --help`). Its
# POST /start emits the payment stream into ONLINE_QUEUE_URL and OFFLINE_QUEUE_URL when set
# (create_queues sets them).
start_simulator() {
  local port=$1 queues=()
  shift
  require_free_port "$port" "the gateway simulator"
  if [[ -n "${ONLINE_QUEUE_URL:-}" && -n "${OFFLINE_QUEUE_URL:-}" ]]; then
    queues=(--online-queue-url "$ONLINE_QUEUE_URL" --offline-queue-url "$OFFLINE_QUEUE_URL")
  fi
  stack_spawn simulator "$STACK_BIN_DIR/simulator" --host 127.0.0.1 --port "$port" "${queues[@]}" "$@"
  stack_wait simulator "${STACK_PGIDS[-1]}" "the gateway simulator on port $port" \
    http_answers "http://127.0.0.1:$port/logs"
  stack_log "gateway and log service simulator on http://127.0.0.1:$port"
}

random_key() { python3 -c 'import secrets; print(secrets.token_urlsafe(48))'; }

# The demo users of SPEC §7, password `password`: the local stack's only. A deployed stage gets
# its users from the `users` command, one by one (docs/design.md, Security).
DEMO_PASSWORD=password
seed_demo_users() {
  local config="$STACK_LOG_DIR/users.yaml" users="$STACK_BIN_DIR/users"
  mkdir -p "$STACK_LOG_DIR"
  cat >"$config" <<YAML
# Written by infra/local/stack.sh: the users command's target, the local DynamoDB.
endpoint: $AWS_ENDPOINT_URL_DYNAMODB
region: $AWS_REGION
credentials:
  access_key_id: $AWS_ACCESS_KEY_ID
  secret_access_key: $AWS_SECRET_ACCESS_KEY
table: ${TABLE_PREFIX}UsersTable
YAML
  echo "$DEMO_PASSWORD" | "$users" add --config "$config" --exists-ok --username alice --role merchant --merchant "Alice's Shop" >&2
  echo "$DEMO_PASSWORD" | "$users" add --config "$config" --exists-ok --username bob --role merchant --merchant "Bob's Bikes" >&2
  echo "$DEMO_PASSWORD" | "$users" add --config "$config" --exists-ok --username admin --role admin >&2
  echo "$DEMO_PASSWORD" | "$users" add --config "$config" --exists-ok --username charlie --role merchant --merchant "Charlie's Café" --disabled >&2
}

# Data kept from before owner ids (a `make run` folder of an older checkout): merchant users get
# their ids and payments, links and Idempotency-Key records move to them, as on a deployed stage
# (docs/deployment.md, "Owner ids"). Idempotent; a fresh stack has nothing to move.
backfill_demo_owners() {
  local config="$STACK_LOG_DIR/owners.yaml"
  sed "s/^table: .*/table: ${TABLE_PREFIX}TransactionsTable/" "$STACK_LOG_DIR/users.yaml" >"$config"
  "$STACK_BIN_DIR/owners" backfill --config "$config" --users-table "${TABLE_PREFIX}UsersTable" >&2
}

# The paying accounts 1..=500 (the generator's and the simulator's account ids), kept if present.
seed_demo_accounts() {
  local config="$STACK_LOG_DIR/accounts.yaml"
  mkdir -p "$STACK_LOG_DIR"
  sed "s/^table: .*/table: ${TABLE_PREFIX}AccountsTable/" "$STACK_LOG_DIR/users.yaml" >"$config"
  "$STACK_BIN_DIR/accounts" seed --config "$config" --count 500 >&2
}

# start_apigw PORT LAMBDA_URL: the template's HTTP API routes in front of LAMBDA_URL.
start_apigw() {
  local port=$1 lambda_url=$2
  require_free_port "$port" "the API Gateway emulation"
  stack_spawn apigw "$LOCAL_STACK" apigw --template "$STACK_TEMPLATE" --host 127.0.0.1 \
    --port "$port" --lambda-url "$lambda_url" \
    --invoke-timeout "${APIGW_INVOKE_TIMEOUT:-60}"
  stack_wait apigw "${STACK_PGIDS[-1]}" "the API Gateway emulation on port $port" \
    http_answers "http://127.0.0.1:$port/"
  grep '^route ' "$STACK_LOG_DIR/apigw.log" >&2 || true
  stack_log "API on http://127.0.0.1:$port (log: $STACK_LOG_DIR/apigw.log)"
}

# start_event_sources LAMBDA_URL: the template's SQS event sources (Type: SQS function events)
# polled and delivered to LAMBDA_URL as Lambda does; needs AWS_ENDPOINT_URL_SQS and the queues.
# With PAYRAIL_SQS_RECORD set (test-env.sh sets it), every delivered message is appended to that
# file as a JSON line (bodies in clear: for tests, never for make run).
start_event_sources() {
  local lambda_url=$1
  stack_spawn event-sources "$LOCAL_STACK" event-sources --template "$STACK_TEMPLATE" \
    --prefix "$TABLE_PREFIX" --lambda-url "$lambda_url" --pollers "${SQS_POLLERS:-2}" \
    ${PAYRAIL_SQS_RECORD:+--record "$PAYRAIL_SQS_RECORD"}
  stack_wait event-sources "${STACK_PGIDS[-1]}" "the SQS event-source emulation" \
    grep -q '^SQS event sources' "$STACK_LOG_DIR/event-sources.log"
  grep -E '^(sqs |no SQS)' "$STACK_LOG_DIR/event-sources.log" >&2 || true
  stack_log "SQS event sources -> $lambda_url (log: $STACK_LOG_DIR/event-sources.log)"
}

# start_schedules LAMBDA_URL: the template's Schedule events (the reconciler's), invoking their
# functions at LAMBDA_URL at their rate, or every $PAYRAIL_SCHEDULE_SECONDS s when set.
start_schedules() {
  local lambda_url=$1
  stack_spawn schedules "$LOCAL_STACK" schedules --template "$STACK_TEMPLATE" \
    --lambda-url "$lambda_url"
  stack_wait schedules "${STACK_PGIDS[-1]}" "the schedule emulation" \
    grep -q '^schedules ->' "$STACK_LOG_DIR/schedules.log"
  grep -E '^(schedule |no schedule)' "$STACK_LOG_DIR/schedules.log" >&2 || true
  stack_log "schedules -> $lambda_url (log: $STACK_LOG_DIR/schedules.log)"
}
