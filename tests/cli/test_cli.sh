#!/usr/bin/env bash
# End-to-end checks of the `pio` binary on a fresh tiny checkpoint: the commands a user types,
# their outputs agreeing with each other, and clear refusals.
#   test_cli.sh PIO_BINARY REPO_ROOT
set -euo pipefail
pio="$1"
root="$2"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
image="$root/assets/demo.jpg"
fail() { echo "FAIL: $*" >&2; exit 1; }
expect_error() {  # expect_error "message part" command...
  local want="$1"; shift
  if "$@" >"$work/out" 2>"$work/err"; then fail "succeeded: $*"; fi
  grep -qF -- "$want" "$work/err" || fail "error of '$*' lacks '$want': $(cat "$work/err")"
}

"$pio" make-checkpoint --preset tiny --seed 3 --out "$work/tiny" 2>/dev/null
"$pio" make-checkpoint --preset tiny --seed 3 --text-only --out "$work/text" 2>/dev/null

# Chat streams an answer and reports every stage's timing.
"$pio" chat --model "$work/tiny" --image "$image" --prompt "Describe this image." --max-tokens 6 \
  --temperature 0.8 --seed 5 --verbose >"$work/chat.out" 2>"$work/chat.err"
[ -s "$work/chat.out" ] || fail "chat printed no answer"
for stage in "preprocess:" "vision encode:" "prefill (to first token):" "decode:" "images: 1"; do
  grep -qF "$stage" "$work/chat.err" || fail "chat --verbose lacks '$stage'"
done
# Same seed, same answer.
"$pio" chat --model "$work/tiny" --image "$image" --prompt "Describe this image." --max-tokens 6 \
  --temperature 0.8 --seed 5 >"$work/chat2.out" 2>/dev/null
cmp -s "$work/chat.out" "$work/chat2.out" || fail "sampled chat with one seed differs between runs"

# Two images of different sizes and a system prompt in one turn.
"$pio" chat --model "$work/tiny" --image "$image" --image "$root/tests/data/image/pillow/rgb_128x128.png" \
  --max-pixels 20000 --system "Be brief." --prompt "Compare the images." --max-tokens 3 --verbose \
  >/dev/null 2>"$work/two.err"
grep -qF "images: 2" "$work/two.err" || fail "two-image chat: $(cat "$work/two.err")"

# preprocess: the demo image (320x240) rounds to 256x320 pixels, 16x20 patches, at the default
# budget; with --max-pixels 20000 it scales by sqrt(76800/20000) and floors to 96x160: 6x10.
"$pio" preprocess --model "$work/tiny" --image "$image" --out "$work/pix.json"
grep -q '"grid_thw": *\[ *1, *16, *20 *\]' "$work/pix.json" || fail "unexpected grid: $(head -c 80 "$work/pix.json")"
"$pio" preprocess --model "$work/tiny" --image "$image" --max-pixels 20000 --out "$work/small.json"
grep -q '"grid_thw": *\[ *1, *6, *10 *\]' "$work/small.json" || fail "--max-pixels ignored: $(head -c 80 "$work/small.json")"

# An image prompt: <|im_start|>user\n <vision> Describe. <|im_end|>\n <|im_start|>assistant\n
ids=151644,872,198,151652,151655,151653,74785,13,151645,198,151644,77091,198
"$pio" encode-image --model "$work/tiny" --image "$image" --out "$work/embeds.safetensors" 2>/dev/null
"$pio" logits --model "$work/tiny" --ids "$ids" --image "$image" --out "$work/l_image.json"
"$pio" logits --model "$work/tiny" --ids "$ids" --image-embeds "$work/embeds.safetensors" --out "$work/l_embeds.json"
cmp -s "$work/l_image.json" "$work/l_embeds.json" || fail "logits from --image and --image-embeds differ"
# The text-only checkpoint has the same text weights: same logits from the saved features.
"$pio" logits --model "$work/text" --ids "$ids" --image-embeds "$work/embeds.safetensors" --out "$work/l_text.json"
cmp -s "$work/l_image.json" "$work/l_text.json" || fail "text-only checkpoint with --image-embeds differs"
g1="$("$pio" generate --model "$work/tiny" --ids "$ids" --image "$image" --max-tokens 5)"
g2="$("$pio" generate --model "$work/text" --ids "$ids" --image-embeds "$work/embeds.safetensors" --max-tokens 5)"
[ "$g1" = "$g2" ] || fail "generate: $g1 vs $g2"
[[ "$g1" =~ ^\[[0-9]+(,[0-9]+){4}\]$ ]] || fail "generate printed '$g1'"

# Refusals: clear messages, non-zero exit.
expect_error "text-only checkpoint" "$pio" chat --model "$work/text" --image "$image" --prompt hi
printf 'not an image' >"$work/bad.jpg"
expect_error "bad.jpg" "$pio" chat --model "$work/tiny" --image "$work/bad.jpg" --prompt hi
expect_error "cannot open image file" "$pio" preprocess --model "$work/tiny" --image "$work/none.png" --out "$work/x.json"
expect_error "more image placeholder runs than the 1 images" \
  "$pio" generate --model "$work/tiny" --ids 151652,151655,151653,151652,151655,151653 --image "$image"
expect_error "no tensor 'image_embeds'" \
  "$pio" generate --model "$work/tiny" --ids "$ids" --image-embeds "$work/tiny/model.safetensors"
echo "cli: all checks passed"
