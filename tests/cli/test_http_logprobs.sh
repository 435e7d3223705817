#!/usr/bin/env bash
# logprobs, logit_bias, echo, /tokenize and /detokenize on a real node (the tiny checkpoint):
# under greedy decoding every token's top-1 is the token chosen, streamed logprobs equal the
# whole answer's, completions' legacy lists line up; a +100 bias forces an id, a -100 bias bans
# the greedy one, bad biases get 400 naming logit_bias; /tokenize round-trips through
# /detokenize (behind --api-key as /v1/ is); echo prepends the prompt; n choices (seed + i,
# streamed with their index). Then the same logprobs through a frontend and a worker
# of another process (StreamEvent's logprobs cross the process boundary).
#   test_http_logprobs.sh PIO PIO_NODE
set -euo pipefail
pio="$1"; node_bin="$2"
node_http=1
source "$(dirname "${BASH_SOURCE[0]}")/node_support.sh"
source "$(dirname "${BASH_SOURCE[0]}")/cluster_support.sh"
for tool in curl python3; do command -v "$tool" >/dev/null || fail "$tool is missing"; done

# post PATH JSON [HTTP_PORT]: the body; fails unless 200.
post() {
  local code
  code="$(curl -s -o "$work/body" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary "$2" \
    "http://127.0.0.1:${3:-$http}$1")"
  [ "$code" = 200 ] || fail "POST $1 $2: status $code: $(head -c 400 "$work/body")"
  cat "$work/body"
}
# refused PATH JSON PARAM: status 400 naming PARAM.
refused() {
  local code
  code="$(curl -s -o "$work/body" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary "$2" \
    "http://127.0.0.1:$http$1")"
  [ "$code" = 400 ] || fail "POST $1 $2: status $code, expected 400: $(head -c 400 "$work/body")"
  grep -q "\"param\":\"$3\"" "$work/body" || fail "POST $1 $2: the error does not name $3: $(cat "$work/body")"
}
# check NAME PYTHON: runs PYTHON with the JSON files of $work loaded as variables of their names.
check() {
  python3 - "$work" "$1" <<PY || fail "$1"
import json, math, os, sys
work = sys.argv[1]
def load(name): return json.load(open(os.path.join(work, name + ".json")))
def sse(name):
    out = []
    for line in open(os.path.join(work, name + ".sse")):
        line = line.strip()
        if line.startswith("data: ") and line != "data: [DONE]": out.append(json.loads(line[6:]))
    return out
$2
PY
}

"$pio" make-checkpoint --preset tiny --seed 5 --out "$work/tiny" 2>/dev/null
start_node node --kv-memory 8

chat='{"messages":[{"role":"user","content":"Say something."}],"max_tokens":12,"temperature":0,"logprobs":true,"top_logprobs":5'
post /v1/chat/completions "$chat}" >"$work/chat.json"
post /v1/chat/completions "$chat,\"stream\":true}" >"$work/chat.sse"
check "chat logprobs: top-1 is the greedy token, streamed equals whole" '
c = load("chat"); choice = c["choices"][0]
content = choice["logprobs"]["content"]
assert len(content) == c["usage"]["completion_tokens"], (len(content), c["usage"])
for e in content:
    assert len(e["top_logprobs"]) == 5, e
    top = e["top_logprobs"][0]
    assert top["token"] == e["token"] and top["logprob"] == e["logprob"], e
    assert bytes(e["bytes"]).decode("utf-8", "replace") == e["token"] or "\ufffd" in e["token"], e
    assert e["logprob"] <= 0 and all(a["logprob"] >= b["logprob"] for a, b in zip(e["top_logprobs"], e["top_logprobs"][1:])), e
    assert sum(math.exp(t["logprob"]) for t in e["top_logprobs"]) <= 1 + 1e-5, e
streamed = [e for ch in sse("chat") for ev in ch["choices"] if ev.get("logprobs") for e in ev["logprobs"]["content"]]
assert streamed == content, (streamed, content)
text = "".join(ev["delta"].get("content") or "" for ch in sse("chat") for ev in ch["choices"])
assert text == choice["message"]["content"], (text, choice)
'

completion='{"prompt":"Once upon a time","max_tokens":10,"temperature":0,"logprobs":3'
post /v1/completions "$completion}" >"$work/completion.json"
post /v1/completions "$completion,\"stream\":true}" >"$work/completion.sse"
check "completion logprobs: legacy lists, greedy top-1, streamed equals whole" '
c = load("completion"); lp = c["choices"][0]["logprobs"]
n = c["usage"]["completion_tokens"]
assert len(lp["tokens"]) == len(lp["token_logprobs"]) == len(lp["top_logprobs"]) == len(lp["text_offset"]) == n, lp
for tok, value, top in zip(lp["tokens"], lp["token_logprobs"], lp["top_logprobs"]):
    assert 3 <= len(top) <= 4 and top[tok] == value and value == max(top.values()), (tok, value, top)
assert lp["text_offset"][0] == 0
streamed = [ev["logprobs"] for ch in sse("completion") for ev in ch["choices"] if ev.get("logprobs")]
assert sum((s["tokens"] for s in streamed), []) == lp["tokens"]
assert sum((s["token_logprobs"] for s in streamed), []) == lp["token_logprobs"]
assert sum((s["text_offset"] for s in streamed), []) == lp["text_offset"]
'

# /tokenize and /detokenize.
post /tokenize '{"prompt":"Hello, wörld! <|im_end|>"}' >"$work/tok.json"
ids="$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["tokens"]))' "$work/tok.json")"
post /detokenize "{\"tokens\":$ids}" >"$work/detok.json"
post /tokenize '{"messages":[{"role":"user","content":"Hi"}],"add_special_tokens":false}' >"$work/tokm.json"
check "tokenize round-trips" '
t = load("tok"); assert t["count"] == len(t["tokens"]) > 0 and t["max_model_len"] > 0, t
assert load("detok")["prompt"] == "Hello, wörld! <|im_end|>", load("detok")
assert load("tokm")["count"] > 5, load("tokm")
'
refused /detokenize '{"tokens":[1,99999999]}' tokens
refused /tokenize '{"prompt":"a","messages":[]}' prompt

# logit_bias: +100 forces id 1000 (its text, token by token); -100 bans the greedy first token.
post /detokenize '{"tokens":[1000,1000,1000]}' >"$work/forced_text.json"
post /v1/completions '{"prompt":"Once upon a time","max_tokens":3,"temperature":0,"logprobs":0,"logit_bias":{"1000":100}}' >"$work/forced.json"
first="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["choices"][0]["logprobs"]["tokens"][0])' "$work/completion.json")"
first_id="$(post /tokenize "$(python3 -c 'import json,sys; print(json.dumps({"prompt": sys.argv[1]}))' "$first")" |
  python3 -c 'import json,sys; t=json.load(sys.stdin)["tokens"]; print(t[0] if len(t) == 1 else -1)')"
[ "$first_id" -ge 0 ] || fail "the greedy first token ($first) is not one id when tokenized again: pick another prompt"
post /v1/completions "{\"prompt\":\"Once upon a time\",\"max_tokens\":1,\"temperature\":0,\"logprobs\":1,\"logit_bias\":{\"$first_id\":-100}}" >"$work/banned.json"
check "logit_bias forces and bans" '
f = load("forced"); assert f["choices"][0]["text"] == load("forced_text")["prompt"], (f, load("forced_text"))
assert all(v > -1e-3 for v in f["choices"][0]["logprobs"]["token_logprobs"]), f
first = load("completion")["choices"][0]["logprobs"]["tokens"][0]
banned = load("banned")["choices"][0]["logprobs"]
assert banned["tokens"][0] != first and first not in banned["top_logprobs"][0], (banned, first)
'
refused /v1/chat/completions '{"messages":[{"role":"user","content":"hi"}],"logit_bias":{"1":101}}' logit_bias
refused /v1/chat/completions '{"messages":[{"role":"user","content":"hi"}],"logit_bias":{"x":1}}' logit_bias
refused /v1/chat/completions '{"messages":[{"role":"user","content":"hi"}],"top_logprobs":21,"logprobs":true}' top_logprobs
# Ids outside the vocabulary, as a bias or a prompt: 400 naming the field, in plain words.
refused /v1/chat/completions '{"messages":[{"role":"user","content":"hi"}],"logit_bias":{"999999":1}}' logit_bias
grep -q '"message":"logit_bias: token id 999999 is outside the vocabulary \[0, [0-9]*\]"' "$work/body" ||
  fail "a logit_bias id outside the vocabulary: $(cat "$work/body")"
refused /v1/completions '{"prompt":[1,999999999]}' prompt
grep -q '"message":"prompt token id 999999999 is outside the vocabulary \[0, [0-9]*\]"' "$work/body" ||
  fail "a prompt id outside the vocabulary: $(cat "$work/body")"

# echo: the prompt starts the text (whole and streamed).
post /v1/completions '{"prompt":"Once upon a time","max_tokens":4,"temperature":0,"echo":true}' >"$work/echo.json"
post /v1/completions '{"prompt":"Once upon a time","max_tokens":4,"temperature":0,"echo":true,"stream":true}' >"$work/echo.sse"
check "echo" '
text = load("echo")["choices"][0]["text"]
plain = load("completion")["choices"][0]["text"]
assert text.startswith("Once upon a time") and plain.startswith(text[len("Once upon a time"):]), (text, plain)
chunks = [ev["text"] for ch in sse("echo") for ev in ch["choices"]]
assert chunks[0] == "Once upon a time" and "".join(chunks) == text, chunks
'

# n: choice i of a seeded request is the answer of seed + i alone; streamed, chunks carry their
# index and the texts equal the whole answer's; greedy choices with logprobs are equal.
many='{"messages":[{"role":"user","content":"Tell a story."}],"max_tokens":8,"temperature":1,"seed":40'
post /v1/chat/completions "$many,\"n\":3}" >"$work/n.json"
for i in 0 1 2; do post /v1/chat/completions "${many/\"seed\":40/\"seed\":$((40 + i))}}" >"$work/n$i.json"; done
post /v1/chat/completions "$many,\"n\":3,\"stream\":true,\"stream_options\":{\"include_usage\":true}}" >"$work/n.sse"
post /v1/completions '{"prompt":"Once upon a time","max_tokens":6,"temperature":0,"logprobs":2,"n":2}' >"$work/ngreedy.json"
check "n choices" '
n = load("n"); assert [c["index"] for c in n["choices"]] == [0, 1, 2], n
for i, c in enumerate(n["choices"]):
    alone = load("n%d" % i)["choices"][0]["message"]["content"]
    assert c["message"]["content"] == alone, (i, c, alone)
assert n["usage"]["completion_tokens"] == sum(load("n%d" % i)["usage"]["completion_tokens"] for i in range(3)), n["usage"]
assert n["usage"]["prompt_tokens"] == load("n0")["usage"]["prompt_tokens"]
chunks = sse("n")
texts = {0: "", 1: "", 2: ""}
for ch in chunks:
    for ev in ch["choices"]: texts[ev["index"]] += ev["delta"].get("content") or ""
assert [texts[i] for i in range(3)] == [c["message"]["content"] for c in n["choices"]], (texts, n)
assert chunks[-1]["usage"]["completion_tokens"] == n["usage"]["completion_tokens"], chunks[-1]
assert sum(1 for ch in chunks for ev in ch["choices"] if ev["finish_reason"]) == 3
g = load("ngreedy")["choices"]; assert len(g) == 2 and g[0]["text"] == g[1]["text"] and g[0]["logprobs"] == g[1]["logprobs"], g
'
# Without a seed the node draws one for all the choices, below 2^53 (a JavaScript number holds
# it): sent back, it replays every choice, not only the first.
unseeded='{"messages":[{"role":"user","content":"Tell a story."}],"max_tokens":8,"temperature":1,"n":3'
post /v1/chat/completions "$unseeded}" >"$work/u.json"
seed="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["seed"])' "$work/u.json")"
post /v1/chat/completions "$unseeded,\"seed\":$seed}" >"$work/ureplay.json"
check "n choices without a seed replay from the answer's seed" '
u, r = load("u"), load("ureplay")
assert 0 <= u["seed"] < 2 ** 53, u["seed"]
assert [c["message"]["content"] for c in u["choices"]] == [c["message"]["content"] for c in r["choices"]], (u, r)
'
refused /v1/chat/completions '{"messages":[{"role":"user","content":"hi"}],"n":17}' n

# With --api-key, /tokenize and /detokenize need the key as /v1/ does.
main_http="$http"
start_node keyed --api-key sekrit
for path in /tokenize /detokenize; do
  code="$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -d '{"tokens":[1]}' "http://127.0.0.1:$http$path")"
  [ "$code" = 401 ] || fail "$path without the key: $code"
done
code="$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer sekrit' -H 'Content-Type: application/json' \
  -d '{"prompt":"a"}' "http://127.0.0.1:$http/tokenize")"
[ "$code" = 200 ] || fail "/tokenize with the key: $code"
http="$main_http"

# Through a frontend and a worker of another process: the same greedy tokens and logprobs.
start_frontend front 0 --http-port 0
front_http="$(sed -n 's/^http listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$work/front.out")"
start_worker worker
post /v1/chat/completions "$chat}" "$front_http" >"$work/cluster.json"
check "logprobs through a remote worker" '
a = load("chat")["choices"][0]["logprobs"]["content"]; b = load("cluster")["choices"][0]["logprobs"]["content"]
assert [e["token"] for e in a] == [e["token"] for e in b], (a, b)
assert all(abs(x["logprob"] - y["logprob"]) < 1e-4 for x, y in zip(a, b)), (a, b)
'
echo "test_http_logprobs: ok"
