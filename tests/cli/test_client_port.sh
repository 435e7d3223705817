#!/usr/bin/env bash
# The client-API port's security (issue 21 section 7): with --tls-cert/--tls-key/--tls-ca the
# node takes only clients whose certificate its CA signed (the answer equals the plain port's
# with the same seed; pio chat --node, pio stats, pio bench-serve), and refuses a plain client,
# a TLS client without a certificate and one from another CA with a clear error, serving on;
# a BASP header announcing 4 GiB sent to either port costs the node no memory, and the plain
# port closes a connection whose first frame CAF would trust to its harm (a segfault before);
# --api-key without TLS leaves the port closed (HTTP only); a non-loopback --host without TLS, a
# partial or mismatched set of TLS files exit 2; with `ulimit -n 64`, 100 idle connections neither make
# the node spin nor hang a client, and are shut down after 10 s of silence.
#   test_client_port.sh PIO PIO_NODE REPO_ROOT
set -euo pipefail
pio="$1"; node_bin="$2"; root="$3"
source "$root/tests/cli/node_support.sh"
peer() { python3 "$root/tests/cli/raw_peer.py" "$@"; }
"$pio" make-checkpoint --preset tiny --seed 5 --out "$work/tiny" 2>/dev/null
"$root/scripts/make-certs" "$work/certs" >/dev/null
"$root/scripts/make-certs" "$work/other" >/dev/null
tls_node=(--tls-cert "$work/certs/node.pem" --tls-key "$work/certs/node.key" --tls-ca "$work/certs/ca.pem")
tls_client=(--tls-cert "$work/certs/client.pem" --tls-key "$work/certs/client.key" --tls-ca "$work/certs/ca.pem")
ask() { timeout 60 "$pio" chat --node "127.0.0.1:$port" --prompt "Say something." --max-tokens 12 --temperature 0.8 --seed 11 "$@"; }

# The plain loopback port's answer, the reference.
start_node plain
ask >"$work/plain.txt" || fail "plain port: chat failed"
[ -s "$work/plain.txt" ] || fail "plain port: empty answer"

# First frames that CAF 0.17.6 trusts, sent to the plain port: a server handshake header without
# payload (CAF read a null payload: the node died of a segmentation fault), a client handshake
# without one, and one announcing 4 GiB (CAF allocated it). Each connection is closed at its
# header, said on stderr; the node allocates nothing and answers as before.
for how in crash empty; do
  closed="$(peer frame "$port" "$how")"
  [ "$closed" = closed ] || fail "a $how first frame to the plain port: $closed"
done
grown="$(peer bomb "$port" "$node_pid")"
echo "4 GiB header (raw) to the plain port: RSS grew $grown MiB"
[ "$grown" -lt 64 ] || fail "a 4 GiB BASP header grew the plain node by $grown MiB"
kill -0 "$node_pid" 2>/dev/null || fail "the plain node died of a hostile frame: $(tail -3 "$work/plain.err")"
for why in "its first frame is not a client handshake (operation 0)" "a client handshake has no payload" \
  "a client handshake announces 4294967295 bytes (at most 65536)"; do
  grep -qF "pio-node: closed a client-API connection: $why" "$work/plain.err" || fail "not said: $why: $(cat "$work/plain.err")"
done
ask >"$work/plain-after.txt" || fail "plain port: chat failed after the hostile frames"
cmp -s "$work/plain.txt" "$work/plain-after.txt" || fail "the answer changed after the hostile frames"
kill -9 "$node_pid"

# Mutual TLS: the same answer; stats and the serving benchmark work with the certificates.
start_node tls "${tls_node[@]}"
grep -q "client-API port: mutual TLS" "$work/tls.err" || fail "the TLS node does not say so: $(cat "$work/tls.err")"
ask "${tls_client[@]}" >"$work/tls.txt" || fail "TLS: chat failed"
cmp -s "$work/plain.txt" "$work/tls.txt" || fail "TLS answer differs: $(cat "$work/tls.txt") vs $(cat "$work/plain.txt")"
timeout 60 "$pio" stats --node "127.0.0.1:$port" --json "${tls_client[@]}" | grep -q '"kv_blocks_total"' || fail "TLS: stats failed"
timeout 60 "$pio" bench-serve --node "127.0.0.1:$port" --requests 2 --max-tokens 4 --json "${tls_client[@]}" >"$work/bench.json" \
  || fail "TLS: bench-serve failed"
grep -q '"errors": 0' "$work/bench.json" || fail "TLS bench-serve: $(cat "$work/bench.json")"
# Nearest-rank percentiles: of two requests' TTFTs, p50 is the lower and p99 the higher.
python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); sys.exit(0 if r["ttft_ms_p50"] < r["ttft_ms_p99"] else 1)' \
  "$work/bench.json" || fail "bench-serve's p50 is not below its p99 over two requests: $(cat "$work/bench.json")"

# Refused, quickly and clearly; the node serves on.
refused() {  # refused LABEL EXPECTED CHAT_ARGS...
  local label="$1" expected="$2"; shift 2
  status=0; ask "$@" >/dev/null 2>"$work/refused.err" || status=$?
  [ "$status" = 1 ] || fail "$label: exit $status (124: it hung)"
  grep -q -- "$expected" "$work/refused.err" || fail "$label: $(cat "$work/refused.err")"
}
refused "plain client" "the peer closed the connection during the handshake (a TLS port needs --tls-cert"
refused "another cluster's client" "the peer closed the connection during the handshake (the node refused this certificate" \
  --tls-cert "$work/other/client.pem" --tls-key "$work/other/client.key" --tls-ca "$work/other/ca.pem"
refused "another cluster's certificate with this CA" "is not accepted by --tls-ca" \
  --tls-cert "$work/other/client.pem" --tls-key "$work/other/client.key" --tls-ca "$work/certs/ca.pem"
status=0; ask --tls-cert "$work/certs/client.pem" >/dev/null 2>"$work/half.err" || status=$?
[ "$status" = 2 ] && grep -q "requires" "$work/half.err" || fail "a client with half the TLS flags: exit $status: $(cat "$work/half.err")"
nocert="$(peer nocert "$port")"
case "$nocert" in refused*|"got 0 bytes") ;; *) fail "a TLS client without a certificate: $nocert" ;; esac
ask "${tls_client[@]}" >/dev/null || fail "the TLS node stopped serving after refusals"

# An unauthenticated BASP header announcing 4 GiB, raw and inside anonymous TLS: no allocation
# (the plain port commits 4 GB for it), and the node serves on.
for how in raw tls; do
  grown="$(peer bomb "$port" "$node_pid" $how)"
  echo "4 GiB header ($how) to the TLS port: RSS grew $grown MiB"
  [ "$grown" -lt 64 ] || fail "a $how 4 GiB BASP header grew the TLS node by $grown MiB"
done
ask "${tls_client[@]}" >/dev/null || fail "the TLS node stopped serving after the 4 GiB headers"
kill -9 "$node_pid"

# --api-key without TLS: no client port at all (only the HTTP listener), said at start; with
# TLS the port opens; with no --http-port either, nothing to serve: exit 2.
listening_sockets() {  # the TCP sockets PID listens on
  local inodes n=0
  inodes="$(find "/proc/$1/fd" -lname 'socket:*' -printf '%l\n' 2>/dev/null | tr -dc '0-9\n')"
  for i in $inodes; do awk -v i="$i" '$4 == "0A" && $10 == i' /proc/net/tcp /proc/net/tcp6 | grep -q . && n=$((n + 1)); done
  echo "$n"
}
start_node keyed --api-key secret --http-port 0
[ -z "$port" ] || fail "--api-key without TLS opened the client port"
grep -q "^client port: off (--api-key without TLS)" "$work/keyed.out" || fail "keyed: $(cat "$work/keyed.out")"
grep -q "^http listening on 127.0.0.1:" "$work/keyed.out" || fail "keyed: no HTTP: $(cat "$work/keyed.out")"
grep -q "client-API port stays closed" "$work/keyed.err" || fail "keyed: not said: $(cat "$work/keyed.err")"
[ "$(listening_sockets "$node_pid")" = 1 ] || fail "keyed: the node listens on $(listening_sockets "$node_pid") sockets, not the HTTP one alone"
kill -9 "$node_pid"
start_node keyed-tls --api-key secret --http-port 0 "${tls_node[@]}"
[ -n "$port" ] || fail "--api-key with TLS: no client port"
[ "$(listening_sockets "$node_pid")" = 2 ] || fail "keyed-tls: $(listening_sockets "$node_pid") listening sockets"
ask "${tls_client[@]}" >/dev/null || fail "--api-key with TLS: chat failed"
kill -9 "$node_pid"
start_fails() {  # start_fails LABEL EXPECTED NODE_ARGS...: exit 2 before loading anything
  local label="$1" expected="$2"; shift 2
  status=0; timeout 60 "$node_bin" --model "$work/tiny" --port 0 --cache-dir "$work/cache-start" "$@" >/dev/null 2>"$work/start.err" || status=$?
  [ "$status" = 2 ] || fail "$label: exit $status"
  grep -q -- "$expected" "$work/start.err" || fail "$label: $(cat "$work/start.err")"
}
start_fails "--api-key alone" "nothing would be served" --api-key secret
start_fails "non-loopback host" "--host 0.0.0.0 is not loopback: the client-API port needs --tls-cert" --host 0.0.0.0
start_fails "half the TLS flags" "requires" --tls-cert "$work/certs/node.pem"
start_fails "another pair's key" "is not the key of" --tls-cert "$work/certs/node.pem" --tls-key "$work/other/node.key" \
  --tls-ca "$work/certs/ca.pem"
start_node loopback8 --host 127.0.0.2  # all of 127/8 is loopback
kill -9 "$node_pid"

# Descriptors exhausted: under `ulimit -n 64`, 100 idle connections leave the node idle (CAF
# alone spins at ~0.5-0.8 of a core), a client fails at once instead of hanging; connections
# quiet for 10 s are shut down, so clients get in again while the idle ones are still held.
printf '#!/bin/sh\nulimit -n 64\nexec "%s" "$@"\n' "$node_bin" >"$work/node-64"
chmod +x "$work/node-64"
node_bin="$work/node-64" start_node limited
grep -q "open files *64 *64" "/proc/$node_pid/limits" || fail "the node's descriptor limit is not 64: $(grep 'open files' "/proc/$node_pid/limits")"
peer idle "$port" 100 20 "$node_pid" >"$work/idle.cpu" &
idle_pid=$!
pids+=("$idle_pid")
sleep 1
status=0; ask >/dev/null 2>"$work/full.err" || status=$?
[ "$status" = 1 ] || fail "a client during descriptor exhaustion: exit $status (0: it waited for a descriptor; 124: it hung)"
grep -q "cannot reach a node" "$work/full.err" || fail "descriptor exhaustion: $(cat "$work/full.err")"
sleep 11
ask >/dev/null 2>&1 || { sleep 2; ask >/dev/null; } || fail "quiet connections were not shut down after 10 s"
kill -0 "$idle_pid" 2>/dev/null || fail "the idle connections were no longer held when the client got in"
wait "$idle_pid" || fail "the idle connections failed"
echo "100 idle connections under ulimit -n 64: the node used $(cat "$work/idle.cpu") s of CPU in 20 s"
awk '{ exit !($1 < 1.5) }' "$work/idle.cpu" || fail "the node spins: $(cat "$work/idle.cpu") s of CPU in 20 s"
ask >/dev/null || fail "the node does not serve after the idle connections closed"
echo "test_client_port: all checks passed"
