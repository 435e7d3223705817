#!/usr/bin/env bash
# Browsers and the API surface (issue 23 §2), end to end on the tiny checkpoint with curl: CORS
# preflights and headers (whole and streamed answers) for --cors-origin origins only; 415 for
# POST bodies not sent as JSON, which start no generation; 405 with Allow; 400 naming a field
# pio does not implement (hints taken); `model` checked against --served-model-name (404);
# errors without library text, server paths or echoed base64, and one error for a path outside
# --allowed-media-dir whether or not it exists; image URLs as clients write them (file://localhost,
# percent-encoding, DATA:, wrapped and URL-safe base64, 415 for a non-image data: URI); response
# ids unique across restarts and /v1/models' created; --cors-origin '*' with --api-key exits 2;
# sampling defaults from the checkpoint's generation_config.json unless --generation-config vllm.
#   test_http_api.sh PIO PIO_NODE REPO_ROOT
set -euo pipefail
pio="$1"; node_bin="$2"; root="$3"
node_http=1
source "$(dirname "${BASH_SOURCE[0]}")/node_support.sh"
step() { echo "test_http_api: $(date +%T) $*"; }
app="https://app.example.com"

# status METHOD PATH [curl args...]: the status; the body lands in $work/body, the headers in $work/headers.
status() {
  local method="$1" path="$2"; shift 2
  curl -s -m 120 -o "$work/body" -D "$work/headers" -w '%{http_code}' -X "$method" "http://127.0.0.1:$http$path" "$@"
}
# post PATH JSON [curl args...]: a JSON POST's status.
post() {
  local path="$1"; printf '%s' "$2" >"$work/req.json"; shift 2
  status POST "$path" --data-binary "@$work/req.json" -H "Content-Type: application/json" "$@"
}
header() { tr -d '\r' <"$work/headers" | sed -n "s/^$1: //Ip" | head -1; }  # header NAME: its value
error_field() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["error"][sys.argv[2]])' "$work/body" "$1"; }
want() {  # want STATUS GOT LABEL
  [ "$2" = "$1" ] || fail "$3: status $2, expected $1: $(head -c 400 "$work/body")"
}
chat() { echo "{\"model\": \"${2:-tiny}\", \"max_tokens\": 2, \"messages\": [{\"role\": \"user\", \"content\": $1}]}"; }
# image_req FILE: a chat request whose image URL is FILE's content (JSON-escaped: it may hold line breaks).
image_req() {
  python3 -c 'import json, sys; print(json.dumps({"max_tokens": 2, "messages": [{"role": "user", "content": [
      {"type": "image_url", "image_url": {"url": open(sys.argv[1]).read()}}, {"type": "text", "text": "x"}]}]}))' "$1"
}
post_image() {  # post_image URL: the status
  printf '%s' "$1" >"$work/url.txt"
  post /v1/chat/completions "$(image_req "$work/url.txt")"
}
finished() {  # the requests the node has finished, whatever their outcome
  curl -s "http://127.0.0.1:$http/metrics" | awk '$1 ~ /^pio_requests_total/ { n += $2 } END { print n + 0 }'
}

"$pio" make-checkpoint --preset tiny --seed 5 --out "$work/tiny" 2>/dev/null
mkdir -p "$work/media/my photos"
cp "$root/assets/demo.jpg" "$work/media/my photos/demo image.jpg"
cp "$root/assets/demo.jpg" "$work/outside.jpg"
started="$(date +%s)"
start_node main --max-pixels 40000 --allowed-media-dir "$work/media" --kv-memory 4 --max-body-mb 1 \
  --cors-origin "$app" --cors-origin http://localhost:5173 --served-model-name gpt-4o-mini --served-model-name local

step "POST bodies not sent as JSON: 415, and no generation starts"
before="$(finished)"
printf '%s' "$(chat '"hi"')" >"$work/hi.json"
want 415 "$(status POST /v1/chat/completions --data-binary "@$work/hi.json" -H "Content-Type: text/plain")" "text/plain"
grep -q 'application/json' "$work/body" || fail "415 does not say what to send: $(cat "$work/body")"
want 415 "$(status POST /v1/chat/completions -d "@$work/hi.json")" "a form (curl -d)"
want 415 "$(status POST /v1/completions --data-binary '{"prompt": "x"}' -H "Content-Type:")" "no Content-Type"
want 415 "$(status POST /v1/chat/completions --data-binary "@$work/hi.json" -H "Content-Type: text/plain" -H "Origin: $app")" "cross-site simple POST"
[ "$(header Access-Control-Allow-Origin)" = "$app" ] || fail "a 415 to an allowed origin has no CORS header"
want 200 "$(post /v1/chat/completions "$(chat '"hi"')" -H "Content-Type: application/json; charset=utf-8")" "JSON with a charset"
sleep 0.5
[ "$(finished)" = "$((before + 1))" ] || fail "a refused POST started a generation: $before then $(finished) finished"

step "CORS: preflights, whole and streamed answers, other origins"
want 204 "$(status OPTIONS /v1/chat/completions -H "Origin: $app" -H "Access-Control-Request-Method: POST" \
  -H "Access-Control-Request-Headers: authorization, content-type")" "preflight"
[ "$(header Access-Control-Allow-Origin)" = "$app" ] || fail "preflight: $(cat "$work/headers")"
[ "$(header Access-Control-Allow-Methods)" = "POST, OPTIONS" ] || fail "preflight methods: $(cat "$work/headers")"
[ "$(header Access-Control-Allow-Headers)" = "authorization, content-type" ] || fail "preflight headers: $(cat "$work/headers")"
[ "$(header Access-Control-Max-Age)" = 600 ] || fail "preflight max-age: $(cat "$work/headers")"
want 204 "$(status OPTIONS /v1/chat/completions -H "Origin: https://evil.example.com" -H "Access-Control-Request-Method: POST")" "other preflight"
! grep -qi '^Access-Control-' "$work/headers" || fail "a disallowed origin got CORS headers: $(cat "$work/headers")"
want 200 "$(post /v1/chat/completions "$(chat '"hi"')" -H "Origin: $app")" "a whole answer"
[ "$(header Access-Control-Allow-Origin)" = "$app" ] && [ "$(header Vary)" = Origin ] || fail "whole answer: $(cat "$work/headers")"
want 200 "$(post /v1/chat/completions "$(chat '"hi"' | sed 's/"max_tokens": 2/"max_tokens": 2, "stream": true/')" \
  -H "Origin: http://localhost:5173")" "a stream"
[ "$(header Access-Control-Allow-Origin)" = http://localhost:5173 ] || fail "streamed answer: $(cat "$work/headers")"
grep -q '^data: \[DONE\]' "$work/body" || fail "not a stream: $(head -c 300 "$work/body")"
want 200 "$(status GET /v1/models -H "Origin: $app")" "models"
[ "$(header Access-Control-Allow-Origin)" = "$app" ] || fail "/v1/models: $(cat "$work/headers")"
want 200 "$(post /v1/chat/completions "$(chat '"hi"')" -H "Origin: https://evil.example.com")" "another origin"
! grep -qi '^Access-Control-' "$work/headers" || fail "a disallowed origin got CORS headers: $(cat "$work/headers")"
head -c 1100000 /dev/zero | tr '\0' ' ' >"$work/big.json"
want 413 "$(status POST /v1/chat/completions --data-binary "@$work/big.json" -H "Content-Type: application/json" -H "Origin: $app")" \
  "a body over --max-body-mb"
[ "$(header Access-Control-Allow-Origin)" = "$app" ] || fail "a 413 to an allowed origin has no CORS header: $(cat "$work/headers")"

step "405 with Allow"
want 405 "$(status GET /v1/completions)" "GET on a POST route"
[ "$(header Allow)" = "POST, OPTIONS" ] || fail "405 Allow: $(cat "$work/headers")"
want 405 "$(post /health '{}')" "POST on a GET route"
[ "$(header Allow)" = "GET, HEAD, OPTIONS" ] || fail "405 Allow: $(cat "$work/headers")"

step "fields pio does not implement: 400 naming them; hints taken"
want 400 "$(post /v1/chat/completions '{"messages": [{"role": "user", "content": "x"}], "functions": [{"name": "f"}]}')" "functions"
[ "$(error_field param)" = functions ] && error_field message | grep -q "unsupported parameter: functions" || fail "functions: $(cat "$work/body")"
want 400 "$(post /v1/completions '{"prompt": "x", "suffix": "y"}')" "suffix"
[ "$(error_field param)" = suffix ] || fail "suffix: $(cat "$work/body")"
want 400 "$(post /v1/chat/completions '{"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_schema",
  "json_schema": {"name": "n", "schema": {"type": "string", "pattern": "a+"}}}}')" "a schema keyword pio does not follow"
[ "$(error_field param)" = response_format.json_schema.schema ] || fail "schema keyword: $(cat "$work/body")"
want 400 "$(post /v1/chat/completions '{"messages": [{"role": "user", "content": "x"}], "tool_choice": "required"}')" "required, no tools"
[ "$(error_field param)" = tool_choice ] || fail "tool_choice: $(cat "$work/body")"
want 200 "$(post /v1/chat/completions '{"messages": [{"role": "user", "content": "x"}], "max_tokens": 1, "user": "u",
  "metadata": {"k": "v"}, "store": false, "service_tier": "auto", "parallel_tool_calls": true, "logit_bias": null}')" "hints"

step "model: the served one or an alias, else 404"
want 200 "$(post /v1/chat/completions "$(chat '"hi"' gpt-4o-mini)")" "an alias"
answer_model() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["model"])' "$work/body"; }
[ "$(answer_model)" = gpt-4o-mini ] || fail "the answer does not repeat the alias asked for: $(cat "$work/body")"
want 200 "$(post /v1/completions '{"model": "local", "prompt": "x", "max_tokens": 1}')" "another alias"
[ "$(answer_model)" = local ] || fail "the answer does not repeat the alias asked for: $(cat "$work/body")"
want 200 "$(post /v1/completions '{"prompt": "x", "max_tokens": 1}')" "no model"
[ "$(answer_model)" = tiny ] || fail "without a model the answer names the served one: $(cat "$work/body")"
want 404 "$(post /v1/chat/completions "$(chat '"hi"' llama-3)")" "an unknown model"
[ "$(error_field param)" = model ] && error_field message | grep -q 'The model `llama-3` does not exist' || fail "404: $(cat "$work/body")"
want 200 "$(status GET /v1/models)" "models"
python3 - "$work/body" "$started" "$(date +%s)" <<'PY' || fail "/v1/models: $(cat "$work/body")"
import json, sys
data = json.load(open(sys.argv[1]))["data"]
assert [m["id"] for m in data] == ["tiny", "gpt-4o-mini", "local"], data
assert all(int(sys.argv[2]) - 1 <= m["created"] <= int(sys.argv[3]) for m in data), data
PY

step "errors in users' words"
want 400 "$(post /v1/chat/completions '{"messages": [{"role": "user", "content": "x"}], "temperature": 3}')" "a range"
[ "$(error_field message)" = "temperature must be in [0, 2]" ] || fail "range: $(cat "$work/body")"
want 400 "$(post /v1/chat/completions '{"messages": [')" "malformed JSON"
! grep -qE 'json\.exception|syntax error while parsing' "$work/body" || fail "library text: $(cat "$work/body")"
base64 -w0 "$root/assets/demo.jpg" >"$work/b64-full.txt"  # not piped into head: its early exit would be a SIGPIPE
head -c 4000 "$work/b64-full.txt" >"$work/b64.txt"
printf '{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,%s\n%s"}}]}]}' \
  "$(cat "$work/b64.txt")" "$(cat "$work/b64.txt")" >"$work/raw-newline.json"
want 400 "$(status POST /v1/chat/completions --data-binary "@$work/raw-newline.json" -H "Content-Type: application/json")" "a raw line break"
! grep -q "$(head -c 40 "$work/b64.txt")" "$work/body" || fail "the base64 came back: $(head -c 300 "$work/body")"
want 400 "$(post_image ../outside.jpg)" "outside, existing"
outside="$(error_field message)" || fail "outside, existing: no error message: $(head -c 400 "$work/body")"
want 400 "$(post_image ../missing.jpg)" "outside, missing"
[ "$(error_field message)" = "$outside" ] || fail "outside paths: '$outside' vs '$(error_field message)'"
want 400 "$(post_image "file://$work/outside.jpg")" "outside, absolute"
[ "$(error_field message)" = "$outside" ] || fail "outside paths: '$outside' vs '$(error_field message)'"
want 400 "$(post_image "$work/media/nothing.jpg")" "missing inside"
! grep -q "$work" "$work/body" || fail "a server path in an error: $(cat "$work/body")"
grep -q "nothing.jpg" "$work/body" || fail "the missing file is not named: $(cat "$work/body")"

step "image URLs as clients send them"
want 200 "$(post_image "file://localhost$work/media/my%20photos/demo%20image.jpg")" "file://localhost, percent-encoded"
want 200 "$(post_image "my photos/demo image.jpg")" "a relative path"
want 200 "$(post_image "DATA:IMAGE/JPEG;BASE64,$(base64 -w0 "$root/assets/demo.jpg")")" "DATA: in upper case"
want 200 "$(post_image "data:image/jpeg;base64,$(base64 "$root/assets/demo.jpg")")" "base64's 76-column lines"
want 200 "$(post_image "data:image/jpeg;base64,$(base64 -w0 "$root/assets/demo.jpg" | tr '+/' '-_' | tr -d '=')")" "URL-safe base64"
want 415 "$(post_image "data:text/plain;base64,$(base64 -w0 "$root/assets/demo.jpg")")" "a text/plain data: URI"
! grep -q "$(head -c 40 "$work/b64.txt")" "$work/body" || fail "the base64 came back: $(head -c 300 "$work/body")"

step "sampling defaults from generation_config.json (vLLM's --generation-config auto)"
# A request that leaves the sampling fields out samples as the checkpoint's generation config
# says (Qwen3-VL's temperature 0.7, top_p 0.8, top_k 20), not with OpenAI's defaults.
sampled() {  # sampled FIELDS: the answer's text to a seeded request with those sampling fields
  want 200 "$(post /v1/chat/completions "{\"max_tokens\": 24, \"seed\": 5${1:+, $1}, \"messages\": [{\"role\": \"user\", \"content\": \"Tell a story.\"}]}")" "sampled: $1"
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["choices"][0]["message"]["content"])' "$work/body"
}
grep -q "HTTP requests that leave them out sample with temperature 0.7, top_p 0.8, top_k 20, repetition_penalty 1 " \
  "$work/main.err" || fail "no generation-config line: $(cat "$work/main.err")"
implicit="$(sampled "")"
[ "$implicit" = "$(sampled '"temperature": 0.7, "top_p": 0.8, "top_k": 20')" ] ||
  fail "left out is not the generation config's: $implicit"
openai="$(sampled '"temperature": 1, "top_p": 1, "top_k": -1')"
[ "$implicit" != "$openai" ] || fail "the generation config changed nothing: $implicit"
[ "$(sampled '"temperature": 0.7, "top_k": 20')" = "$implicit" ] || fail "a field given does not keep the others' defaults"

step "response ids differ across restarts; --cors-origin '*'"
want 200 "$(post /v1/chat/completions "$(chat '"hi"')")" "an id"
id_a="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["id"])' "$work/body")"
start_node again --max-pixels 40000 --kv-memory 4 --cors-origin '*' --generation-config vllm
want 200 "$(post /v1/chat/completions "$(chat '"hi"')" -H "Origin: https://anywhere.example")" "an id after a restart"
id_b="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["id"])' "$work/body")"
[[ "$id_a" =~ ^chatcmpl-[0-9a-f]{12}-[0-9]+$ ]] && [[ "$id_b" =~ ^chatcmpl-[0-9a-f]{12}-1$ ]] || fail "ids: $id_a, $id_b"
[ "${id_a%-*}" != "${id_b%-*}" ] || fail "two processes share an id prefix: $id_a, $id_b"
[ "$(header Access-Control-Allow-Origin)" = "*" ] || fail "--cors-origin '*': $(cat "$work/headers")"
# --generation-config vllm: OpenAI's defaults, and no line about a generation config.
[ "$(sampled "")" = "$openai" ] || fail "--generation-config vllm: not OpenAI's defaults"
! grep -q "HTTP requests that leave them out" "$work/again.err" || fail "vllm: $(cat "$work/again.err")"

step "--generation-config and --override-generation-config errors: exit 2"
for bad in "--generation-config $work/nowhere" "--override-generation-config {\"temprature\":1}" \
    "--override-generation-config {\"top_p\":0}"; do
  rc=0
  # shellcheck disable=SC2086 # each case is a flag and its value
  timeout 60 "$node_bin" --model "$work/tiny" --port 0 --http-port 0 $bad >/dev/null 2>"$work/gen.err" || rc=$?
  [ "$rc" = 2 ] && grep -q "pio-node: error: .*\(generation-config\|temprature\|top_p\)" "$work/gen.err" ||
    fail "$bad: rc $rc: $(cat "$work/gen.err")"
done

step "--cors-origin '*' with --api-key: exit 2"
rc=0
timeout 60 "$node_bin" --model "$work/tiny" --port 0 --http-port 0 --api-key k --cors-origin '*' >/dev/null 2>"$work/star.err" || rc=$?
[ "$rc" = 2 ] && grep -q -- "--cors-origin '\*' with --api-key" "$work/star.err" || fail "'*' with a key: rc $rc: $(cat "$work/star.err")"
echo "test_http_api: ok"
