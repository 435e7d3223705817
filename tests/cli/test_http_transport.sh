#!/usr/bin/env bash
# The HTTP transport's bounds (issue 23 §1), end to end on the tiny checkpoint with raw sockets
# (http_peer.py): a 300 MiB chunked body over --max-body-mb 1 gets 413 without the node's RSS
# growing, and 401 unread on a node with --api-key; a 200 MiB header line with no newline and
# too many header fields get 431; a request trickled in is cut at --http-read-timeout; three
# pipelined requests get three answers in order; a stream to an HTTP/1.0 client is not chunked
# and ends by closing; HEAD answers GET's header; 64 simultaneous connects are accepted at once;
# connections past the open connection cap or the descriptor limit get 429, none is reset; a
# short wrk run sees only 2xx.
#   test_http_transport.sh PIO PIO_NODE REPO_ROOT
set -euo pipefail
pio="$1"; node_bin="$2"; root="$3"
node_http=1
source "$(dirname "${BASH_SOURCE[0]}")/node_support.sh"
step() { echo "test_http_transport: $(date +%T) $*"; }
peer() { timeout 120 python3 "$root/tests/cli/http_peer.py" "$@"; }
field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" <<<"$2"; }  # field NAME LINE: NAME=VALUE's value

"$pio" make-checkpoint --preset tiny --seed 5 --out "$work/tiny" 2>/dev/null
start_node main --max-body-mb 1 --http-read-timeout 2

step "a 300 MiB chunked body over --max-body-mb 1: 413, not buffered"
out="$(peer chunked "$http" "$node_pid" 300)"
echo "  $out"
[ "$(field status "$out")" = 413 ] || fail "chunked body over the limit: $out"
[ "$(field rss_growth_mb "$out")" -lt 64 ] || fail "the node's RSS grew with the chunked body: $out"

step "a declared length over --max-body-mb 1: 413; every 413 counted under its endpoint"
head -c 1100000 /dev/zero | tr '\0' 'x' >"$work/big.txt"
code="$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' --data-binary @"$work/big.txt" \
  "http://127.0.0.1:$http/v1/chat/completions")"
[ "$code" = 413 ] || fail "a body over the limit with Content-Length: $code"
curl -s "http://127.0.0.1:$http/metrics" >"$work/metrics.txt"
grep -q '^pio_http_requests_total{code="413",endpoint="/v1/chat/completions"} 2' "$work/metrics.txt" ||
  fail "the two 413s are not counted under /v1/chat/completions: $(grep 'code="413"' "$work/metrics.txt")"

step "a 200 MiB header line with no newline: 431, not buffered"
out="$(peer longline "$http" "$node_pid" 200)"
echo "  $out"
[ "$(field status "$out")" = 431 ] || fail "an unbounded header line: $out"
[ "$(field rss_growth_mb "$out")" -lt 64 ] || fail "the node's RSS grew with the header line: $out"

step "header fields: 50 served, 150 refused with 431"
[ "$(peer fields "$http" 50)" = "status=200" ] || fail "50 header fields were not served"
[ "$(peer fields "$http" 150)" = "status=431" ] || fail "150 header fields were not refused with 431"

step "a request trickled a byte every 0.2 s is cut at --http-read-timeout 2"
out="$(peer slow "$http" 10)"
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) <= 4 else 1)" "$(field closed_after "$out")" ||
  fail "a slow request held its connection: $out"

step "three pipelined requests: three answers, in order"
out="$(peer pipeline "$http")"
[ "$out" = "200 chat.completion | 200 stream [DONE] | 200 list" ] || fail "pipelined requests: $out"

step "a stream to an HTTP/1.0 client: not chunked, ended by closing"
out="$(peer http10 "$http")"
[ "$out" = "status=200 chunked=no done=yes closed=yes" ] || fail "HTTP/1.0 stream: $out"

step "HEAD /health: the header of GET's answer"
[ "$(curl -s -I -o "$work/head.txt" -w '%{http_code}' "http://127.0.0.1:$http/health")" = 200 ] || fail "HEAD /health"
grep -qi '^Content-Length: 15' "$work/head.txt" || fail "HEAD /health: $(cat "$work/head.txt")"

step "64 simultaneous connects are accepted at once"
out="$(peer connects "$http" 64)"
echo "  $out"
[ "$(field statuses "$out")" = 200 ] || fail "64 connections: $out"
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < 0.5 else 1)" "$(field max_connect_s "$out")" ||
  fail "a connect waited for the listen backlog: $out"

step "wrk: 16 connections for 3 s, only 2xx"
timeout 60 wrk -t2 -c16 -d3s -s "$root/tests/http/wrk_chat.lua" "http://127.0.0.1:$http/v1/chat/completions" >"$work/wrk.out"
grep -q "requests in" "$work/wrk.out" || fail "wrk: $(cat "$work/wrk.out")"
! grep -qE "Non-2xx|Socket errors" "$work/wrk.out" || fail "wrk saw errors: $(cat "$work/wrk.out")"
grep "Requests/sec" "$work/wrk.out" | sed 's/^/  wrk /'

step "--api-key: a 300 MiB chunked body without the key is refused with 401 before it is read"
start_node keyed --api-key sekrit --max-connections 2
out="$(peer chunked "$http" "$node_pid" 300)"
echo "  $out"
[ "$(field status "$out")" = 401 ] || fail "chunked body without the key: $out"
[ "$(field rss_growth_mb "$out")" -lt 64 ] || fail "the keyed node's RSS grew with the body: $out"

step "past the open-connection cap (4 x --max-connections 2): 429, none reset"
sleep 1.5  # the refused connection above is closed
out="$(peer hold "$http" 12)"
echo "  $out"
[ "$(field reset "$out")" = 0 ] && [ "$(field other "$out")" = 0 ] || fail "connections past the cap: $out"
[ "$(field served "$out")" = 8 ] && [ "$(field refused "$out")" = 4 ] || fail "connections past the cap: $out"

step "past the descriptor limit (300): 429, none reset"
printf '#!/bin/sh\nexec prlimit --nofile=300:300 "%s" "$@"\n' "$node_bin" >"$work/limited-node"
chmod +x "$work/limited-node"
node_bin="$work/limited-node" start_node limited --max-connections 1024
out="$(peer hold "$http" 290)"
echo "  $out"
[ "$(field reset "$out")" = 0 ] && [ "$(field other "$out")" = 0 ] || fail "connections past the descriptor limit: $out"
[ "$(field refused "$out")" -ge 1 ] && [ "$(field served "$out")" -ge 100 ] || fail "connections past the descriptor limit: $out"

kill -TERM "$node_pid"
wait "$node_pid" || fail "the node did not exit 0 on SIGTERM"
echo "test_http_transport: all checks passed"
