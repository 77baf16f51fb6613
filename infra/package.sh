#!/usr/bin/env bash
# `make package`: `sam build` of every function in template.yaml through cargo-lambda (release,
# Metadata.BuildMethod rust-cargolambda), then each artifact's size: the bootstrap binary and the
# zip Lambda receives. Fails when a zipped artifact exceeds 8 MB (the budget of issue 5).
#
#   ARCH=arm64|x86_64   the functions' Architecture parameter (default: arm64, what every stage
#                       deploys, when the aarch64 Rust standard library is installed; otherwise
#                       x86_64, said loudly: `rustup target add aarch64-unknown-linux-gnu` needs
#                       the network, which CI has)
#
# cargo-lambda links with zig (`python3 -m ziglang`, from .tools/venv, first on the Makefile's
# PATH), so no Docker is needed. SAM points every function's build at the workspace's one
# target directory (CARGO_TARGET_DIR from `cargo metadata`), so dependencies compile once and
# each function after the first costs its own crate and link.
set -euo pipefail
cd "$(dirname "$0")/.."

ZIP_LIMIT_BYTES=$((8 * 1024 * 1024))
BUILD_DIR=.aws-sam/build

arch="${ARCH:-}"
if [ -z "$arch" ]; then
  if rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
    arch=arm64
  else
    arch=x86_64
    echo "NOTE: the aarch64 Rust standard library is not installed (rustup target add"
    echo "      aarch64-unknown-linux-gnu needs the network): building x86_64. The stages deploy"
    echo "      arm64 (samconfig.toml): these sizes stand in for the arm64 ones CI measures."
  fi
fi
case "$arch" in
  arm64)
    rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu || {
      echo "ARCH=arm64 needs the aarch64 standard library: rustup target add aarch64-unknown-linux-gnu" >&2
      exit 1
    } ;;
  x86_64) ;;
  *) echo "ARCH must be arm64 or x86_64, not $arch" >&2; exit 1 ;;
esac
command -v cargo-lambda >/dev/null || { echo "cargo-lambda is not on PATH (make tools)" >&2; exit 1; }
python3 -m ziglang version >/dev/null 2>&1 || {
  echo "zig is not reachable as 'python3 -m ziglang' (cargo-lambda's cross-linker; make tools)" >&2
  exit 1
}

started=$(date +%s)
# SAM builds one function at a time, each a cargo invocation that links one binary. Building
# every binary first in one invocation lets cargo link two at a time and overlap links with
# compiles. It is SAM's own command (`cargo lambda build --release [--arm64] --bin X`, no -p:
# the same packages selected, so the same features) with every --bin at once: SAM then finds
# each binary fresh.
lambda_flags=(--release)
if [ "$arch" = arm64 ]; then lambda_flags+=(--arm64); fi
while read -r binary; do
  lambda_flags+=(--bin "$binary")
done < <(sed -n 's/^ *Binary: *//p' template.yaml)
echo "== cargo lambda build ${lambda_flags[*]} (every function at once)"
cargo lambda build "${lambda_flags[@]}"
echo "== sam build --parameter-overrides Architecture=$arch (cargo lambda build --release, per function)"
sam build --parameter-overrides "Architecture=$arch" --build-dir "$BUILD_DIR"
elapsed=$(( $(date +%s) - started ))
echo "== sam build took ${elapsed} s"

# Each function's artifact directory holds its `bootstrap`; zip it as `sam deploy` does
# (deflate, the executable bit kept) to measure what Lambda receives.
zips="$(mktemp -d)"
trap 'rm -rf "$zips"' EXIT
over=0
count=0
printf '\n%-28s %-20s %12s %12s\n' "function" "binary" "bootstrap" "zipped"
for fn_dir in "$BUILD_DIR"/*/; do
  bootstrap="$fn_dir/bootstrap"
  [ -f "$bootstrap" ] || continue
  fn=$(basename "$fn_dir")
  binary=$(sed -n "/^  $fn:\$/,/^  [A-Za-z]/s/^ *Binary: *//p" template.yaml | head -n1)
  (cd "$fn_dir" && zip -q -9 -X "$zips/$fn.zip" bootstrap)
  size=$(stat -c %s "$bootstrap")
  zipped=$(stat -c %s "$zips/$fn.zip")
  flag=""
  if [ "$zipped" -gt "$ZIP_LIMIT_BYTES" ]; then flag="  OVER 8 MB"; over=$((over + 1)); fi
  awk -v fn="$fn" -v bin="${binary:-?}" -v s="$size" -v z="$zipped" -v flag="$flag" \
    'BEGIN { printf "%-28s %-20s %9.2f MB %9.2f MB%s\n", fn, bin, s / 1048576, z / 1048576, flag }'
  count=$((count + 1))
done
expected=$(grep -c 'Type: AWS::Serverless::Function' template.yaml)
echo
echo "$count of $expected functions packaged for $arch in ${elapsed} s; zip limit 8 MB."
if [ "$count" -ne "$expected" ]; then
  echo "missing artifacts: $count built, template.yaml declares $expected" >&2
  exit 1
fi
if [ "$over" -gt 0 ]; then
  echo "$over artifact(s) over 8 MB zipped" >&2
  exit 1
fi
