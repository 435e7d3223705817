# Shared by the CLI tests that start nodes (source it after setting $node_bin): a work directory
# removed at exit, every node started killed, fail, and start_node.
#   node_http=1 before sourcing: start_node also serves the HTTP API on a free port.
#   A function cleanup_more, if the test defines one, runs at exit before the work directory goes.
work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  if declare -F cleanup_more >/dev/null; then cleanup_more; fi
  rm -rf "$work"
}
trap cleanup EXIT
# fail MESSAGE: says why, with the end of each node's stderr, and exits 1.
fail() {
  echo "FAIL: $*" >&2
  for f in "$work"/*.err; do [ -f "$f" ] && { echo "--- $f" >&2; tail -20 "$f" >&2; }; done
  exit 1
}

# start_node NAME ARGS...: pio-node on $work/${model:-tiny} with free ports, its cache in
# $work/cache-${cache_name:-NAME} unless ARGS name --cache-dir or --no-cache, its output in
# $work/NAME.out and .err; waits for its "listening on" lines (60 s at most), or "client port:
# off" (--api-key without TLS: then $port is empty). Sets $port, $http (with node_http=1) and
# $node_pid.
start_node() {
  local name="$1"; shift
  local extra=()
  [ "${node_http:-0}" = 1 ] && extra+=(--http-port 0)
  [[ " $* " == *" --cache-dir "* || " $* " == *" --no-cache "* ]] || extra+=(--cache-dir "$work/cache-${cache_name:-$name}")
  "$node_bin" --model "$work/${model:-tiny}" --port 0 "${extra[@]}" "$@" >"$work/$name.out" 2>"$work/$name.err" &
  node_pid=$!
  pids+=("$node_pid")
  for _ in $(seq 1 600); do
    # The log may not exist yet: sed's complaint is not a failure.
    http="$(sed -n 's/^http listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$work/$name.out" 2>/dev/null || true)"
    port="$(sed -n 's/^listening on 127\.[0-9.]*:\([0-9]*\)$/\1/p' "$work/$name.out" 2>/dev/null || true)"
    { [ -n "$port" ] || grep -qs '^client port: off' "$work/$name.out"; } && { [ "${node_http:-0}" != 1 ] || [ -n "$http" ]; } &&
      return 0
    kill -0 "$node_pid" 2>/dev/null || fail "$name exited: $(cat "$work/$name.err")"
    sleep 0.1
  done
  fail "$name printed no 'listening on' within 60 s"
}
