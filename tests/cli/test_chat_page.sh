#!/usr/bin/env bash
# The chat page (GET /) driven in headless Chromium on the tiny checkpoint: a two-turn
# conversation with images, an error shown in place, a stop that cancels the request on the
# node, wrapping, the API key field on a node with --api-key, and screenshots
# (tests/http/chat_page_drive.mjs does the driving and the checks).
# Without chromium or node (scripts/test-tools installs them) it prints a SKIP line and exits 0.
# PIO_CHAT_PAGE_SCREENSHOTS=DIR keeps the screenshots (PNG) there.
#   test_chat_page.sh PIO PIO_NODE REPO_ROOT
set -euo pipefail
pio="$1"; node_bin="$2"; root="$3"
for tool in chromium node; do
  command -v "$tool" >/dev/null || { echo "SKIP: test_chat_page needs $tool (run scripts/test-tools)"; exit 0; }
done
node_http=1
source "$(dirname "${BASH_SOURCE[0]}")/node_support.sh"

"$pio" make-checkpoint --preset tiny --seed 5 --out "$work/tiny" 2>/dev/null
start_node keyed --api-key sekrit
keyed_http="$http"
start_node node --max-pixels 40000
shots="${PIO_CHAT_PAGE_SCREENSHOTS:-$work/shots}"
mkdir -p "$shots"
timeout 450 node "$root/tests/http/chat_page_drive.mjs" "http://127.0.0.1:$http" "http://127.0.0.1:$keyed_http" sekrit \
  "$work/chromium" "$shots" "$root/assets/demo.jpg" "$root/tests/data/image/pillow/rgb_37x23.png" \
  "$root/tests/data/image/pillow/bilevel_90x64.png" || fail "the chat page test failed"
for p in "${pids[@]}"; do kill -TERM "$p"; wait "$p" || fail "a node did not exit 0 on SIGTERM"; done
pids=()
echo "test_chat_page: all checks passed"
