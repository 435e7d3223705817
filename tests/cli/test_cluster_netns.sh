#!/usr/bin/env bash
# Multi-process serving across machines, simulated (issue 22): the frontend and each of two
# workers in a network namespace of its own, joined by veth pairs to a bridge in the frontend's
# namespace on a private subnet, so their traffic is real non-loopback TCP, with mutual TLS. The
# clients run in the frontend's namespace.
#   * while 8 streams run (greedy and seeded sampled, some with an image), one worker's link is
#     cut (its bridge port set down: no FIN, no RST, the packets just go nowhere): the frontend
#     says the worker left within heartbeat timeout + interval + margin (4 s; the figure is
#     printed), its requests move, and every stream completes with text identical to
#     `pio chat --model`;
#   * the link restored, the worker joins again by itself and serves;
#   * refusals: a plaintext non-loopback join without --insecure exits 2; with --insecure against
#     the TLS frontend it never joins (it tries while streams run: they are not disturbed).
# Making namespaces needs root (CI runs as root); without it this prints a SKIP line and exits 0.
#   test_cluster_netns.sh PIO PIO_NODE REPO_ROOT
set -euo pipefail
pio="$1"; node_bin="$2"; root="$3"
source "$root/tests/cli/node_support.sh"
image="$root/assets/demo.jpg"
subnet=10.199.0
front_host="$subnet.1"
source "$root/tests/cli/cluster_support.sh"

# Names unique to this run (the random part of $work), removed at exit whatever happens; the
# interfaces are made inside the namespaces, so their names cannot clash.
tag="pio-${work##*.}"
ns_front="$tag-front"; ns_w1="$tag-w1"; ns_w2="$tag-w2"
namespaces=()
cleanup_more() { for n in "${namespaces[@]}"; do ip netns del "$n" 2>/dev/null || true; done; }
trap 'exit 130' INT
trap 'exit 143' TERM
if ! ip netns add "$ns_front" 2>"$work/netns.err"; then
  echo "SKIP: test_cluster_netns needs to make network namespaces (run as root): $(cat "$work/netns.err")"
  exit 0
fi
namespaces+=("$ns_front")

# The network: a bridge br0 ($front_host) in the frontend's namespace; worker I at $subnet.(I+1)
# on eth0, whose peer pI is a port of the bridge. Every namespace has its loopback up.
ip -n "$ns_front" link set lo up
ip -n "$ns_front" link add br0 type bridge
ip -n "$ns_front" addr add "$front_host/24" dev br0
ip -n "$ns_front" link set br0 up
for i in 1 2; do
  n="$tag-w$i"
  ip netns add "$n"
  namespaces+=("$n")
  ip -n "$n" link set lo up
  ip -n "$ns_front" link add "p$i" type veth peer name eth0 netns "$n"
  ip -n "$ns_front" link set "p$i" master br0 up
  ip -n "$n" addr add "$subnet.$((i + 1))/24" dev eth0
  ip -n "$n" link set eth0 up
done

"$pio" make-checkpoint --preset tiny --seed 5 --out "$work/tiny" 2>/dev/null
"$root/scripts/make-certs" "$work/certs" node worker1 worker2 client >/dev/null
# tls NAME: the TLS options of certificate NAME in $tls_args.
tls() { tls_args=(--tls-cert "$work/certs/$1.pem" --tls-key "$work/certs/$1.key" --tls-ca "$work/certs/ca.pem"); }
tls client
client_tls=("${tls_args[@]}")
client_ns="$ns_front"

# worker_id NAME: the id the frontend gave the worker at its last join.
worker_id() { sed -n 's/.* as worker \([0-9]*\)$/\1/p' "$work/$1.err" | tail -1; }

# Round robin: each worker surely holds streams at the cut and takes some after its rejoin
# (prefix_affinity would keep these prompts on the worker that served them before).
tls node
ns="$ns_front" start_frontend front 0 --router round_robin "${tls_args[@]}"
tls worker1
ns="$ns_w1" start_worker w1 "${tls_args[@]}"
tls worker2
ns="$ns_w2" start_worker w2 "${tls_args[@]}"
w1_id="$(worker_id w1)"; w2_id="$(worker_id w2)"
# The workers' connections arrive from their own addresses, over the bridge.
ip netns exec "$ns_front" ss -Htn state established "( sport = :$front_port )" >"$work/ss.txt"
for i in 1 2; do
  grep -q "$subnet.$((i + 1)):" "$work/ss.txt" || fail "no connection from worker $i's address: $(cat "$work/ss.txt")"
done

# Cut worker 1's link while 8 streams run; time from the cut to the frontend's "left" line.
tokens=$long_tokens reference 8
tokens=$long_tokens streams cut 8
until_streaming cut 8
cut_ns="$(date +%s%N)"
ip -n "$ns_front" link set p1 down
detected=""
for _ in $(seq 1 1000); do
  if grep -q "worker $w1_id left" "$work/front.err"; then detected="$(date +%s%N)"; break; fi
  sleep 0.01
done
[ -n "$detected" ] || fail "the frontend did not say worker $w1_id left within 10 s of the cut"
ms=$(((detected - cut_ns) / 1000000))
left_line="$(grep "worker $w1_id left" "$work/front.err")"
echo "link cut -> '$left_line' after $((ms / 1000)).$(printf %03d $((ms % 1000))) s (limit 4 s: heartbeat timeout 2 s + interval 0.5 s + margin)"
[ "$ms" -le 4000 ] || fail "the cut-off worker was noticed after $ms ms"
moved="$(sed -n "s/.*worker $w1_id left (.*); \([0-9]*\) of its requests move.*/\1/p" "$work/front.err")"
[ "${moved:-0}" -gt 0 ] || fail "the cut-off worker held no stream: $left_line"
tokens=$long_tokens finish cut 8
grep -q "lost the front end" "$work/w1.err" || fail "the cut-off worker did not notice: $(tail -3 "$work/w1.err")"
grep -q "worker $w2_id left" "$work/front.err" && fail "the worker still linked was dropped"

# The link back: worker 1 joins again by itself (backoff at most 4 s x 1.25) and serves.
ip -n "$ns_front" link set p1 up
wait_joined w1 2
w1_id="$(worker_id w1)"

# Refusals. A plaintext join of a non-loopback address without --insecure: exit 2 at once.
status=0
ip netns exec "$ns_w2" "$node_bin" --role worker --join "$front_host:$front_port" --model "$work/tiny" --no-cache \
  >/dev/null 2>"$work/plain.err" || status=$?
[ "$status" = 2 ] && grep -q "not loopback" "$work/plain.err" ||
  fail "a plaintext non-loopback join: exit $status, $(cat "$work/plain.err")"
# With --insecure against the TLS frontend: its handshakes are dropped and it never joins (it
# keeps trying with backoff); 8 streams run between its tries, undisturbed.
ip netns exec "$ns_w2" "$node_bin" --role worker --join "$front_host:$front_port" --model "$work/tiny" --threads 1 \
  --no-cache --insecure >/dev/null 2>"$work/insecure.err" &
insecure_pid=$!
pids+=("$insecure_pid")
# tries_at_least N: until the --insecure worker said N times that it cannot reach the frontend.
tries_at_least() {
  for _ in $(seq 1 300); do
    local tries
    tries="$(grep -c 'cannot reach the front end' "$work/insecure.err" 2>/dev/null || true)"  # empty before the log exists
    [ "${tries:-0}" -ge "$1" ] && return 0
    grep -qs "as worker" "$work/insecure.err" && fail "a plaintext worker joined the TLS frontend"
    kill -0 "$insecure_pid" 2>/dev/null || fail "the --insecure worker exited: $(cat "$work/insecure.err")"
    sleep 0.1
  done
  fail "the --insecure worker did not try to join: $(cat "$work/insecure.err")"
}
tries_at_least 1
tokens=24 reference 8
tokens=24 streams rejoined 8
tokens=24 finish rejoined 8
tries_at_least 3
grep -q "is not encrypted" "$work/insecure.err" || fail "no warning of --insecure: $(cat "$work/insecure.err")"
grep -q "as worker" "$work/insecure.err" && fail "a plaintext worker joined the TLS frontend"
[ "$(grep -c ' joined$' "$work/front.err")" = 3 ] || fail "the frontend's joins: $(grep joined "$work/front.err")"
[ "$(grep -c ' left (' "$work/front.err")" = 1 ] || fail "the frontend's leaves: $(grep ' left (' "$work/front.err")"
ip netns exec "$ns_front" "$pio" stats --node "$front_host:$front_port" "${client_tls[@]}" --json >"$work/stats.json" ||
  fail "pio stats over TLS failed"
python3 - "$work/stats.json" "$w1_id" "$w2_id" <<'EOF' || fail "stats: $(cat "$work/stats.json")"
import json, sys
workers = {w["worker"]: w for w in json.load(open(sys.argv[1]))["workers"]}
assert set(workers) == {int(sys.argv[2]), int(sys.argv[3])}, workers
assert workers[int(sys.argv[2])]["placed"] > 0, "the rejoined worker took nothing"
EOF
echo "PASS: cluster_netns"
