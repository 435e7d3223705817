#!/usr/bin/env bash
# Structured outputs end to end on the tiny checkpoint (random weights): a node answers
# response_format json_schema with JSON that parses and matches the schema, streamed and not;
# json_object answers start an object; tool_choice required answers one valid tool call; a schema pio cannot follow is a 400 naming the keyword;
# and a frontend whose worker is another process answers under the schema too (the schema
# crosses the process boundary in the engine job).
#   test_structured_output.sh PIO PIO_NODE REPO_ROOT
set -euo pipefail
pio="$1"; node_bin="$2"; root="$3"
node_http=1
source "$root/tests/cli/node_support.sh"
source "$root/tests/cli/cluster_support.sh"
"$pio" make-checkpoint --preset tiny --seed 5 --out "$work/tiny" 2>/dev/null

# No free strings: random weights would never close one (strings are covered by the unit tests).
schema='{"type": "object", "properties": {"name": {"enum": ["Ann", "Bo"]}, "age": {"type": "integer"},
  "tags": {"type": "array", "items": {"anyOf": [{"type": "boolean"}, {"$ref": "#/$defs/n"}]}, "maxItems": 3}},
  "required": ["name", "age"], "additionalProperties": false, "$defs": {"n": {"type": "number"}}}'
body() {  # body STREAM SEED
  printf '{"messages": [{"role": "user", "content": "A person as JSON."}], "max_tokens": 300, "seed": %s, "stream": %s,
    "response_format": {"type": "json_schema", "json_schema": {"name": "person", "strict": true, "schema": %s}}}' "$2" "$1" "$schema"
}
post() {  # post PORT BODY: the response body in $work/out, the status printed
  printf '%s' "$2" >"$work/req.json"
  curl -s -o "$work/out" -w '%{http_code}' "http://127.0.0.1:$1/v1/chat/completions" \
    -H "Content-Type: application/json" --data-binary "@$work/req.json"
}
# check_answer FILE STREAMED: the answer's text parses and matches the schema; finish_reason stop.
check_answer() {
  python3 - "$1" "$2" <<'EOF' || fail "answer does not match the schema: $(head -c 600 "$1")"
import json, sys
raw, streamed = open(sys.argv[1]).read(), sys.argv[2] == "1"
if streamed:
    chunks = [json.loads(l[6:]) for l in raw.splitlines() if l.startswith("data: ") and l != "data: [DONE]"]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices"))
    finish = [c["choices"][0]["finish_reason"] for c in chunks if c.get("choices") and c["choices"][0]["finish_reason"]]
    finish = finish[-1]
else:
    choice = json.loads(raw)["choices"][0]
    text, finish = choice["message"]["content"], choice["finish_reason"]
assert finish == "stop", finish
doc = json.loads(text)
assert set(doc) <= {"name", "age", "tags"} and doc["name"] in ("Ann", "Bo") and isinstance(doc["age"], int), doc
for t in doc.get("tags", []):
    assert isinstance(t, (bool, int, float)), doc
assert len(doc.get("tags", [])) <= 3, doc
print("answer:", text.replace("\n", " "))
EOF
}

start_node node
for seed in 1 2 3; do
  [ "$(post "$http" "$(body false "$seed")")" = 200 ] || fail "json_schema: $(cat "$work/out")"
  check_answer "$work/out" 0
done
[ "$(post "$http" "$(body true 4)")" = 200 ] || fail "json_schema streamed: $(cat "$work/out")"
check_answer "$work/out" 1

# json_object: any object (random weights write strings that never end: only its start is checked).
code="$(post "$http" '{"messages": [{"role": "user", "content": "x"}], "max_tokens": 8, "response_format": {"type": "json_object"}}')"
[ "$code" = 200 ] || fail "json_object: $code $(cat "$work/out")"
python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["choices"][0]["message"]["content"]; assert t.lstrip().startswith("{"), t' \
  "$work/out" || fail "json_object answer is no object: $(cat "$work/out")"

# tool_choice required: one call of a listed tool, its arguments matching the parameters.
code="$(post "$http" '{"messages": [{"role": "user", "content": "Weather?"}], "max_tokens": 300, "seed": 2, "tool_choice": "required",
  "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object",
    "properties": {"city": {"enum": ["Paris", "Rome"]}}, "required": ["city"], "additionalProperties": false}}}]}')"
[ "$code" = 200 ] || fail "tool_choice required: $code $(cat "$work/out")"
python3 - "$work/out" <<'EOF' || fail "tool_choice required: no valid call: $(cat "$work/out")"
import json, sys
choice = json.load(open(sys.argv[1]))["choices"][0]
assert choice["finish_reason"] == "tool_calls", choice
(call,) = choice["message"]["tool_calls"]
assert call["function"]["name"] == "get_weather", call
assert json.loads(call["function"]["arguments"])["city"] in ("Paris", "Rome"), call
print("tool call:", call["function"])
EOF

# A keyword pio does not follow: 400 naming it and the field.
code="$(post "$http" '{"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_schema",
  "json_schema": {"name": "x", "schema": {"type": "string", "format": "email"}}}}')"
[ "$code" = 400 ] && grep -q "format 'email' is not supported" "$work/out" && grep -q '"param":"response_format.json_schema.schema"' "$work/out" ||
  fail "unsupported keyword: $code $(cat "$work/out")"

# A frontend and a worker process: the job carries the schema to the worker.
start_frontend front 0 --http-port 0
front_http="$(sed -n 's/^http listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$work/front.out")"
start_worker worker
[ "$(post "$front_http" "$(body false 1)")" = 200 ] || fail "json_schema through a worker: $(cat "$work/out")"
check_answer "$work/out" 0
echo "PASS"
