#!/usr/bin/env bash
# Multi-process serving (issue 22): a frontend (no weights) and workers that join it over CAF's
# middleman, all on loopback with free ports.
#   * two workers answer 16 concurrent requests (text and images, greedy and seeded), each equal
#     to `pio chat --model` with the same seed, and `pio stats` shows both served some;
#   * while 8 streams run: kill -9 of a worker, SIGSTOP of a worker (SIGCONT once its requests
#     moved: it must not double-answer), a worker joining under load, a draining worker (SIGTERM):
#     every stream completes with text identical to the undisturbed run, and the moved ones
#     resume past the KV blocks their replica worker kept;
#   * no worker left: streams wait and resume when a worker joins; new requests get 503 with
#     Retry-After over HTTP; /metrics shows each worker with a `worker` label, not one that left;
#   * a frontend killed and restarted on its port: its clients get an error, the workers join
#     the new one by themselves and it serves;
#   * refusals: another checkpoint (fingerprint), a non-loopback join without TLS; with mutual TLS
#     a worker joins, one with another CA's certificate or without TLS does not.
#   test_cluster.sh PIO PIO_NODE REPO_ROOT
set -euo pipefail
pio="$1"; node_bin="$2"; root="$3"
source "$root/tests/cli/node_support.sh"
image="$root/assets/demo.jpg"
source "$root/tests/cli/cluster_support.sh"
"$pio" make-checkpoint --preset tiny --seed 5 --out "$work/tiny" 2>/dev/null

# A free loopback port (for a frontend restarted on the same one).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

front_port="$(free_port)"
start_frontend front "$front_port" --http-port 0
http="$(sed -n 's/^http listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$work/front.out")"
rss_kb="$(awk '/VmRSS/ {print $2}' "/proc/$front_pid/status")"
echo "frontend RSS: $((rss_kb / 1024)) MiB (no weights mapped: $(grep -c safetensors "/proc/$front_pid/maps" || true) mappings of .safetensors)"
grep -q safetensors "/proc/$front_pid/maps" && fail "the frontend mapped the weights"
# No worker yet: a request is refused at once (HTTP: 503 with Retry-After), not held.
timeout 30 "$pio" chat --node "127.0.0.1:$front_port" --prompt hi --max-tokens 2 >/dev/null 2>"$work/noworker.err" &&
  fail "a request with no worker succeeded"
grep -q "no worker" "$work/noworker.err" || fail "no worker: $(cat "$work/noworker.err")"
code="$(curl -s -D "$work/headers" -o "$work/body" -w '%{http_code}' -H 'Content-Type: application/json' \
  -d '{"model":"tiny","messages":[{"role":"user","content":"hi"}],"max_tokens":2}' "http://127.0.0.1:$http/v1/chat/completions")"
[ "$code" = 503 ] && grep -qi '^Retry-After:' "$work/headers" || fail "no worker over HTTP: $code $(cat "$work/body")"

start_worker w1; w1=$worker_pid
start_worker w2; w2=$worker_pid

# 16 concurrent requests over two workers, each equal to pio chat --model.
tokens=24 reference 16
tokens=24 streams loop 16
tokens=24 finish loop 16
"$pio" stats --node "127.0.0.1:$front_port" --json >"$work/stats.json"
python3 - "$work/stats.json" <<'EOF' || fail "stats: $(cat "$work/stats.json")"
import json, sys
workers = json.load(open(sys.argv[1]))["workers"]
assert len(workers) == 2, workers
assert all(w["placed"] > 0 for w in workers), workers
EOF
"$pio" stats --node "127.0.0.1:$front_port" | grep -q "^worker 2 " || fail "pio stats shows no worker line"
curl -s "http://127.0.0.1:$http/metrics" >"$work/metrics"
grep -q '^pio_worker_requests{worker="1"}' "$work/metrics" && grep -q '^pio_worker_kv_blocks{.*worker="2"' "$work/metrics" ||
  fail "/metrics has no per-worker series: $(grep worker "$work/metrics" | head -5)"

# kill -9 of a worker while 8 streams run: they continue on the other, unchanged.
tokens=$long_tokens topic=kill9 reference 8
tokens=$long_tokens topic=kill9 streams kill9 8
until_streaming kill9 8
kill -9 "$w1"
tokens=$long_tokens topic=kill9 finish kill9 8
grep -q "worker 1 left" "$work/front.err" || fail "the frontend did not notice the killed worker"
replica_resumed kill9 8
"$pio" stats --node "127.0.0.1:$front_port" >/dev/null
curl -s "http://127.0.0.1:$http/metrics" | grep -q 'worker="1"' && fail "/metrics still shows the killed worker"

# A worker joining under load takes new requests.
tokens=$long_tokens reference 8
tokens=$long_tokens streams join 8
join_pids=("${stream_pids[@]}")
start_worker w3; w3=$worker_pid
tokens=24 streams after-join 16
tokens=24 finish after-join 16
stream_pids=("${join_pids[@]}")
tokens=$long_tokens finish join 8
"$pio" stats --node "127.0.0.1:$front_port" --json >"$work/stats2.json"
python3 - "$work/stats2.json" <<'EOF' || fail "the joined worker took nothing: $(cat "$work/stats2.json")"
import json, sys
workers = {w["worker"]: w for w in json.load(open(sys.argv[1]))["workers"]}
assert 1 not in workers, "the killed worker is still listed"
assert workers[3]["placed"] > 0, workers
EOF

# SIGSTOP of a worker: noticed after the heartbeat timeout, its streams move; after SIGCONT
# it must not answer them again (the texts stay identical), and it rejoins by itself.
# The worker frozen is the one holding more of the streams: a worker that runs alone can finish
# its share of them before the freeze. The roles (and log names) of w2 and w3 below follow it.
tokens=$long_tokens topic=stop reference 8
tokens=$long_tokens topic=stop streams stop 8
until_streaming stop 8
n2=w2 n3=w3
"$pio" stats --node "127.0.0.1:$front_port" --json >"$work/stats-stop.json"
if python3 -c 'import json, sys
held = {w["worker"]: w["requests"] for w in json.load(open(sys.argv[1]))["workers"]}
sys.exit(0 if held.get(3, 0) > held.get(2, 0) else 1)' "$work/stats-stop.json"; then
  n2=w3 n3=w2
  swap=$w2 w2=$w3 w3=$swap
fi
kill -STOP "$w2"
tokens=$long_tokens topic=stop finish stop 8
replica_resumed stop 8
kill -CONT "$w2"
wait_joined "$n2" 2

# A draining worker (SIGTERM) finishes what it runs, loses none, and leaves.
tokens=$long_tokens streams drain 8
until_streaming drain 8
kill -TERM "$w3"
tokens=$long_tokens finish drain 8
for _ in $(seq 1 100); do kill -0 "$w3" 2>/dev/null || break; sleep 0.1; done
kill -0 "$w3" 2>/dev/null && fail "the drained worker did not exit"
grep -q "leaving" "$work/$n3.err" || fail "$n3: $(tail -3 "$work/$n3.err")"

# No worker left: the streams wait (within their deadline: none here) and resume on the next
# worker to join, unchanged.
tokens=$long_tokens streams orphans 4
until_streaming orphans 4
kill -9 "$w2"
sleep 2
start_worker w4; w4=$worker_pid
tokens=$long_tokens finish orphans 4

# The frontend killed mid-stream: its clients fail cleanly; a new frontend on the same port is
# joined by the workers by themselves and serves.
tokens=3000 streams lost-front 2  # long enough to be cut by the kill
until_streaming lost-front 2
kill -9 "$front_pid"
for p in "${stream_pids[@]}"; do wait "$p" && fail "a stream of the killed frontend succeeded"; done
start_frontend front2 "$front_port"
wait_joined w4 2
tokens=24 streams new-front 4
tokens=24 finish new-front 4

# Refusals: another checkpoint; a non-loopback join without TLS.
"$pio" make-checkpoint --preset tiny --seed 6 --out "$work/other" 2>/dev/null
status=0
timeout 60 "$node_bin" --role worker --join "127.0.0.1:$front_port" --model "$work/other" --threads 1 --no-cache \
  >/dev/null 2>"$work/other.err" || status=$?
[ "$status" = 3 ] || fail "a worker of another checkpoint: exit $status, $(cat "$work/other.err")"
grep -q "refused this worker: join refused: the worker's model fingerprint" "$work/other.err" ||
  fail "the refusal does not name the fingerprint in plain words: $(cat "$work/other.err")"
! grep -q "system_error" "$work/other.err" || fail "the refusal shows CAF's wrapper: $(cat "$work/other.err")"
status=0
"$node_bin" --role worker --join 10.255.255.1:7070 --model "$work/tiny" >/dev/null 2>"$work/insecure.err" || status=$?
[ "$status" = 2 ] && grep -q "not loopback" "$work/insecure.err" || fail "a plaintext non-loopback join: exit $status"
status=0
"$node_bin" --role frontend --model "$work/tiny" --host 0.0.0.0 --port 0 >/dev/null 2>"$work/insecure2.err" || status=$?
[ "$status" = 2 ] || fail "a plaintext non-loopback frontend: exit $status"
status=0
"$node_bin" --role frontend --model "$work/tiny" --api-key k --http-port 0 --port 0 >/dev/null 2>"$work/apikey.err" || status=$?
[ "$status" = 2 ] && grep -q "workers join" "$work/apikey.err" || fail "a frontend whose port --api-key closes: exit $status"

# Mutual TLS: a worker with the cluster's certificate joins; another CA's, or none, cannot.
"$root/scripts/make-certs" "$work/certs" node worker >/dev/null
"$root/scripts/make-certs" "$work/other-ca" worker >/dev/null
tls_port="$(free_port)"
front_port_plain="$front_port"
start_frontend tls-front "$tls_port" --tls-cert "$work/certs/node.pem" --tls-key "$work/certs/node.key" --tls-ca "$work/certs/ca.pem"
front_port="$tls_port"
start_worker tls-w --tls-cert "$work/certs/worker.pem" --tls-key "$work/certs/worker.key" --tls-ca "$work/certs/ca.pem"
"$node_bin" --role worker --join "127.0.0.1:$tls_port" --model "$work/tiny" --threads 1 --no-cache \
  --tls-cert "$work/other-ca/worker.pem" --tls-key "$work/other-ca/worker.key" --tls-ca "$work/other-ca/ca.pem" \
  >/dev/null 2>"$work/foreign.err" &
pids+=($!)
"$node_bin" --role worker --join "127.0.0.1:$tls_port" --model "$work/tiny" --threads 1 --no-cache \
  >/dev/null 2>"$work/plain.err" &
pids+=($!)
sleep 4
grep -q "as worker" "$work/foreign.err" && fail "a worker with another CA's certificate joined"
grep -q "as worker" "$work/plain.err" && fail "a plaintext worker joined a TLS frontend"
[ "$(grep -c 'joined$' "$work/tls-front.err")" = 1 ] || fail "the TLS frontend: $(grep joined "$work/tls-front.err")"
timeout 60 "$pio" chat --node "127.0.0.1:$tls_port" --tls-cert "$work/certs/worker.pem" --tls-key "$work/certs/worker.key" \
  --tls-ca "$work/certs/ca.pem" --prompt "Over TLS." --max-tokens 4 >/dev/null || fail "no answer over TLS"
front_port="$front_port_plain"
echo "PASS: cluster"
