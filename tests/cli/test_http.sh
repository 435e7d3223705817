#!/usr/bin/env bash
# End-to-end checks of pio-node's HTTP API on the tiny checkpoint: the official openai npm
# client (answers equal `pio chat --node` with the same seed and sampling), the README's curl examples as
# written, every error status, a fuzz run of malformed bodies and images (the node keeps
# serving, RSS stays bounded), a client that disconnects mid-stream, `promtool check metrics`
# with counters that move, and the chat page streaming an answer in headless Chromium.
# Needs the test tools (scripts/test-tools): chromium, promtool, the npm openai client.
#   test_http.sh PIO PIO_NODE REPO_ROOT
set -euo pipefail
pio="$1"; node_bin="$2"; root="$3"
node_http=1
source "$(dirname "${BASH_SOURCE[0]}")/node_support.sh"
step() { echo "test_http: $(date +%T) $*"; }
for tool in chromium promtool curl node python3; do
  command -v "$tool" >/dev/null || fail "$tool is missing: run scripts/test-tools"
done
[ -d "$root/tools/test-node/node_modules/openai" ] || fail "the npm openai client is missing: run scripts/test-tools"

# status METHOD PATH [curl args...]: the HTTP status; the body lands in $work/body.
status() {
  local method="$1" path="$2"; shift 2
  curl -s -o "$work/body" -D "$work/headers" -w '%{http_code}' -X "$method" "http://127.0.0.1:$http$path" "$@"
}
expect() {  # expect STATUS LABEL METHOD PATH [curl args...]: status and the OpenAI error shape
  local want="$1" label="$2"; shift 2
  local got; got="$(status "$@")"
  [ "$got" = "$want" ] || fail "$label: status $got, expected $want: $(head -c 300 "$work/body")"
  if [ "$want" -ge 400 ]; then
    grep -q "\"code\":$want" "$work/body" && grep -q '"message":' "$work/body" || fail "$label: not an OpenAI error: $(cat "$work/body")"
  fi
}
expect_post() {  # expect_post STATUS LABEL PATH JSON [curl args...]
  local want="$1" label="$2" path="$3"; shift 3
  printf '%s' "$1" >"$work/req.json"; shift
  expect "$want" "$label" POST "$path" --data-binary "@$work/req.json" -H "Content-Type: application/json" "$@"
}
metric() {  # metric NAME_AND_LABELS: its value in /metrics (0 when absent)
  curl -s "http://127.0.0.1:$http/metrics" | awk -v m="$1" '$1 == m { print $2; found = 1 } END { if (!found) print 0 }'
}

"$pio" make-checkpoint --preset tiny --seed 5 --out "$work/tiny" 2>/dev/null
mkdir -p "$work/media"
cp "$root/assets/demo.jpg" "$work/media/demo.jpg"
cp "$root/assets/demo.jpg" "$work/outside.jpg"
start_node node --max-pixels 40000 --allowed-media-dir "$work/media" --max-body-mb 1 --max-images 2 \
  --max-image-pixels 4000000 --kv-memory 4
node_main="$node_pid"

step "health, models, page"
# /health, /v1/models, the page.
expect 200 health GET /health
grep -q '"ok"' "$work/body" || fail "health body: $(cat "$work/body")"
expect 200 page GET /
grep -q "<title>pio chat</title>" "$work/body" || fail "GET / is not the chat page"
# A trailing slash names the same route (vLLM's FastAPI redirects to it); /tokenize checks the
# model as a chat request does.
expect 200 "models with a slash" GET /v1/models/
grep -q '"object":"list"' "$work/body" || fail "/v1/models/: $(cat "$work/body")"
expect_post 200 "tokenize with a slash" /tokenize/ '{"prompt": "hi"}'
expect_post 404 "tokenize of another model" /tokenize '{"prompt": "hi", "model": "other"}'
grep -q '"param":"model"' "$work/body" || fail "tokenize of another model: $(cat "$work/body")"

step "the openai client"
# The openai client; its answers equal `pio chat --node` with the same seed and the top_p and
# top_k the client leaves out, which come from the checkpoint's generation_config.json.
timeout 300 node "$root/tests/http/openai_client.mjs" "http://127.0.0.1:$http/v1" "$root/assets/demo.jpg" "$work" \
  || fail "the openai client script failed"
timeout 120 "$pio" chat --node "127.0.0.1:$port" --image "$root/assets/demo.jpg" --prompt "Describe this image." \
  --max-tokens 10 --temperature 0.7 --top-p 0.8 --top-k 20 --seed 3 >"$work/cli.txt"
[ "$(cat "$work/cli.txt")" = "$(cat "$work/openai_whole.txt")" ] ||
  fail "HTTP answer differs from pio chat --node: $(cat "$work/openai_whole.txt") vs $(cat "$work/cli.txt")"

step "README examples"
# The README's curl examples, as written (their port is the node's here).
sed -n '/^<!-- http-examples -->$/,/^<!-- \/http-examples -->$/p' "$root/README.md" | sed -n '/^```sh$/,/^```$/p' |
  grep -v '^```' | sed "s/127\.0\.0\.1:8080/127.0.0.1:$http/g" >"$work/readme.sh"
grep -q "curl" "$work/readme.sh" || fail "no curl examples found in the README"
(cd "$root" && timeout 300 bash -euo pipefail "$work/readme.sh") >"$work/readme.out" 2>&1 || fail "README examples failed: $(cat "$work/readme.out")"
grep -q '"object":"chat.completion"' "$work/readme.out" || fail "README: no chat completion: $(head -c 600 "$work/readme.out")"
grep -q '^data: \[DONE\]' "$work/readme.out" || fail "README: no stream: $(head -c 600 "$work/readme.out")"
grep -q '"object":"text_completion"' "$work/readme.out" || fail "README: no completion"
grep -q 'pio_requests_total' "$work/readme.out" || fail "README: no metrics"
sed -n '/^<!-- http-examples -->$/,/^<!-- \/http-examples -->$/p' "$root/README.md" | sed -n '/^```js$/,/^```$/p' |
  grep -v '^```' | sed "s/127\.0\.0\.1:8080/127.0.0.1:$http/g" >"$work/snippet.mjs"
ln -s "$root/tools/test-node/node_modules" "$work/node_modules"  # where `import "openai"` looks
timeout 120 node "$work/snippet.mjs" >"$work/snippet.out" 2>&1 || fail "README openai snippet: $(cat "$work/snippet.out")"
[ -s "$work/snippet.out" ] || fail "README openai snippet printed nothing"

step "media paths, token ids"
# Paths under --allowed-media-dir, /v1/completions with token ids.
expect_post 200 "media path" /v1/chat/completions '{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "demo.jpg"}}, {"type": "text", "text": "x"}]}], "max_tokens": 2}'
expect_post 200 "token ids" /v1/completions '{"prompt": [9707, 11, 1879], "max_tokens": 3}'
grep -q '"completion_tokens":3' "$work/body" || fail "completion usage: $(cat "$work/body")"

step "error statuses"
# Every error status, each in the OpenAI shape, while the node keeps serving.
png="$(base64 -w0 "$root/tests/data/image/pillow/rgb_37x23.png")"
big_png="$(python3 -c "
import base64, struct, sys
d = bytearray(open(sys.argv[1], 'rb').read()); d[16:24] = struct.pack('>II', 5000, 5000)
print(base64.b64encode(bytes(d)).decode())" "$root/tests/data/image/pillow/rgb_37x23.png")"
image_req() { echo "{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\", \"image_url\": {\"url\": \"$1\"}}]}], \"max_tokens\": 1}"; }
expect_post 400 "malformed JSON" /v1/chat/completions '{"messages": ['
expect_post 400 "wrong type" /v1/chat/completions '{"messages": [{"role": "user", "content": "x"}], "temperature": "hot"}'
grep -q '"param":"temperature"' "$work/body" || fail "400 names the field: $(cat "$work/body")"
expect_post 400 "n over 16" /v1/chat/completions '{"messages": [{"role": "user", "content": "x"}], "n": 17}'
expect_post 400 "outside the media dir" /v1/chat/completions "$(image_req ../outside.jpg)"
expect_post 400 "no fetches" /v1/chat/completions "$(image_req https://example.com/a.png)"
expect_post 400 "three images" /v1/chat/completions "{\"messages\": [{\"role\": \"user\", \"content\": [$(for i in 1 2 3; do printf '{"type": "image_url", "image_url": {"url": "data:image/png;base64,%s"}},' "$png"; done) {\"type\": \"text\", \"text\": \"x\"}]}]}"
expect_post 400 "prompt over the KV cache" /v1/completions "{\"prompt\": [$(seq -s, 1 60000)], \"max_tokens\": 1}"
expect_post 400 "token id outside the vocabulary" /v1/completions '{"prompt": [1, 99999999], "max_tokens": 1}'
expect 404 "unknown path" GET /v1/nothing
expect 405 "wrong method" GET /v1/chat/completions
grep -qi '^Allow: POST, OPTIONS' "$work/headers" || fail "405 without Allow: $(cat "$work/headers")"
head -c 1100000 /dev/zero | tr '\0' ' ' >"$work/big.json"
expect 413 "body too large" POST /v1/chat/completions --data-binary "@$work/big.json" -H "Content-Type: application/json"
expect_post 422 "not an image" /v1/chat/completions "$(image_req data:image/png\;base64,bm90IGFuIGltYWdl)"
expect_post 422 "declared pixels over the cap" /v1/chat/completions "$(image_req "data:image/png;base64,$big_png")"
# A good image, then one whose header passes and whose data ends early: the node finds it while
# decoding, after the request was queued, and its error names that image's field.
truncated="$(base64 -w0 "$root/tests/data/image/user-inputs/min_truncated_64.jpg")"
expect_post 422 "truncated image" /v1/chat/completions "{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\", \"image_url\": {\"url\": \"data:image/png;base64,$png\"}}, {\"type\": \"image_url\", \"image_url\": {\"url\": \"data:image/jpeg;base64,$truncated\"}}]}], \"max_tokens\": 1}"
grep -q '"param":"messages\[0\].content\[1\].image_url"' "$work/body" || fail "the truncated image's error names its field: $(cat "$work/body")"
grep -q "image 2 cannot be used" "$work/body" || fail "the truncated image's error names it: $(cat "$work/body")"
expect_post 200 "still serving" /v1/chat/completions '{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}'

step "pio commands pointed at the HTTP port or at a name that does not resolve"
# Said plainly (it was CAF's malformed_basp_message, and "nothing accepts connections there").
status=0; timeout 30 "$pio" chat --node "127.0.0.1:$http" --prompt hi >/dev/null 2>"$work/wrong-port.err" || status=$?
[ "$status" = 1 ] || fail "chat --node on the HTTP port: exit $status"
grep -q "is it the node's HTTP port" "$work/wrong-port.err" || fail "chat --node on the HTTP port: $(cat "$work/wrong-port.err")"
status=0; timeout 30 "$pio" stats --node no-such-host.invalid:7070 >/dev/null 2>"$work/no-host.err" || status=$?
[ "$status" = 1 ] || fail "stats --node on a name that does not resolve: exit $status"
grep -q "does not resolve" "$work/no-host.err" || fail "stats --node on a name that does not resolve: $(cat "$work/no-host.err")"

step "401, 429, 503"
# 401 (an API key), 429 (--max-connections) and 503 (overloaded) on nodes of their own.
printf 'api-key = "sekrit"\nmax-connections = 1\n' >"$work/keyed.toml"  # the HTTP flags in --config too
start_node keyed --config "$work/keyed.toml"
expect_post 401 "no key" /v1/chat/completions '{"messages": [{"role": "user", "content": "x"}]}'
expect_post 401 "wrong key" /v1/chat/completions '{"messages": [{"role": "user", "content": "x"}]}' -H "Authorization: Bearer wrong"
expect_post 200 "right key" /v1/chat/completions '{"messages": [{"role": "user", "content": "x"}], "max_tokens": 1}' -H "Authorization: Bearer sekrit"
curl -sN "http://127.0.0.1:$http/v1/chat/completions" -H "Authorization: Bearer sekrit" -H "Content-Type: application/json" \
  -d '{"messages": [{"role": "user", "content": "A long story."}], "max_tokens": 3000, "stream": true}' >"$work/long.sse" &
long_pid=$!
pids+=("$long_pid")
for _ in $(seq 1 300); do grep -q '"content"' "$work/long.sse" 2>/dev/null && break; sleep 0.1; done
expect_post 429 "over --max-connections" /v1/chat/completions '{"messages": [{"role": "user", "content": "x"}]}' -H "Authorization: Bearer sekrit"
grep -qi '^Retry-After: 1' "$work/headers" || fail "429 without Retry-After"
kill "$long_pid" 2>/dev/null || true
start_node overloaded --memory-hard 1
grep -q "pio-node: warning: --memory-hard 1 MiB is at or below the [0-9]* MiB the node holds before any request" \
  "$work/overloaded.err" || fail "no warning of a threshold below the node's own size: $(cat "$work/overloaded.err")"
expect_post 503 "overloaded" /v1/chat/completions '{"messages": [{"role": "user", "content": "x"}]}'
grep -qi '^Retry-After: 5' "$work/headers" || fail "503 without Retry-After"
http="$(sed -n 's/^http listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$work/node.out")"  # back to the main node

step "disconnect"
# A client that goes away mid-stream cancels its request.
cancelled_before="$(metric 'pio_requests_total{outcome="cancelled"}')"
curl -sN "http://127.0.0.1:$http/v1/chat/completions" -H "Content-Type: application/json" \
  -d '{"messages": [{"role": "user", "content": "A long story."}], "max_tokens": 4000, "stream": true}' >"$work/gone.sse" &
gone_pid=$!
pids+=("$gone_pid")
for _ in $(seq 1 300); do grep -q '"content"' "$work/gone.sse" 2>/dev/null && break; sleep 0.1; done
kill "$gone_pid" 2>/dev/null || true
for _ in $(seq 1 100); do
  [ "$(metric 'pio_requests_total{outcome="cancelled"}')" != "$cancelled_before" ] && break; sleep 0.1
done
[ "$(metric 'pio_requests_total{outcome="cancelled"}')" != "$cancelled_before" ] || fail "a disconnected stream was not cancelled"

step "fuzz"
# Fuzz: several hundred malformed requests; then a normal one; RSS bounded.
rss() { awk '/^VmRSS/ { print int($2 / 1024) }' "/proc/$node_main/status"; }
rss_before="$(rss)"
timeout 600 python3 "$root/tests/http/fuzz_http.py" "$http" "$root/tests/data" 400 || fail "fuzz run"
expect_post 200 "serving after the fuzz run" /v1/chat/completions '{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}'
rss_after="$(rss)"
[ "$rss_after" -lt $((rss_before + 256)) ] || fail "RSS grew from $rss_before to $rss_after MiB during the fuzz run"

step "metrics"
# /metrics: promtool's checks, and counters that move with traffic.
curl -s "http://127.0.0.1:$http/metrics" >"$work/metrics.txt"
promtool check metrics <"$work/metrics.txt" || fail "promtool check metrics: $(promtool check metrics <"$work/metrics.txt" 2>&1 | head)"
for name in pio_requests_total pio_tokens_total pio_stage_latency_seconds_bucket pio_sequences pio_batch_sequences_bucket \
            pio_kv_blocks pio_resident_memory_bytes pio_http_requests_total pio_cache_bytes pio_cache_entries \
            pio_cache_events_total pio_device_memory_bytes pio_device_transfer_seconds; do
  grep -q "^$name" "$work/metrics.txt" || fail "/metrics lacks $name"
done
stop_before="$(metric 'pio_requests_total{outcome="length"}')"
tokens_before="$(metric 'pio_tokens_total{kind="generated"}')"
expect_post 200 "one more" /v1/chat/completions '{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}'
[ "$(metric 'pio_requests_total{outcome="length"}')" = "$((stop_before + 1))" ] || fail "pio_requests_total did not count the request"
[ "$(metric 'pio_tokens_total{kind="generated"}')" = "$((tokens_before + 4))" ] || fail "pio_tokens_total did not count 4 tokens"

step "chat page"
# The chat page in headless Chromium: it streams an answer to a generated image.
timeout 200 node "$root/tests/http/page_selftest.mjs" "http://127.0.0.1:$http/?selftest" "$work/chromium" 180 >"$work/page.out" 2>&1 ||
  fail "the chat page did not stream an answer: $(cat "$work/page.out")"
grep -q 'selftest ok chunks=[1-9]' "$work/page.out" || fail "the chat page: $(cat "$work/page.out")"

kill -TERM "$node_main"
wait "$node_main" || fail "the node did not exit 0 on SIGTERM"
echo "test_http: all checks passed"
