#!/usr/bin/env bash
# Plug-ins are supervised (issue 21, section 6), with separate processes over loopback:
#  - a request filter / an output processor that throws something that is not a std::exception
#    on its first call: that request ends with an error naming the stage, the next is answered,
#    /health stays 200 and the node stays up;
#  - a filter that throws on every call: after its restart budget (3 in 60 s) it is held down,
#    requests end with "is down" and /health answers 503 naming it;
#  - a truncated copy of the example plug-in, and one whose entry point throws an int: pio-node
#    exits 1 with a clear message (not a signal).
# And sampling without a seed (section 8): four identical requests at temperature 1 without a
# seed differ (HTTP and `pio chat --node`), each reports its seed, and replaying a reported seed
# gives the same text.
#   test_plugins.sh PIO PIO_NODE PLUGIN_DIR
set -euo pipefail
pio="$1"; node_bin="$2"; plugins="$3"
node_http=1
source "$(dirname "${BASH_SOURCE[0]}")/node_support.sh"
for tool in curl python3; do command -v "$tool" >/dev/null || fail "$tool is missing"; done

ask() {  # ask OUT ERR: one `pio chat --node` request; its exit status
  timeout 60 "$pio" chat --node "127.0.0.1:$port" --prompt "Hello." --max-tokens 6 >"$1" 2>"$2"
}
health() {  # health: the status of GET /health; the body lands in $work/health.json
  curl -s -m 10 -o "$work/health.json" -w '%{http_code}' "http://127.0.0.1:$http/health"
}
alive() { kill -0 "$node_pid" 2>/dev/null || fail "$1: the node died: $(tail -3 "$work/$1.err")"; }

"$pio" make-checkpoint --preset tiny --seed 5 --out "$work/tiny" 2>/dev/null

# A stage that throws a non-standard exception once: that request fails naming it, the next one runs.
for stage in filter output; do
  name="${stage}_throws_once"
  kind="$([ "$stage" = filter ] && echo "request filter" || echo "output processor")"
  start_node "$name" --plugin "$plugins/libpio_test_$name.so"
  if ask "$work/1.out" "$work/1.err"; then fail "$name: the failing request succeeded"; fi
  grep -q "plug-in $kind 1 (libpio_test_$name.so) failed (it threw an exception that is not a std::exception)" \
    "$work/1.err" || fail "$name: $(cat "$work/1.err")"
  for i in 2 3; do
    ask "$work/$i.out" "$work/$i.err" || fail "$name: request $i after the restart failed: $(cat "$work/$i.err")"
    [ -s "$work/$i.out" ] || fail "$name: request $i: empty answer"
  done
  [ "$(health)" = 200 ] || fail "$name: /health $(cat "$work/health.json")"
  alive "$name"
  kill -TERM "$node_pid"
done

# A filter that always throws: restarted 3 times, then held down; /health 503 names it.
start_node always --plugin "$plugins/libpio_test_filter_always_throws.so"
for i in 1 2 3 4; do
  if ask "$work/a.out" "$work/a.err"; then fail "always: request $i succeeded"; fi
  grep -q "failed (it threw an exception that is not a std::exception)" "$work/a.err" || fail "always $i: $(cat "$work/a.err")"
done
if ask "$work/a.out" "$work/a.err"; then fail "always: a request passed a stage that is down"; fi
grep -q "plug-in request filter 1 (libpio_test_filter_always_throws.so) is down" "$work/a.err" || fail "held down: $(cat "$work/a.err")"
[ "$(health)" = 503 ] || fail "/health while a stage is down: $(cat "$work/health.json")"
grep -q '"status":"unhealthy"' "$work/health.json" || fail "/health body: $(cat "$work/health.json")"
grep -q '"down":\["request filter 1 (libpio_test_filter_always_throws.so)"\]' "$work/health.json" ||
  fail "/health body: $(cat "$work/health.json")"
status="$(curl -s -m 30 -o "$work/h.json" -w '%{http_code}' "http://127.0.0.1:$http/v1/chat/completions" -H "Content-Type: application/json" \
  -d '{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}')"
[ "$status" = 500 ] && grep -q "is down" "$work/h.json" || fail "HTTP through a stage that is down: $status $(cat "$work/h.json")"
alive always
kill -TERM "$node_pid"

# Libraries that would crash the node are refused at start: exit 1 with a message, no signal.
refused() {  # refused LABEL LIBRARY MESSAGE
  local status=0
  timeout 60 "$node_bin" --model "$work/tiny" --port 0 --cache-dir "$work/cache-refused" --plugin "$2" \
    >/dev/null 2>"$work/refused.err" || status=$?
  [ "$status" = 1 ] || fail "$1: exit status $status, not 1: $(cat "$work/refused.err")"
  grep -q "$3" "$work/refused.err" || fail "$1: $(cat "$work/refused.err")"
}
whole="$plugins/libpio_plugin_uppercase.so"
head -c "$(( $(stat -c %s "$whole") / 2 ))" "$whole" >"$work/truncated.so"
refused "a truncated library" "$work/truncated.so" \
  "cannot load plug-in $work/truncated.so: not a complete shared library"
refused "a throwing entry point" "$plugins/libpio_test_throwing_entry.so" \
  "pio_plugin_register threw an exception that is not a std::exception"

# A bare file name is the file in the working directory that was checked, not a system library
# of that name (dlopen alone would search the library path and load the system's libm).
mkdir -p "$work/bare"
cp "$whole" "$work/bare/libm.so.6"
pushd "$work/bare" >/dev/null
start_node bare --plugin libm.so.6
popd >/dev/null
ask "$work/bare.answer" "$work/bare.ask.err" || fail "a bare-named plug-in: $(cat "$work/bare.ask.err")"
[ -s "$work/bare.answer" ] && [ "$(tr -d '\n' <"$work/bare.answer")" = "$(tr -d '\n' <"$work/bare.answer" | tr '[:lower:]' '[:upper:]')" ] ||
  fail "the bare-named plug-in (uppercase) did not process the answer: $(cat "$work/bare.answer")"
alive bare
kill -TERM "$node_pid"

# No seed: four identical requests at temperature 1 differ, each with its seed; a seed replays.
start_node seeds
for i in 1 2 3 4; do
  curl -s -m 60 "http://127.0.0.1:$http/v1/chat/completions" -H "Content-Type: application/json" -o "$work/s$i.json" \
    -d '{"messages": [{"role": "user", "content": "Hello."}], "max_tokens": 24, "temperature": 1}'
  timeout 60 "$pio" chat --node "127.0.0.1:$port" --prompt "Hello." --max-tokens 24 --temperature 1 --verbose \
    >"$work/c$i.txt" 2>"$work/c$i.err" || fail "chat $i: $(cat "$work/c$i.err")"
  grep -q '^seed: [0-9][0-9]*$' "$work/c$i.err" || fail "chat $i printed no seed: $(cat "$work/c$i.err")"
done
seed_of() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["seed"])' "$1"; }
content_of() { python3 -c 'import json, sys; print(repr(json.load(open(sys.argv[1]))["choices"][0]["message"]["content"]))' "$1"; }
contents() { for i in 1 2 3 4; do content_of "$work/s$i.json"; done; }
[ "$(contents | sort -u | wc -l)" = 4 ] || fail "HTTP answers without a seed repeat: $(contents)"
[ "$(for i in 1 2 3 4; do md5sum <"$work/c$i.txt"; done | sort -u | wc -l)" = 4 ] ||
  fail "pio chat answers without a seed repeat: $(cat "$work"/c?.txt)"
seed="$(seed_of "$work/s1.json")"
[ -n "$seed" ] || fail "no seed in the HTTP answer: $(cat "$work/s1.json")"
curl -s -m 60 "http://127.0.0.1:$http/v1/chat/completions" -H "Content-Type: application/json" -o "$work/replay.json" \
  -d "{\"messages\": [{\"role\": \"user\", \"content\": \"Hello.\"}], \"max_tokens\": 24, \"temperature\": 1, \"seed\": $seed}"
[ "$(seed_of "$work/replay.json")" = "$seed" ] || fail "replay seed: $(cat "$work/replay.json")"
[ "$(content_of "$work/replay.json")" = "$(content_of "$work/s1.json")" ] ||
  fail "the reported seed does not replay: $(cat "$work/replay.json") vs $(cat "$work/s1.json")"
cseed="$(sed -n 's/^seed: //p' "$work/c1.err")"
timeout 60 "$pio" chat --node "127.0.0.1:$port" --prompt "Hello." --max-tokens 24 --temperature 1 --seed "$cseed" \
  >"$work/c-replay.txt" 2>/dev/null
cmp -s "$work/c1.txt" "$work/c-replay.txt" || fail "pio chat: seed $cseed does not replay"
# A streamed answer reports the seed on its final chunk.
curl -s -N -m 60 "http://127.0.0.1:$http/v1/chat/completions" -H "Content-Type: application/json" -o "$work/stream.txt" \
  -d '{"messages": [{"role": "user", "content": "Hello."}], "max_tokens": 4, "temperature": 1, "stream": true}'
grep '"finish_reason":"' "$work/stream.txt" | grep -q '"seed":[0-9]' || fail "no seed on the final chunk: $(cat "$work/stream.txt")"
alive seeds
kill -TERM "$node_pid"
echo "test_plugins: all checks passed"
