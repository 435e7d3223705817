# shellcheck shell=bash
# Shared by the CLI tests of multi-process serving (source it after node_support.sh, with $pio,
# $node_bin and $image set): a frontend and workers on the tiny checkpoint in $work/tiny, the
# requests they answer, and the checks that every answer equals `pio chat --model`'s.
#   front_host (default 127.0.0.1): the address the frontend listens on and is reached at;
#   front_port: its port (start_frontend sets it);
#   ns: when set (e.g. `ns=NAME start_worker ...`), the process runs in that network namespace;
#   client_ns, client_tls (array): the namespace and TLS options of `pio chat --node`.
front_host="${front_host:-127.0.0.1}"
client_ns=""
client_tls=()

# in_ns_prefix: the command prefix that runs in namespace $ns (none when $ns is empty) in $pre.
in_ns_prefix() {
  pre=()
  if [ -n "${ns:-}" ]; then pre=(ip netns exec "$ns"); fi
}

# start_frontend NAME PORT ARGS...: a frontend on $front_host:PORT (0: a free one); waits for its
# "listening on" line and sets $front_port and $front_pid.
start_frontend() {
  local name="$1" p="$2"; shift 2
  in_ns_prefix
  "${pre[@]}" "$node_bin" --role frontend --model "$work/tiny" --host "$front_host" --port "$p" "$@" \
    >"$work/$name.out" 2>"$work/$name.err" &
  front_pid=$!
  pids+=("$front_pid")
  for _ in $(seq 1 300); do
    front_port="$(sed -n "s/^listening on ${front_host//./\\.}:\([0-9]*\)$/\1/p" "$work/$name.out" 2>/dev/null || true)"
    [ -n "$front_port" ] && return 0
    kill -0 "$front_pid" 2>/dev/null || fail "$name exited: $(cat "$work/$name.err")"
    sleep 0.1
  done
  fail "$name printed no 'listening on' within 30 s"
}

# start_worker NAME ARGS...: a worker joining $front_host:$front_port (one compute thread); waits
# until it says it joined ($worker_pid).
start_worker() {
  local name="$1"; shift
  in_ns_prefix
  "${pre[@]}" "$node_bin" --role worker --join "$front_host:$front_port" --model "$work/tiny" --threads 1 \
    --cache-dir "$work/cache-$name" "$@" >"$work/$name.out" 2>"$work/$name.err" &
  worker_pid=$!
  pids+=("$worker_pid")
  wait_joined "$name"
}

# wait_joined NAME [COUNT]: until the worker's log shows COUNT (default 1) joins, 60 s at most.
wait_joined() {
  for _ in $(seq 1 600); do
    local joins
    joins="$(grep -c 'as worker' "$work/$1.err" 2>/dev/null || true)"  # empty before the log exists
    [ "${joins:-0}" -ge "${2:-1}" ] && return 0
    sleep 0.1
  done
  fail "$1 did not join"
}

# The request of index I: prompt, length, sampling, and an image for every fourth. $topic, when
# set, makes the prompts (and their reference answers) differ from those of other phases.
request_args() {
  local i="$1"
  args=(--prompt "Question number $i${topic:+ on $topic}: what comes next?" --max-tokens "${tokens:-24}" --seed $((100 + i)))
  [ $((i % 2)) = 1 ] && args+=(--temperature 0.8 --top-p 0.9)
  [ $((i % 4)) = 0 ] && args+=(--image "$image" --max-pixels 40000)
  return 0
}

# The length of the streams a fault must land in: on the fastest machine seen (a tiny-model
# decode step of 4 streams in about 1.5 ms) they still run for seconds after they all started.
long_tokens=2000

# reference N: `pio chat --model` answers of requests 1..N in $work/ref-$tokens-I.txt, computed
# side by side (one compute thread each).
reference() {
  local ref_pids=() ref_ids=()
  for i in $(seq 1 "$1"); do
    local out="$work/ref-$tokens${topic:+-$topic}-$i.txt"
    [ -f "$out" ] && continue
    request_args "$i"
    "$pio" chat --model "$work/tiny" --threads 1 "${args[@]}" >"$out.part" 2>"$work/reference-$i.log" &
    ref_pids+=($!)
    ref_ids+=("$i")
  done
  for k in "${!ref_pids[@]}"; do
    local i="${ref_ids[$k]}"
    wait "${ref_pids[$k]}" || fail "reference $i failed: $(tail -5 "$work/reference-$i.log")"
    mv "$work/ref-$tokens${topic:+-$topic}-$i.txt.part" "$work/ref-$tokens${topic:+-$topic}-$i.txt"
  done
}

# streams TAG N: N concurrent `pio chat --node` requests in the background ($stream_pids), from
# namespace $client_ns.
streams() {
  stream_pids=()
  local ns="$client_ns"
  in_ns_prefix
  for i in $(seq 1 "$2"); do
    request_args "$i"
    timeout 300 "${pre[@]}" "$pio" chat --node "$front_host:$front_port" "${client_tls[@]}" "${args[@]}" --verbose \
      >"$work/$1-$i.txt" 2>"$work/$1-$i.err" &
    stream_pids+=($!)
    pids+=($!)
  done
}

# until_streaming TAG N: until every stream printed some text (they are mid-answer).
until_streaming() {
  for _ in $(seq 1 600); do
    local started=0
    for i in $(seq 1 "$2"); do [ -s "$work/$1-$i.txt" ] && started=$((started + 1)); done
    [ "$started" = "$2" ] && return 0
    sleep 0.05
  done
  fail "$1: the streams did not start"
}

# replica_resumed TAG N: some text-only stream's final usage counts prompt tokens from the prefix
# cache: it was moved and resumed past the KV blocks its replica worker held. Run with a $topic of
# its own: each text prompt then differs from every other before its first full block, so nothing
# else puts its blocks in a worker's cache (an image, the same in every request, comes first).
replica_resumed() {
  for i in $(seq 1 "$2"); do
    [ $((i % 4)) = 0 ] && continue
    grep -q '^prompt tokens from the prefix cache: [1-9]' "$work/$1-$i.err" && return 0
  done
  fail "$1: no moved stream resumed from its KV replica: $(grep -h 'prefix cache' "$work/$1"-*.err | sort | uniq -c)"
}

# finish TAG N: every stream exits 0 with the reference text.
finish() {
  local i=1
  for p in "${stream_pids[@]}"; do
    wait "$p" || fail "$1: stream $i failed: $(cat "$work/$1-$i.err")"
    cmp -s "$work/ref-$tokens${topic:+-$topic}-$i.txt" "$work/$1-$i.txt" ||
      fail "$1: stream $i differs from the undisturbed answer: $(diff "$work/ref-$tokens${topic:+-$topic}-$i.txt" "$work/$1-$i.txt" | head -5)"
    i=$((i + 1))
  done
}
