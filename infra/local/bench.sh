#!/usr/bin/env bash
# `make bench`: release builds against a fresh in-memory local DynamoDB (Dynoxide). Prints each figure with
# the command that produced it; docs/performance.md records a run.
#
#   BENCH_ONLY="cold-start stream"   runs only those sections (generator, sequential, reports,
#                                    auth-verify, auth-latency, stream, payments, capacity,
#                                    cold-start); the stack and the 20 000 transactions they
#                                    read are set up anyway.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .local
STACK_LOG_DIR="$(mktemp -d "$PWD/.local/bench.XXXXXX")"
STACK_BIN_DIR="$PWD/target/release"
export STACK_LOG_DIR STACK_BIN_DIR
# shellcheck source=infra/local/stack.sh
source infra/local/stack.sh
bash infra/local/install.sh >&2

echo "== building release binaries: cargo build --release -p payrail-tools -p payrail-dynamodb -p payrail-functions -p payrail-hello-lambda --bins"
cargo build --release -p payrail-tools -p payrail-dynamodb -p payrail-functions -p payrail-hello-lambda --bins
BIN="$PWD/target/release"

port="$(free_port)"
start_dynamodb "$port" --in-memory
endpoint="http://127.0.0.1:$port"
export AWS_ENDPOINT_URL_DYNAMODB="$endpoint"
# The emulator itself, not its supervisor (infra/local/supervise.sh writes its pid).
ddb_pid="$(<"$STACK_CONTROL_DIR/dynamodb.pid")"

config() { # config FILE TABLE
  printf 'endpoint: %s\nregion: eu-west-1\ncredentials: { access_key_id: local, secret_access_key: local }\ntable: %s\n' "$endpoint" "$2" >"$1"
}
wanted() { [[ -z "${BENCH_ONLY:-}" || " $BENCH_ONLY " == *" $1 "* ]]; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# measured CMD...: runs CMD, then prints wall seconds, its peak RSS and CPU seconds, and the
# CPU seconds the local DynamoDB spent meanwhile (which shows who the ceiling is).
measured() {
  local before after
  before=$(cpu_ticks "$ddb_pid")
  python3 - "$@" <<'PY'
import resource, subprocess, sys, time
start = time.monotonic()
code = subprocess.run(sys.argv[1:]).returncode
wall = time.monotonic() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"wall {wall:.2f} s, peak RSS {usage.ru_maxrss / 1024:.1f} MiB, cpu {usage.ru_utime + usage.ru_stime:.2f} s", end="")
sys.exit(code)
PY
  after=$(cpu_ticks "$ddb_pid")
  echo ", DynamoDB cpu $(((after - before) / $(getconf CLK_TCK))) s"
}

echo
echo "== generator: 20 000 transactions into the local DynamoDB (Dynoxide, in memory)"
concurrencies=(1 8 16)
wanted generator || concurrencies=(8)
for concurrency in "${concurrencies[@]}"; do
  prefix="gen${concurrency}_"
  "$BIN/local-stack" create-tables --template template.yaml --prefix "$prefix" >/dev/null
  config ".local/bench-$prefix.yaml" "${prefix}TransactionsTable"
  cmd=("$BIN/generate" --config ".local/bench-$prefix.yaml" --count 20000 --seed 1 --concurrency "$concurrency" --no-progress)
  echo "\$ ${cmd[*]}"
  printf '  concurrency %2d: ' "$concurrency"
  measured "${cmd[@]}"
done

if wanted sequential; then
  echo
  echo "== baseline: the same kind of items by sequential single PutItem"
  "$BIN/local-stack" create-tables --template template.yaml --prefix seq_ >/dev/null
  config .local/bench-seq.yaml seq_TransactionsTable
  cmd=("$BIN/bench" --config .local/bench-seq.yaml sequential-put --count 5000)
  echo "\$ ${cmd[*]}"
  "${cmd[@]}"
fi

if wanted reports; then
  echo
  echo "== reports over the 20 000 transactions: items read per item returned, beside Scan + filter"
  cmd=("$BIN/bench" --config .local/bench-gen8_.yaml reports)
  echo "\$ ${cmd[*]}"
  "${cmd[@]}"
fi

if wanted auth-verify; then
  echo
  echo "== authentication, in process: the authorizer's token verification (target < 1 ms)"
  cmd=("$BIN/bench" auth-verify --iterations 100000)
  echo "\$ ${cmd[*]}"
  "${cmd[@]}"
fi

export TABLE_PREFIX=gen8_
CURSOR_KEY="$(random_key)"
TOKEN_SIGNING_KEY="$(random_key)"
CARD_DATA_KEY="$(random_key)"
export CURSOR_KEY TOKEN_SIGNING_KEY CARD_DATA_KEY
seed_demo_users >/dev/null 2>&1
seed_demo_accounts >/dev/null 2>&1
# The payments functions need the queues and the gateway: SQS (moto) and the simulator with the
# 50 ms gateway latency of the stream benchmark below.
start_sqs "$(free_port)" 2>/dev/null
create_queues 2>/dev/null
simulator_port="$(free_port)"
start_simulator "$simulator_port" --seed 1 --latency-ms 50 2>/dev/null
export GATEWAY_URL="http://127.0.0.1:$simulator_port" LOG_URL="http://127.0.0.1:$simulator_port"
export LAMBDA_CONCURRENCY="${LAMBDA_CONCURRENCY:-4}"
lambda_port="$(free_port)"
LAMBDA_RELEASE=1 start_lambda "$lambda_port"
api_port="$(free_port)"
start_apigw "$api_port" "http://127.0.0.1:$lambda_port" 2>/dev/null
if wanted auth-latency; then
  echo
  echo "== authentication through the local stack: release functions under cargo lambda watch,"
  echo "   the API Gateway emulation, the 20 000 transactions above"
  cmd=("$BIN/bench" auth-latency --api-url "http://127.0.0.1:$api_port" --lambda-url "http://127.0.0.1:$lambda_port" --requests 300)
  echo "\$ ${cmd[*]}"
  "${cmd[@]}"
fi

# stream_run LABEL COUNT [EVENT-SOURCE ARG...]: the SQS event-source emulation started with the
# ARGs, COUNT online payments sent into the online queue and timed until all are final, then the
# emulation stopped again.
stream_run() {
  local label=$1 count=$2
  shift 2
  stack_spawn "event-sources-$label" "$BIN/local-stack" event-sources --template "$STACK_TEMPLATE" \
    --prefix "$TABLE_PREFIX" --lambda-url "http://127.0.0.1:$lambda_port" "$@"
  local pgid=${STACK_PGIDS[-1]}
  stack_wait "event-sources-$label" "$pgid" "the SQS event-source emulation" \
    grep -q '^SQS event sources' "$STACK_LOG_DIR/event-sources-$label.log"
  cmd=("$BIN/bench" stream --queue-url "$ONLINE_QUEUE_URL" --table "${TABLE_PREFIX}TransactionsTable" \
    --count "$count" --label "$label")
  echo "\$ ${cmd[*]}   # event sources: $*"
  "${cmd[@]}"
  kill -TERM -- "-$pgid" 2>/dev/null || true
  while kill -0 -- "-$pgid" 2>/dev/null; do sleep 0.1; done
}

if wanted stream; then
  echo
  echo "== the online stream end to end: SQS (moto) -> event-source emulation -> validator (release,"
  echo "   $LAMBDA_CONCURRENCY instances) -> gateway simulator (50 ms latency) -> DynamoDB (Dynoxide)"
  stream_run one-at-a-time 150 --pollers 1 --batch-size 1
  stream_run batched 1000 --pollers "$LAMBDA_CONCURRENCY"
  echo "(target: batched >= 8x one-at-a-time)"
fi

if wanted payments; then
  echo
  echo "== payments through the local stack: POST /payments and GET /payments/{id}, one at a time"
  echo "   (the queue consumers running, as in production)"
  SQS_POLLERS=2 start_event_sources "http://127.0.0.1:$lambda_port" 2>/dev/null
  cmd=("$BIN/bench" payments-latency --api-url "http://127.0.0.1:$api_port" --requests 200)
  echo "\$ ${cmd[*]}"
  "${cmd[@]}"
fi

if wanted capacity; then
  echo
  echo "== DynamoDB capacity per payment path: payrail's handlers and validator in process, wired as the"
  echo "   functions wire them, on a DynamoDB client that asks every call for its ConsumedCapacity"
  echo "   (INDEXES) and sums it; Dynoxide with the 20 000 transactions above, the stack's SQS"
  echo "   (queues of the bench's own), the gateway simulator in process (10% declines)"
  cmd=("$BIN/bench" capacity --prefix "$TABLE_PREFIX" --count 100 --decline-rate 0.1)
  echo "\$ ${cmd[*]}"
  "${cmd[@]}"
fi

if wanted cold-start; then
  echo
  echo "== cold start: each function's release binary launched against a Runtime API endpoint, from"
  echo "   process start to init done (its first GET .../invocation/next) and to its first response to"
  echo "   its events/ sample, beside a hello-world lambda_http binary built the same way; peak memory,"
  echo "   binary and zipped sizes. The stack above answers their calls; a gateway without latency."
  fast_gateway_port="$(free_port)"
  stack_spawn simulator-no-latency "$BIN/simulator" --host 127.0.0.1 --port "$fast_gateway_port" --seed 1
  stack_wait simulator-no-latency "${STACK_PGIDS[-1]}" "the gateway simulator on port $fast_gateway_port" \
    http_answers "http://127.0.0.1:$fast_gateway_port/logs"
  cmd=("$BIN/bench" cold-start --template template.yaml --prefix "$TABLE_PREFIX" --bin-dir "$BIN" \
    --hello "$BIN/hello-lambda" --runs 20 --env-overrides "${STACK_ENV_OVERRIDES[*]}" \
    --log-dir "$STACK_LOG_DIR/cold-start")
  echo "\$ ${cmd[*]}"
  GATEWAY_URL="http://127.0.0.1:$fast_gateway_port" LOG_URL="http://127.0.0.1:$fast_gateway_port" "${cmd[@]}"
  echo "(targets: every function's init within 2x hello-lambda's, its first response under 50 ms; zipped <= 8 MB;"
  echo "  peak <= 40 MB)"
fi
