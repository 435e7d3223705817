# Helpers for process-level tests of pio-node (sourced). The sourcing script sets $node_bin and
# $work (a fresh directory with a tiny checkpoint in $work/tiny) and traps cleanup on EXIT.
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$work"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

# start_node NAME ARGS...: starts pio-node on a free port (stdout $work/NAME.out, stderr
# $work/NAME.err) and waits for its client port, or for "client port: off" (then $port is
# empty); sets $port and $node_pid.
start_node() {
  local name="$1"; shift
  "$node_bin" --model "$work/tiny" --port 0 --no-cache "$@" >"$work/$name.out" 2>"$work/$name.err" &
  node_pid=$!
  pids+=("$node_pid")
  for _ in $(seq 1 300); do
    # The node's shell may not have created the file yet.
    port="$(sed -n 's/^listening on [0-9.]*:\([0-9]*\)$/\1/p' "$work/$name.out" 2>/dev/null || true)"
    [ -n "$port" ] && return 0
    grep -qs "^client port: off" "$work/$name.out" && return 0
    kill -0 "$node_pid" 2>/dev/null || fail "$name exited: $(cat "$work/$name.err")"
    sleep 0.1
  done
  fail "$name printed no 'listening on' within 30 s"
}

# wait_exit PID SECONDS: waits for a child to end; its exit status in $status, or fails.
wait_exit() {
  local pid="$1" tenths=$(( $2 * 10 ))
  while kill -0 "$pid" 2>/dev/null && [ "$(ps -o stat= -p "$pid")" != Z ]; do
    tenths=$(( tenths - 1 )); [ "$tenths" -gt 0 ] || return 1
    sleep 0.1
  done
  status=0; wait "$pid" || status=$?
}

# wait_for_output FILE SECONDS: until FILE is non-empty.
wait_for_output() {
  for _ in $(seq 1 $(( $2 * 10 ))); do [ -s "$1" ] && return 0; sleep 0.1; done
  return 1
}

# cpu_seconds PID: user + system CPU time so far (/proc/PID/stat fields 14 and 15).
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f\n", ($12 + $13) / hz }' "/proc/$1/stat"; }
# rss_mb PID: resident memory in MiB.
rss_mb() { awk '/^VmRSS:/ { printf "%d\n", $2 / 1024 }' "/proc/$1/status"; }
