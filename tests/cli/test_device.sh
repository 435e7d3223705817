#!/usr/bin/env bash
# --device on pio generate/logits/bench and pio-node, on a machine without a usable CUDA device:
# cuda exits 1 with a clear error, auto runs on the CPU with one log line saying why and answers
# as --device cpu does (which prints no device line), an unknown device is refused (exit 2);
# --gpu-layers, --gpu-vision and --deterministic are checked as below.
# On a machine with an NVIDIA device the cuda refusal is skipped, with a line saying so.
#   test_device.sh PIO PIO_NODE
set -euo pipefail
pio="$1"; node_bin="$2"
source "$(dirname "${BASH_SOURCE[0]}")/node_support.sh"

"$pio" make-checkpoint --preset tiny --seed 5 --out "$work/tiny" 2>/dev/null
ids="1,2,3,4"
gen() { "$pio" generate --model "$work/tiny" --ids "$ids" --max-tokens 4 "$@"; }
device_lines() { grep -c 'device: ' "$1" || true; }

gen --device cpu >"$work/cpu.out" 2>"$work/cpu.err" || fail "generate --device cpu failed: $(cat "$work/cpu.err")"
[ "$(device_lines "$work/cpu.err")" = 0 ] || fail "--device cpu printed a device line: $(cat "$work/cpu.err")"

gen --device auto >"$work/auto.out" 2>"$work/auto.err" || fail "generate --device auto failed: $(cat "$work/auto.err")"
[ "$(device_lines "$work/auto.err")" = 1 ] || fail "--device auto: not one device line: $(cat "$work/auto.err")"
grep -q '^pio: device: cpu (--device auto: .*CUDA' "$work/auto.err" || fail "--device auto: no reason: $(cat "$work/auto.err")"
cmp -s "$work/cpu.out" "$work/auto.out" || fail "--device auto answered otherwise than --device cpu"
gen >"$work/default.out" 2>"$work/default.err" || fail "generate without --device failed"
grep -q '^pio: device: cpu (--device auto: ' "$work/default.err" || fail "the default is not auto: $(cat "$work/default.err")"
"$pio" logits --model "$work/tiny" --ids "$ids" --device auto --out "$work/l.json" 2>"$work/logits.err" ||
  fail "logits --device auto failed: $(cat "$work/logits.err")"

set +e
gen --device gpu >/dev/null 2>"$work/bad.err"; rc=$?
set -e
[ "$rc" = 2 ] || fail "--device gpu: exit $rc, not 2"

# --gpu-layers, --gpu-vision and --deterministic: on the CPU the whole model already runs there
# and every kernel has a fixed order, so auto, 0, off and the flag change nothing (the same
# answer, no offload line); asking for the device with --device cpu is a usage error (exit 2),
# as is a value that is neither a count nor auto/on/off.
gen --device cpu --gpu-layers 0 --gpu-vision off --deterministic >"$work/flags.out" 2>"$work/flags.err" ||
  fail "generate --gpu-layers 0 --gpu-vision off --deterministic failed: $(cat "$work/flags.err")"
cmp -s "$work/cpu.out" "$work/flags.out" || fail "--gpu-layers 0 --gpu-vision off --deterministic changed the CPU's answer"
! grep -q 'offload: ' "$work/flags.err" || fail "an offload line on the CPU: $(cat "$work/flags.err")"
expect_usage_error() {  # WHAT COMMAND...: exit 2 naming WHAT
  local what="$1"; shift
  set +e; "$@" >/dev/null 2>"$work/usage.err"; local rc=$?; set -e
  [ "$rc" = 2 ] && grep -q -- "$what" "$work/usage.err" || fail "$*: exit $rc: $(cat "$work/usage.err")"
}
expect_usage_error gpu-vision gen --device cpu --gpu-vision on
expect_usage_error gpu-layers gen --device cpu --gpu-layers 3
expect_usage_error gpu-vision gen --gpu-vision sideways
expect_usage_error gpu-layers gen --gpu-layers many
expect_usage_error gpu-layers gen --gpu-layers -1
expect_usage_error gpu-vision "$node_bin" --model "$work/tiny" --port 0 --no-cache --device cpu --gpu-vision on
expect_usage_error gpu-layers "$node_bin" --model "$work/tiny" --port 0 --no-cache --device cpu --gpu-layers 2

if nvidia-smi -L >/dev/null 2>&1; then
  echo "SKIP: the --device cuda refusals: this machine has an NVIDIA device"
else
  set +e
  gen --device cuda >/dev/null 2>"$work/cuda.err"; rc=$?
  "$pio" bench --model "$work/tiny" --device cuda --no-vision >/dev/null 2>"$work/bench.err"; bench_rc=$?
  "$node_bin" --model "$work/tiny" --port 0 --no-cache --device cuda >/dev/null 2>"$work/node-cuda.err"; node_rc=$?
  set -e
  [ "$rc" = 1 ] || fail "generate --device cuda without a device: exit $rc, not 1"
  grep -Eq '^pio: error: (no usable CUDA device|this build has no CUDA backend)' "$work/cuda.err" ||
    fail "generate --device cuda: unclear error: $(cat "$work/cuda.err")"
  [ "$bench_rc" = 1 ] && grep -q '^pio: error: .*CUDA' "$work/bench.err" ||
    fail "bench --device cuda: exit $bench_rc: $(cat "$work/bench.err")"
  [ "$node_rc" = 1 ] && grep -q 'pio-node: error: .*CUDA' "$work/node-cuda.err" ||
    fail "pio-node --device cuda: exit $node_rc: $(cat "$work/node-cuda.err")"
  # auto fell back to the CPU: layers or the tower cannot be asked onto a device there (exit 1,
  # saying why).
  set +e
  gen --device auto --gpu-vision on >/dev/null 2>"$work/auto-vis.err"; rc=$?
  gen --device auto --gpu-layers 1 >/dev/null 2>"$work/auto-layers.err"; layers_rc=$?
  set -e
  [ "$rc" = 1 ] && grep -q '^pio: error: --gpu-vision on needs a CUDA device' "$work/auto-vis.err" ||
    fail "--device auto --gpu-vision on without a device: exit $rc: $(cat "$work/auto-vis.err")"
  [ "$layers_rc" = 1 ] && grep -q '^pio: error: --gpu-layers 1 needs a CUDA device' "$work/auto-layers.err" ||
    fail "--device auto --gpu-layers 1 without a device: exit $layers_rc: $(cat "$work/auto-layers.err")"
fi

# The node on auto serves on the CPU and says why once, before loading.
start_node node --device auto
[ "$(device_lines "$work/node.err")" = 1 ] || fail "pio-node --device auto: not one device line"
grep -q '^pio-node: device: cpu (--device auto: .*CUDA' "$work/node.err" || fail "pio-node: no reason for the CPU"
timeout 120 "$pio" chat --node "127.0.0.1:$port" --prompt "Hi." --max-tokens 4 >"$work/chat.out" ||
  fail "chat through the node on --device auto failed"
[ -s "$work/chat.out" ] || fail "empty answer from the node on --device auto"
echo "PASS"
