#!/usr/bin/env bash
# End-to-end checks of pio-node with separate client processes over loopback: answers through
# the node equal local `pio chat` with the same seed (greedy and sampled, with and without an
# image, a --messages history), `pio stats --json`, `pio bench-serve --json`, the cache (hits,
# a held directory, a restart), the example plug-in and refused plug-ins, and SIGTERM during a
# stream (drained, exit 0).
#   test_node.sh PIO PIO_NODE PLUGIN_DIR REPO_ROOT
set -euo pipefail
pio="$1"; node_bin="$2"; plugins="$3"; root="$4"
source "$(dirname "${BASH_SOURCE[0]}")/node_support.sh"
image="$root/assets/demo.jpg"


"$pio" make-checkpoint --preset tiny --seed 5 --out "$work/tiny" 2>/dev/null
start_node node

# Before any request no stage has a percentile: null in JSON, "-" in text (not 0, nor a value
# mangled on its way from the node).
timeout 60 "$pio" stats --node "127.0.0.1:$port" --json >"$work/fresh.json"
python3 - "$work/fresh.json" <<'PY' || fail "percentiles of a fresh node: $(cat "$work/fresh.json")"
import json, sys
for stage, l in json.load(open(sys.argv[1]))["latency_ms"].items():
    assert l["count"] == 0 and l["p50"] is None and l["p90"] is None and l["p99"] is None, (stage, l)
PY
timeout 60 "$pio" stats --node "127.0.0.1:$port" | grep -Eq '^prefill +0 +- +- +- ' ||
  fail "a fresh node's text stats: $("$pio" stats --node "127.0.0.1:$port")"

# The same answer through the node as from the model layer in this process.
same() {  # same LABEL ARGS... (chat arguments without --model/--node)
  local label="$1"; shift
  timeout 120 "$pio" chat --model "$work/tiny" "$@" >"$work/local.txt" || fail "$label: local chat failed"
  timeout 120 "$pio" chat --node "127.0.0.1:$port" "$@" >"$work/remote.txt" || fail "$label: node chat failed"
  cmp -s "$work/local.txt" "$work/remote.txt" || fail "$label: node answer differs: $(cat "$work/remote.txt") vs $(cat "$work/local.txt")"
  [ -s "$work/remote.txt" ] || fail "$label: empty answer"
}
same "greedy text" --prompt "Say something." --max-tokens 12
same "sampled text" --prompt "Say something else." --max-tokens 12 --temperature 0.8 --top-p 0.9 --seed 11
same "greedy image" --image "$image" --prompt "Describe this image." --max-tokens 10 --max-pixels 40000
same "sampled image, penalties" --image "$image" --prompt "Describe." --max-tokens 10 --temperature 0.7 --seed 3 \
  --repetition-penalty 1.2 --presence-penalty 0.5 --min-p 0.05 --max-pixels 40000
cat >"$work/history.json" <<JSON
[{"role": "system", "content": "Be brief."},
 {"role": "user", "content": [{"type": "image", "image": "$image"}, {"type": "text", "text": "What is this?"}]},
 {"role": "assistant", "content": "A picture."},
 {"role": "user", "content": "What colour is it?"}]
JSON
same "two-turn history" --messages "$work/history.json" --max-tokens 8 --max-pixels 40000

# A refused request fails alone, with the node's message on stderr and a non-zero exit.
if timeout 60 "$pio" chat --node "127.0.0.1:$port" --image "$root/tests/data/image/user-inputs/min_truncated_64.jpg" \
  --prompt "x" >/dev/null 2>"$work/bad.err"; then fail "a truncated image was accepted"; fi
grep -q "truncated" "$work/bad.err" || fail "truncated image error: $(cat "$work/bad.err")"
timeout 60 "$pio" chat --node "127.0.0.1:$port" --prompt "still here?" --max-tokens 3 >/dev/null || fail "node died after a bad request"

# Stats and the serving benchmark.
timeout 60 "$pio" bench-serve --node "127.0.0.1:$port" --clients 4 --requests 8 --max-tokens 8 --json >"$work/bench.json"
for key in requests_per_s output_tok_s decode_tok_s ttft_ms_p50 ttft_ms_p99 itl_ms_p50 itl_ms_p99 itl_ms_max; do
  grep -q "\"$key\"" "$work/bench.json" || fail "bench-serve JSON lacks $key"
done
grep -q '"errors": 0' "$work/bench.json" || fail "bench-serve had errors: $(cat "$work/bench.json")"
grep -Eq '"decode_tok_s": [1-9]' "$work/bench.json" || fail "bench-serve measured no decoding: $(cat "$work/bench.json")"
timeout 60 "$pio" stats --node "127.0.0.1:$port" --json >"$work/stats.json"
for key in requests running queued max_batch_size kv_blocks_used kv_blocks_total rss_mb device_memory_used_mb \
           device_memory_total_mb device_transfer_s; do
  grep -q "\"$key\"" "$work/stats.json" || fail "stats JSON lacks $key"
done
# On the CPU there is no device memory and no transfer.
grep -Eq '"device_memory_total_mb": 0(\.0)?,' "$work/stats.json" && grep -Eq '"device_transfer_s": 0(\.0)?,' "$work/stats.json" ||
  fail "device figures on the CPU: $(cat "$work/stats.json")"
grep -q '"max_batch_size": [2-9]' "$work/stats.json" || fail "4 concurrent clients never shared a step: $(cat "$work/stats.json")"
grep -q '"error": 1' "$work/stats.json" || fail "stats do not count the refused request: $(cat "$work/stats.json")"
python3 - "$work/stats.json" <<'PY' || fail "percentiles after requests: $(cat "$work/stats.json")"
import json, sys
for stage, l in json.load(open(sys.argv[1]))["latency_ms"].items():
    if l["count"] > 0:  # all within the last minute: inside the 10-minute window
        assert 0 <= l["p50"] <= l["p90"] <= l["p99"] <= l["max"] * 1.01 + 0.01, (stage, l)
PY

# SIGTERM during a stream: the stream finishes, the node exits 0.
timeout 120 "$pio" chat --node "127.0.0.1:$port" --prompt "A long story." --max-tokens 400 >"$work/long.txt" 2>&1 &
chat_pid=$!
for _ in $(seq 1 300); do [ -s "$work/long.txt" ] && break; sleep 0.1; done
[ -s "$work/long.txt" ] || fail "the long stream never started"
kill -TERM "$node_pid"
wait "$chat_pid" || fail "the stream did not finish during the drain: $(cat "$work/long.txt")"
status=0; timeout 60 tail --pid="$node_pid" -f /dev/null || fail "the node did not exit after SIGTERM"
wait "$node_pid" || status=$?
[ "$status" = 0 ] || fail "the node exited $status after SIGTERM"
grep -q "every request finished" "$work/node.err" || fail "no drain message: $(cat "$work/node.err")"

# The cache: the same image again hits the hot tier; a second node on the same directory runs
# in memory and says so; a restarted node answers the same from the warm tier.
tier() {  # tier STATS_JSON TIER FIELD: one figure of `pio stats --json`
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["cache"][sys.argv[2]][sys.argv[3]])' "$@"
}
ask_image() { timeout 120 "$pio" chat --node "127.0.0.1:$port" --image "$image" --prompt "Describe." --max-tokens 6 --max-pixels 40000; }
cache_name=shared start_node cached
cached_pid=$node_pid
ask_image >"$work/c1.txt" || fail "cached node: first chat failed"
ask_image >"$work/c2.txt" || fail "cached node: second chat failed"
cmp -s "$work/c1.txt" "$work/c2.txt" || fail "cache hit changed the answer"
timeout 60 "$pio" stats --node "127.0.0.1:$port" --json >"$work/cstats.json"
[ "$(tier "$work/cstats.json" hot hits)" -ge 1 ] || fail "no hot hit: $(cat "$work/cstats.json")"
grep -q "cache-shared" "$work/cstats.json" || fail "stats do not say where the cache lives"
cache_name=shared start_node locked
grep -q "memory only" "$work/locked.err" || fail "a held cache directory was not reported: $(cat "$work/locked.err")"
kill -TERM "$node_pid" "$cached_pid"
timeout 60 tail --pid="$cached_pid" -f /dev/null || fail "the cached node did not exit"
# (the locked node retries the directory in the background: gone too before the restart takes it)
timeout 60 tail --pid="$node_pid" -f /dev/null || fail "the locked node did not exit"
cache_name=shared start_node restarted
ask_image >"$work/c3.txt" || fail "restarted node: chat failed"
cmp -s "$work/c1.txt" "$work/c3.txt" || fail "the restarted node answers differently"
# A node reads the packed weights into its own (huge-page) memory unless told --mmap.
grep -q "weights auto (read .*\.pack into memory)" "$work/restarted.err" || fail "restarted node's weights: $(cat "$work/restarted.err")"
timeout 60 "$pio" stats --node "127.0.0.1:$port" --json >"$work/rstats.json"
[ "$(tier "$work/rstats.json" warm hits)" -ge 1 ] || fail "no warm hit after a restart: $(cat "$work/rstats.json")"
kill -TERM "$node_pid"
if timeout 30 "$node_bin" --model "$work/tiny" --port 0 --cache-hot-mb -1 >/dev/null 2>"$work/hot.err"; then fail "--cache-hot-mb -1 accepted"; fi
grep -q "cache-hot-mb" "$work/hot.err" || fail "--cache-hot-mb -1: $(cat "$work/hot.err")"
# A port in use is said before the model loads (it was said after, once loaded and packed), and
# one port for both APIs is a usage error.
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1); print(s.getsockname()[1], flush=True); time.sleep(60)' \
  >"$work/busy.port" &
busy_pid=$!
pids+=("$busy_pid")
for _ in $(seq 1 100); do [ -s "$work/busy.port" ] && break; sleep 0.1; done
busy="$(cat "$work/busy.port")"
status=0
timeout 30 "$node_bin" --model "$work/tiny" --port "$busy" >/dev/null 2>"$work/busy.err" || status=$?
[ "$status" = 1 ] || fail "--port in use: exit $status: $(cat "$work/busy.err")"
grep -q -- "--port $busy: cannot listen" "$work/busy.err" || fail "--port in use: $(cat "$work/busy.err")"
! grep -q "loading" "$work/busy.err" || fail "--port in use was said after loading: $(cat "$work/busy.err")"
kill "$busy_pid" 2>/dev/null || true
status=0
timeout 30 "$node_bin" --model "$work/tiny" --port 18555 --http-port 18555 >/dev/null 2>"$work/same.err" || status=$?
[ "$status" = 2 ] || fail "--port and --http-port the same: exit $status: $(cat "$work/same.err")"

# A worker refuses the front end's options (it would ignore them: no HTTP API on a worker).
status=0
timeout 30 "$node_bin" --role worker --join 127.0.0.1:1 --model "$work/tiny" --http-port 0 >/dev/null 2>"$work/worker-http.err" ||
  status=$?
[ "$status" = 2 ] || fail "--role worker --http-port: exit $status: $(cat "$work/worker-http.err")"
grep -q -- "--http-port is the front end's" "$work/worker-http.err" || fail "--role worker --http-port: $(cat "$work/worker-http.err")"

# A misspelt key in a --config file is refused as a misspelt flag is, not ignored.
printf 'thread = 1\n' >"$work/misspelt.toml"
if timeout 30 "$node_bin" --model "$work/tiny" --port 0 --config "$work/misspelt.toml" >/dev/null 2>"$work/misspelt.err"; then
  fail "a misspelt --config key was accepted"
fi
grep -q "unknown key 'thread'" "$work/misspelt.err" || fail "misspelt --config key: $(cat "$work/misspelt.err")"
printf '[node]\nthreads = 1\n' >"$work/section.toml"
timeout 30 "$node_bin" --model "$work/tiny" --port 0 --config "$work/section.toml" >/dev/null 2>"$work/section.err" &&
  fail "a --config section was accepted"
grep -q "section \[node\] is not read" "$work/section.err" || fail "--config section: $(cat "$work/section.err")"
if timeout 30 "$node_bin" --model "$work/nowhere" --port 0 >/dev/null 2>"$work/nowhere.err"; then fail "a missing --model was accepted"; fi
grep -q "Directory does not exist: $work/nowhere" "$work/nowhere.err" || fail "missing --model: $(cat "$work/nowhere.err")"

# --kv-dtype, here from the --config file: a node with an f32 KV cache (and, --mmap, its packed
# weights mapped) answers as `pio chat --kv-dtype f32` does and says so at start; on the cache directory that the nodes above filled
# with the tiny checkpoint's bf16 (auto) entries it finds nothing (the KV dtype is in every key);
# a bogus dtype is refused.
printf 'kv-dtype = "f32"\n' >"$work/f32.toml"
cache_name=shared start_node f32 --config "$work/f32.toml" --mmap
grep -q "KV 1024 MiB f32" "$work/f32.err" || fail "f32 node configuration: $(cat "$work/f32.err")"
grep -q "weights auto (mapped .*\.pack)" "$work/f32.err" || fail "--mmap node's weights: $(cat "$work/f32.err")"
timeout 120 "$pio" chat --model "$work/tiny" --kv-dtype f32 --prompt "Say something." --max-tokens 12 >"$work/local.txt"
timeout 120 "$pio" chat --node "127.0.0.1:$port" --prompt "Say something." --max-tokens 12 >"$work/remote.txt"
cmp -s "$work/local.txt" "$work/remote.txt" || fail "f32 KV: node answer differs: $(cat "$work/remote.txt") vs $(cat "$work/local.txt")"
ask_image >/dev/null || fail "f32 node: image chat failed"
timeout 60 "$pio" stats --node "127.0.0.1:$port" --json >"$work/fstats.json"
[ "$(tier "$work/fstats.json" warm hits)" -eq 0 ] || fail "an f32 node read bf16 entries: $(cat "$work/fstats.json")"
kill -TERM "$node_pid"
status=0; "$node_bin" --model "$work/tiny" --port 0 --kv-dtype bogus >/dev/null 2>"$work/kv.err" || status=$?
[ "$status" = 2 ] || fail "--kv-dtype bogus: exit status $status, not 2"
grep -q -- "--kv-dtype: 'bogus' is not one of" "$work/kv.err" || fail "--kv-dtype bogus: $(cat "$work/kv.err")"

# The example plug-in acts: the answer comes back upper-cased.
start_node plugged --plugin "$plugins/libpio_plugin_uppercase.so"
timeout 120 "$pio" chat --model "$work/tiny" --prompt "Hello." --max-tokens 12 --temperature 0.9 --seed 2 >"$work/plain.txt"
timeout 120 "$pio" chat --node "127.0.0.1:$port" --prompt "Hello." --max-tokens 12 --temperature 0.9 --seed 2 >"$work/upper.txt"
[ "$(tr 'a-z' 'A-Z' <"$work/plain.txt")" = "$(cat "$work/upper.txt")" ] || fail "plug-in: $(cat "$work/upper.txt")"
grep -q '[a-z]' "$work/plain.txt" || fail "the plain answer has no lower-case letter to change"
kill -TERM "$node_pid"

# Plug-ins that cannot load are refused with a clear error.
if "$node_bin" --model "$work/tiny" --port 0 --plugin "$work/missing.so" >/dev/null 2>"$work/p1.err"; then fail "missing plug-in accepted"; fi
grep -q "cannot load plug-in" "$work/p1.err" || fail "missing plug-in: $(cat "$work/p1.err")"
if "$node_bin" --model "$work/tiny" --port 0 --plugin "$plugins/libpio_test_not_a_plugin.so" >/dev/null 2>"$work/p2.err"; then
  fail "a library without the entry point was accepted"
fi
grep -q "no entry point pio_plugin_register" "$work/p2.err" || fail "not a plug-in: $(cat "$work/p2.err")"
echo "test_node: all checks passed"
