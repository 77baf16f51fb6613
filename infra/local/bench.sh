#!/usr/bin/env bash
# `make bench`: release builds against a fresh in-memory DynamoDB Local. Prints each figure with
# the command that produced it; docs/performance.md records a run.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .local
STACK_LOG_DIR="$(mktemp -d "$PWD/.local/bench.XXXXXX")"
STACK_BIN_DIR="$PWD/target/release"
export STACK_LOG_DIR STACK_BIN_DIR
# shellcheck source=infra/local/stack.sh
source infra/local/stack.sh
bash infra/local/install.sh >&2

echo "== building release binaries: cargo build --release -p payrail-tools -p payrail-functions --bins"
cargo build --release -p payrail-tools -p payrail-functions --bins
BIN="$PWD/target/release"

port="$(free_port)"
start_dynamodb "$port" --in-memory
endpoint="http://127.0.0.1:$port"
export AWS_ENDPOINT_URL_DYNAMODB="$endpoint"
ddb_pid="$(pgrep -f "DynamoDBLocal.jar -sharedDb -port $port" | head -n 1)"

config() { # config FILE TABLE
  printf 'endpoint: %s\nregion: eu-west-1\ncredentials: { access_key_id: local, secret_access_key: local }\ntable: %s\n' "$endpoint" "$2" >"$1"
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# measured CMD...: runs CMD, then prints wall seconds, its peak RSS and CPU seconds, and the
# CPU seconds DynamoDB Local spent meanwhile (which shows who the ceiling is).
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
  echo ", DynamoDB Local cpu $(((after - before) / $(getconf CLK_TCK))) s"
}

echo
echo "== generator: 20 000 transactions into DynamoDB Local (in memory)"
for concurrency in 1 8 16; do
  prefix="gen${concurrency}_"
  "$BIN/local-stack" create-tables --template template.yaml --prefix "$prefix" >/dev/null
  config ".local/bench-$prefix.yaml" "${prefix}TransactionsTable"
  cmd=("$BIN/generate" --config ".local/bench-$prefix.yaml" --count 20000 --seed 1 --concurrency "$concurrency" --no-progress)
  echo "\$ ${cmd[*]}"
  printf '  concurrency %2d: ' "$concurrency"
  measured "${cmd[@]}"
done

echo
echo "== baseline: the same kind of items by sequential single PutItem"
"$BIN/local-stack" create-tables --template template.yaml --prefix seq_ >/dev/null
config .local/bench-seq.yaml seq_TransactionsTable
cmd=("$BIN/bench" --config .local/bench-seq.yaml sequential-put --count 5000)
echo "\$ ${cmd[*]}"
"${cmd[@]}"

echo
echo "== reports over the 20 000 transactions: items read per item returned, beside Scan + filter"
cmd=("$BIN/bench" --config .local/bench-gen8_.yaml reports)
echo "\$ ${cmd[*]}"
"${cmd[@]}"

echo
echo "== authentication, in process: the authorizer's token verification (target < 1 ms)"
cmd=("$BIN/bench" auth-verify --iterations 100000)
echo "\$ ${cmd[*]}"
"${cmd[@]}"

echo
echo "== authentication through the local stack: release functions under cargo lambda watch,"
echo "   the API Gateway emulation, the 20 000 transactions above"
export TABLE_PREFIX=gen8_
CURSOR_KEY="$(random_key)"
TOKEN_SIGNING_KEY="$(random_key)"
export CURSOR_KEY TOKEN_SIGNING_KEY
seed_demo_users >/dev/null 2>&1
lambda_port="$(free_port)"
LAMBDA_RELEASE=1 start_lambda "$lambda_port"
api_port="$(free_port)"
start_apigw "$api_port" "http://127.0.0.1:$lambda_port" 2>/dev/null
cmd=("$BIN/bench" auth-latency --api-url "http://127.0.0.1:$api_port" --lambda-url "http://127.0.0.1:$lambda_port" --requests 300)
echo "\$ ${cmd[*]}"
"${cmd[@]}"
