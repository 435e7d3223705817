#!/usr/bin/env bash
# Issue 21's "no request can take the node hostage", end to end on the tiny checkpoint over HTTP:
# an 8192x8192 PNG (16.7 M pixels after HF's resize) is encoded in pieces while text requests
# are answered, ends at its deadline with 504, and a client that leaves cancels it within a
# second; prompts beyond the context are refused with 400 on every path (a default max_tokens is
# clipped instead); a non-streaming client that disconnects is cancelled; SIGTERM with a short
# --drain-timeout ends a running stream with an error event and [DONE], and the process exits;
# memory thresholds judged on what pio holds release once the load is gone.
#   test_robustness.sh PIO PIO_NODE REPO_ROOT
set -euo pipefail
pio="$1"; node_bin="$2"; root="$3"
node_http=1
source "$(dirname "${BASH_SOURCE[0]}")/node_support.sh"
step() { echo "test_robustness: $(date +%T) $*"; }

post() {  # post PATH JSON_FILE [curl args...]: prints "STATUS SECONDS"; the body lands in ${body:-$work/body}
  local path="$1" file="$2"; shift 2
  curl -s -o "${body:-$work/body}" -w '%{http_code} %{time_total}\n' -H "Content-Type: application/json" \
    --data-binary "@$file" "http://127.0.0.1:$http$path" "$@" || true
}
stat_field() {  # stat_field NAME: a number from `pio stats --json`
  timeout 20 "$pio" stats --node "127.0.0.1:$port" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}
wait_idle() {  # wait_idle LABEL SECONDS: nothing admitted, queued or held by the engine within SECONDS
  local deadline=$((SECONDS + $2)) fields
  while [ "$SECONDS" -lt "$deadline" ]; do
    fields="$(timeout 20 "$pio" stats --node "127.0.0.1:$port" --json | python3 -c '
import json, sys
r = json.load(sys.stdin)
print(" ".join(str(r[k]) for k in ("running", "queued", "engine_sequences", "engine_waiting", "kv_blocks_used")))')"
    [ "$fields" = "0 0 0 0 0" ] && return 0
    sleep 0.2
  done
  fail "$1: the request still runs $2 s later (running, queued, engine sequences, engine waiting, KV blocks: $fields)"
}
text_req() {  # text_req FILE MAX_TOKENS [STREAM]: a one-turn chat
  printf '{"messages": [{"role": "user", "content": "Tell me a long story."}], "max_tokens": %s, "stream": %s}' "$2" "${3:-false}" >"$1"
}

"$pio" make-checkpoint --preset tiny --seed 5 --out "$work/tiny" 2>/dev/null
# The same with a context of 512 tokens, as in the issue's reproduction.
cp -r "$work/tiny" "$work/tiny512"
sed -i 's/"max_position_embeddings": [0-9]*/"max_position_embeddings": 512/' "$work/tiny512/config.json"

# An all-zero 8192x8192 RGB PNG (about 200 KB), written without an imaging library, and the same
# pixels with a text chunk: other bytes, so the leaving client's image misses the vision cache
# (and its prompt the prefix cache) that the deadline's request may have filled on a fast machine.
python3 - "$work/big.png" "$work/big-other.png" <<'PY'
import struct, sys, zlib
w = h = 8192
def chunk(kind, data):
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff)
z = zlib.compressobj(9)
row = b'\0' * (1 + 3 * w)
idat = b''.join(z.compress(row) for _ in range(h)) + z.flush()
head = b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0))
open(sys.argv[1], 'wb').write(head + chunk(b'IDAT', idat) + chunk(b'IEND', b''))
open(sys.argv[2], 'wb').write(head + chunk(b'tEXt', b'Comment\0another file') + chunk(b'IDAT', idat) + chunk(b'IEND', b''))
PY
big_req() {  # big_req FILE STREAM PNG
  python3 - "$3" "$2" >"$1" <<'PY'
import base64, json, sys
url = 'data:image/png;base64,' + base64.b64encode(open(sys.argv[1], 'rb').read()).decode()
print(json.dumps({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}},
                                                           {"type": "text", "text": "What is this?"}]}],
                  "max_tokens": 8, "stream": sys.argv[2] == "true"}))
PY
}
big_req "$work/big.json" false "$work/big.png"
big_req "$work/big-stream.json" true "$work/big-other.png"
text_req "$work/hi.json" 8

step "the node's default pixel budget is stated at start"
start_node budget
grep -q "per-image pixel budget" "$work/budget.err" || fail "no pixel budget at start: $(cat "$work/budget.err")"
kill -TERM "$node_pid"; wait "$node_pid" || fail "the node did not exit 0"

# The deadline leaves a loaded machine (CI beside other builds) time to decode and resize the
# image before it must be seen in the engine.
step "an 8192x8192 image at HF's own pixel limit: other requests are served beside it, it ends at its deadline"
start_node big --max-pixels 16777216 --request-timeout 30
(body="$work/big.body" post /v1/chat/completions "$work/big.json" >"$work/big.status") &
big_client=$!
sleep 3
for i in 1 2 3; do
  read -r code secs < <(post /v1/chat/completions "$work/hi.json" -m 30)
  [ "$code" = 200 ] || fail "text request $i beside the image: status $code"
  python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < 10 else 1)" "$secs" || fail "text request $i took $secs s beside the image"
done
for _ in $(seq 1 100); do [ "$(stat_field engine_waiting)" -ge 1 ] && break; sleep 0.25; done
[ "$(stat_field engine_waiting)" -ge 1 ] || fail "pio stats beside the image: the engine holds no image"
wait "$big_client"
read -r code secs <"$work/big.status"
[ "$code" = 504 ] || fail "the image's deadline: status $code, expected 504: $(head -c 300 "$work/big.body")"
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < 35 else 1)" "$secs" || fail "the 30 s deadline answered after $secs s"
wait_idle "after the deadline" 5

step "a client that leaves during the encode cancels it"
(curl -s -m 3 -o "$work/left.body" -w '%{http_code} %{time_total}' -H "Content-Type: application/json" \
  --data-binary "@$work/big-stream.json" "http://127.0.0.1:$http/v1/chat/completions" >"$work/left.status" || true) &
wait $!
wait_idle "a streaming client left during the image" 3

step "a non-streaming client that leaves is cancelled"
text_req "$work/long.json" 4096
sed -i 's/Tell me a long story./Count to a million./' "$work/long.json"
curl -s -m 1 -o /dev/null -H "Content-Type: application/json" --data-binary "@$work/long.json" \
  "http://127.0.0.1:$http/v1/chat/completions" || true
wait_idle "a non-streaming client left" 3
[ "$(curl -s "http://127.0.0.1:$http/metrics" | awk '$1 ~ /^pio_requests_total/ && /cancelled/ { n += $2 } END { print n + 0 }')" -ge 2 ] \
  || fail "the two clients that left are not counted as cancelled: $(curl -s "http://127.0.0.1:$http/metrics" | grep '^pio_requests_total'); the streaming one got $(cat "$work/left.status"): $(head -c 300 "$work/left.body")"

step "prompts beyond the context (512) are refused on every path; a default max_tokens is clipped"
kill -TERM "$node_pid"; wait "$node_pid" || fail "the node did not exit 0"
model=tiny512 start_node context
words="$(for i in $(seq 1 2000); do printf 'word '; done)"
printf '{"messages": [{"role": "user", "content": "%s"}], "max_tokens": 16}' "$words" >"$work/ctx.json"
read -r code _ < <(post /v1/chat/completions "$work/ctx.json")
[ "$code" = 400 ] || fail "a 2000-word prompt: status $code"
grep -q "maximum context length is 512 tokens" "$work/body" || fail "the 400 does not say the context: $(cat "$work/body")"
printf '{"messages": [{"role": "user", "content": "%s"}], "max_tokens": 4096}' "$(for i in $(seq 1 100); do printf 'word '; done)" >"$work/ctx.json"
read -r code _ < <(post /v1/chat/completions "$work/ctx.json")
[ "$code" = 400 ] || fail "100 words and max_tokens 4096: status $code"
grep -q "maximum context length is 512 tokens" "$work/body" || fail "the 400 does not say the context: $(cat "$work/body")"
printf '{"messages": [{"role": "user", "content": "%s"}], "temperature": 0}' "$(for i in $(seq 1 100); do printf 'word '; done)" >"$work/ctx.json"
read -r code _ < <(post /v1/chat/completions "$work/ctx.json")
[ "$code" = 200 ] || fail "no max_tokens: status $code: $(head -c 300 "$work/body")"
total="$(python3 -c 'import json,sys; u = json.load(open(sys.argv[1]))["usage"]; print(u["prompt_tokens"] + u["completion_tokens"])' "$work/body")"
[ "$total" -le 512 ] || fail "prompt and answer together take $total tokens, over the context"
if timeout 60 "$pio" chat --node "127.0.0.1:$port" --prompt "$words" --max-tokens 4 >/dev/null 2>"$work/chat.err"; then
  fail "pio chat --node took a prompt over the context"
fi
grep -q "maximum context length is 512 tokens" "$work/chat.err" || fail "pio chat --node: $(cat "$work/chat.err")"
# 300 words and chat's default --max-tokens (256): over the context, so the default is clipped.
timeout 60 "$pio" chat --node "127.0.0.1:$port" --prompt "$(for i in $(seq 1 300); do printf 'word '; done)" \
  --temperature 0 >/dev/null 2>"$work/chat.err" || fail "pio chat --node: the default --max-tokens was not clipped: $(cat "$work/chat.err")"

step "SIGTERM with a short --drain-timeout: the running stream gets an error event and [DONE], the process exits"
kill -TERM "$node_pid"; wait "$node_pid" || fail "the node did not exit 0"
start_node drain --drain-timeout 2
text_req "$work/long-stream.json" 4096 true
(curl -s -N -m 60 -o "$work/drain.out" -H "Content-Type: application/json" --data-binary "@$work/long-stream.json" \
  "http://127.0.0.1:$http/v1/chat/completions" || true) &
drain_client=$!
for _ in $(seq 1 100); do grep -q '"content"' "$work/drain.out" 2>/dev/null && break; sleep 0.1; done
t0=$SECONDS
kill -TERM "$node_pid"
wait "$node_pid" || fail "the drained node did not exit 0"
[ $((SECONDS - t0)) -le 15 ] || fail "the process took $((SECONDS - t0)) s to exit after SIGTERM with --drain-timeout 2"
wait "$drain_client"
grep -q '"error"' "$work/drain.out" || fail "the cut stream got no error event: $(head -c 300 "$work/drain.out")"
grep -q 'data: \[DONE\]' "$work/drain.out" || fail "the cut stream got no [DONE]: $(head -c 300 "$work/drain.out")"

step "memory thresholds judged on what pio holds: crossed by an image in flight, released once it ends"
start_node measure
rss="$(stat_field rss_mb | cut -d. -f1)"
kill -TERM "$node_pid"; wait "$node_pid" || fail "the node did not exit 0"
# The 8192x8192 image's float pixels (about 400 MB) are held while it waits for the encoder.
# Afterwards RSS stays above the soft threshold (what the allocator and libraries keep), which
# held admission shut for good when the thresholds judged RSS.
start_node memory --max-pixels 16777216 --request-timeout 15 --memory-soft $((rss + 40)) --memory-hard $((rss + 300))
(body="$work/big.body" post /v1/chat/completions "$work/big.json" >"$work/big.status") &
big_client=$!
for _ in $(seq 1 100); do grep -q "level hard" "$work/memory.err" && break; sleep 0.1; done
grep -q "level hard" "$work/memory.err" || fail "the image in flight did not cross the hard threshold: $(cat "$work/memory.err")"
read -r code _ < <(post /v1/chat/completions "$work/hi.json" -m 30)
[ "$code" = 503 ] || fail "above the hard threshold a new request got $code, expected 503"
wait "$big_client"
for _ in $(seq 1 50); do grep -q "level normal" "$work/memory.err" && break; sleep 0.1; done
grep -q "level normal" "$work/memory.err" || fail "the level did not return to normal after the image ended: $(cat "$work/memory.err")"
read -r code secs < <(post /v1/chat/completions "$work/hi.json" -m 30)
[ "$code" = 200 ] || fail "after the load a request got $code"
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < 5 else 1)" "$secs" || fail "after the load a request took $secs s"
kill -TERM "$node_pid"; wait "$node_pid" || fail "the node did not exit 0"

echo "test_robustness: all checks passed"
