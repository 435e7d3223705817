#!/usr/bin/env bash
# A client notices a lost node (issue 21 section 5): `pio chat --node` streaming a long answer
# exits 1 with "lost the node" within seconds when the node is killed (kill -9) or frozen
# (SIGSTOP: the 2 s connection timeout), ends (never hangs) when the node drains on SIGTERM with
# a short --drain-timeout, and `pio chat --node` / `pio stats` fail within the 5 s connect timeout
# against a peer that accepts TCP and never answers; `pio bench-serve` reports the lost node.
#   test_client_loss.sh PIO PIO_NODE REPO_ROOT
set -euo pipefail
pio="$1"; node_bin="$2"; root="$3"
source "$root/tests/cli/node_support.sh"

# wait_exit PID SECONDS: waits for a child to end (else returns 1); its exit status in $status.
wait_exit() {
  local pid="$1" tenths=$(( $2 * 10 ))
  while kill -0 "$pid" 2>/dev/null && [ "$(ps -o stat= -p "$pid")" != Z ]; do
    tenths=$(( tenths - 1 )); [ "$tenths" -gt 0 ] || return 1
    sleep 0.1
  done
  status=0; wait "$pid" || status=$?
}

# wait_for_output FILE SECONDS: until FILE is non-empty (else returns 1).
wait_for_output() {
  for _ in $(seq 1 $(( $2 * 10 ))); do [ -s "$1" ] && return 0; sleep 0.1; done
  return 1
}
"$pio" make-checkpoint --preset tiny --seed 5 --out "$work/tiny" 2>/dev/null

# stream NAME: a long streamed answer from the node on $port, in the background ($chat_pid),
# started once its first text arrived.
stream() {
  timeout 300 "$pio" chat --node "127.0.0.1:$port" --prompt "A long story." --max-tokens 30000 \
    >"$work/$1-chat.txt" 2>"$work/$1-chat.err" &
  chat_pid=$!
  pids+=("$chat_pid")
  wait_for_output "$work/$1-chat.txt" 60 || fail "$1: the stream never started: $(cat "$work/$1-chat.err")"
}

# kill -9 during a stream: exit 1, the message, within 5 s.
start_node killed
stream killed
kill -9 "$node_pid"
wait_exit "$chat_pid" 5 || fail "kill -9: the client still waits after 5 s"
[ "$status" = 1 ] || fail "kill -9: the client exited $status"
grep -q "lost the node at 127.0.0.1:$port" "$work/killed-chat.err" || fail "kill -9: $(cat "$work/killed-chat.err")"

# SIGSTOP during a stream: noticed within the connection timeout (2 s) plus a heartbeat; the
# node, continued, serves again (its abandoned request was cancelled).
start_node frozen
stream frozen
kill -STOP "$node_pid"
t0=$(date +%s%N)
wait_exit "$chat_pid" 8 || fail "SIGSTOP: the client still waits after 8 s"
elapsed_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$status" = 1 ] || fail "SIGSTOP: the client exited $status"
grep -q "lost the node at 127.0.0.1:$port: its connection broke, or it sent nothing for 2.0 s" "$work/frozen-chat.err" \
  || fail "SIGSTOP: $(cat "$work/frozen-chat.err")"
echo "SIGSTOP noticed after $elapsed_ms ms"
kill -CONT "$node_pid"
timeout 60 "$pio" chat --node "127.0.0.1:$port" --prompt "Back?" --max-tokens 3 >/dev/null || fail "the continued node does not serve"
kill -9 "$node_pid"

# SIGTERM with a short drain timeout during a stream: the client ends (a final event or the
# lost node), the node exits.
start_node drained --drain-timeout 1
stream drained
kill -TERM "$node_pid"
wait_exit "$chat_pid" 20 || fail "drain: the client still waits 20 s after SIGTERM"
[ "$status" = 1 ] || fail "drain: the client exited $status, expected 1"
grep -q "shutting down\|lost the node" "$work/drained-chat.err" || fail "drain: the client said: $(cat "$work/drained-chat.err")"
echo "drain: the client exited $status: $(cat "$work/drained-chat.err")"
wait_exit "$node_pid" 30 || fail "drain: the node did not exit"

# A peer that accepts TCP connections and never answers: the connect times out (5 s).
python3 "$root/tests/cli/raw_peer.py" mute "$work/mute.port" &
pids+=($!)
wait_for_output "$work/mute.port" 10 || fail "the mute listener did not start"
mute="127.0.0.1:$(cat "$work/mute.port")"
for cmd in "chat --node $mute --prompt hi" "stats --node $mute" "bench-serve --node $mute --requests 1"; do
  status=0; timeout 20 "$pio" $cmd >/dev/null 2>"$work/mute.err" || status=$?
  [ "$status" = 1 ] || fail "pio $cmd against a mute peer: exit $status (124: it hung)"
  grep -q "cannot reach a node at $mute: no handshake within 5.0 s" "$work/mute.err" || fail "pio $cmd: $(cat "$work/mute.err")"
done

# bench-serve against a node killed mid-run: it ends and says what happened.
start_node bench
timeout 300 "$pio" bench-serve --node "127.0.0.1:$port" --clients 2 --requests 4 --max-tokens 30000 \
  >"$work/bench.out" 2>"$work/bench.err" &
bench_pid=$!
pids+=("$bench_pid")
for _ in $(seq 1 100); do  # until its requests run
  running="$(timeout 10 "$pio" stats --node "127.0.0.1:$port" --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["running"])' || echo 0)"
  [ "$running" -ge 1 ] && break
  sleep 0.1
done
kill -9 "$node_pid"
wait_exit "$bench_pid" 10 || fail "bench-serve still waits 10 s after the node died"
[ "$status" = 1 ] || fail "bench-serve exited $status: $(cat "$work/bench.out")"
grep -q "lost the node" "$work/bench.err" || fail "bench-serve: $(cat "$work/bench.err")"
echo "test_client_loss: all checks passed"
