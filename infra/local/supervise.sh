#!/usr/bin/env bash
# supervise.sh NAME DIR CMD...: runs CMD as a restartable emulator (stack.sh starts the local
# DynamoDB and moto through it). DIR/NAME.pid holds CMD's pid. The stop-NAME script stack.sh writes
# creates DIR/NAME.stopped and stops CMD; this script then waits until start-NAME removes that
# file and runs CMD again, on the same port. CMD exiting on its own (a crash) ends this script
# with CMD's status, as if it ran unsupervised; TERM to the process group (stack_stop) ends both.
set -uo pipefail
name=$1 dir=$2
shift 2
mkdir -p "$dir"
rm -f "$dir/$name.stopped"
while :; do
  "$@" &
  child=$!
  echo "$child" >"$dir/$name.pid"
  wait "$child"
  status=$?
  if [[ ! -e "$dir/$name.stopped" ]]; then
    exit "$status"
  fi
  echo "[supervise] $name stopped on request (status $status); waiting for start-$name" >&2
  while [[ -e "$dir/$name.stopped" ]]; do
    sleep 0.1
  done
  echo "[supervise] starting $name again" >&2
done
