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

# Special tokens never reach the answer (Hugging Face's skip_special_tokens=True, as vLLM and
# llama.cpp's server answer); --show-special-tokens shows them. They count as generated either
# way. With seed 137 the tiny checkpoint samples one (<|vision_pad|>) within its first 80 tokens.
special='<\|(endoftext|im_start|im_end|object_ref_start|object_ref_end|box_start|box_end|quad_start|quad_end|vision_start|vision_end|vision_pad|image_pad|video_pad)\|>'
sampled=(chat --model "$work/tiny" --prompt "Describe this image." --temperature 1 --seed 137 --max-tokens 80
         --threads 1 --verbose)
"$pio" "${sampled[@]}" >"$work/skipped.out" 2>"$work/skipped.err"
"$pio" "${sampled[@]}" --show-special-tokens >"$work/shown.out" 2>"$work/shown.err"
grep -qE "$special" "$work/shown.out" || fail "--show-special-tokens shows no special token"
if grep -qE "$special" "$work/skipped.out"; then fail "special token text in the answer: $(cat "$work/skipped.out")"; fi
[ "$(sed -E "s/$special//g" "$work/shown.out")" = "$(cat "$work/skipped.out")" ] ||
  fail "the answer is not the shown one without its special tokens"
grep -qF "generated: 80" "$work/skipped.err" || fail "skipped special tokens do not count: $(cat "$work/skipped.err")"
grep -qF "generated: 80" "$work/shown.err" || fail "shown special tokens do not count: $(cat "$work/shown.err")"

# --system "" renders an empty system turn, as the template does: "<|im_start|>system\n<|im_end|>\n"
# adds 5 tokens to the 9 of "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n".
prompt_tokens() {
  "$pio" chat --model "$work/tiny" --max-tokens 1 --verbose "$@" 2>&1 >/dev/null | grep -o 'prompt tokens: [0-9]*'
}
[ "$(prompt_tokens --prompt hi)" = "prompt tokens: 9" ] || fail "no --system: $(prompt_tokens --prompt hi)"
[ "$(prompt_tokens --prompt hi --system "")" = "prompt tokens: 14" ] ||
  fail "--system \"\": $(prompt_tokens --prompt hi --system "")"

# --messages: an OpenAI-style conversation. One turn gives the same answer as --image/--prompt.
printf '[{"role": "user", "content": [{"type": "image", "image": "%s"}, {"type": "text", "text": "Describe this image."}]}]' \
  "$image" >"$work/one.json"
"$pio" chat --model "$work/tiny" --messages "$work/one.json" --max-tokens 6 --temperature 0.8 --seed 5 \
  >"$work/one.out" 2>/dev/null
cmp -s "$work/chat.out" "$work/one.out" || fail "--messages answer differs from --image/--prompt's"
# A two-turn history with an image renders as the template's text: its tokens, with the image's
# pad expanded to the 80 tokens of the demo image (16x20 patches merged 2x2).
printf '%s\n' '[{"role": "system", "content": "Be brief."},' \
  ' {"role": "user", "content": [{"type": "image", "image": "'"$image"'"}, {"type": "text", "text": "What is it?"}]},' \
  ' {"role": "assistant", "content": "A cat."},' \
  ' {"role": "user", "content": [{"type": "text", "text": "And the colour?"}]}]' >"$work/two.json"
rendered='<|im_start|>system
Be brief.<|im_end|>
<|im_start|>user
<|vision_start|><|image_pad|><|vision_end|>What is it?<|im_end|>
<|im_start|>assistant
A cat.<|im_end|>
<|im_start|>user
And the colour?<|im_end|>
<|im_start|>assistant
'
text_ids="$("$pio" tokenize --model "$work/tiny" "$rendered")"
# tokenize's output (a JSON array) is detokenize's input, back to the same text; [] is no text.
[ "$("$pio" detokenize --model "$work/tiny" "$text_ids")" = "$(printf '%s' "$rendered")" ] ||
  fail "detokenize of tokenize's output: $("$pio" detokenize --model "$work/tiny" "$text_ids" 2>&1)"
[ -z "$("$pio" detokenize --model "$work/tiny" "[]")" ] || fail "detokenize []"
# --jsonl answers line by line: "" is the empty text ([]); a blank line before a text is refused,
# naming it.
printf '"a b"\n""\n"c"\n\n' >"$work/texts.jsonl"  # a blank line at the end shifts nothing
[ "$("$pio" tokenize --model "$work/tiny" --jsonl "$work/texts.jsonl" | sed -n 2p)" = "[]" ] || fail "tokenize --jsonl of \"\""
[ "$("$pio" tokenize --model "$work/tiny" --jsonl "$work/texts.jsonl" | wc -l)" = 3 ] || fail "tokenize --jsonl: not one line per text"
printf '"a"\n\n"b"\n' >"$work/blank.jsonl"
status=0; "$pio" tokenize --model "$work/tiny" --jsonl "$work/blank.jsonl" >/dev/null 2>"$work/blank.err" || status=$?
[ "$status" = 1 ] && grep -q "blank.jsonl:2: a blank line" "$work/blank.err" || fail "a blank --jsonl line: exit $status: $(cat "$work/blank.err")"
printf '"a"\nhello\n' >"$work/bare.jsonl"  # not JSON: said without the JSON library's words
status=0; "$pio" tokenize --model "$work/tiny" --jsonl "$work/bare.jsonl" >/dev/null 2>"$work/bare.err" || status=$?
[ "$status" = 1 ] && grep -q 'bare.jsonl:2: not a JSON string' "$work/bare.err" && ! grep -q 'json.exception' "$work/bare.err" ||
  fail "a --jsonl line that is not JSON: exit $status: $(cat "$work/bare.err")"
status=0; "$pio" tokenize --model "$work/tiny" >/dev/null 2>&1 || status=$?  # nothing to tokenize: a usage error
[ "$status" = 2 ] || fail "tokenize without text or --jsonl: exit $status"
commas="${text_ids//[^,]/}"
want=$((${#commas} + 1 + 79))
"$pio" chat --model "$work/tiny" --messages "$work/two.json" --max-tokens 2 --verbose >/dev/null 2>"$work/two.err"
grep -qF "prompt tokens: $want, images: 1," "$work/two.err" ||
  fail "two-turn --messages: want $want prompt tokens: $(cat "$work/two.err")"
printf '[{"role": "user", "content": "a"}, {"role": "tool", "content": "b"}]' >"$work/tool.json"
expect_error "tool.json: messages[1].role: unknown role 'tool'" "$pio" chat --model "$work/tiny" --messages "$work/tool.json"
printf '[{"role": "user", "content": "a"}' >"$work/cut.json"
expect_error "cut.json: not valid JSON" "$pio" chat --model "$work/tiny" --messages "$work/cut.json"
expect_error "--prompt or --messages is required" "$pio" chat --model "$work/tiny"
expect_error "--prompt excludes --messages" "$pio" chat --model "$work/tiny" --messages "$work/one.json" --prompt hi

# Options out of range are refused up front (exit 2) with the option and its range; token
# counts also against the model's context and the KV budget once the prompt is known.
expect_status() {  # expect_status STATUS "message part" command...
  local want="$1" part="$2" rc=0
  shift 2
  "$@" >"$work/out" 2>"$work/err" || rc=$?
  [ "$rc" -eq "$want" ] || fail "'$*' exited $rc, not $want: $(cat "$work/err")"
  grep -qF -- "$part" "$work/err" || fail "error of '$*' lacks '$part': $(cat "$work/err")"
}
expect_status 2 "--model: Directory does not exist: $work/nowhere" "$pio" chat --model "$work/nowhere" --prompt hi
expect_status 2 "--model: Directory does not exist: $work/nowhere" "$pio" generate --model "$work/nowhere" --ids 1
expect_status 2 "--temperature: 'nan' is not a number in [0, 100]" \
  "$pio" chat --model "$work/tiny" --prompt hi --temperature nan
expect_status 2 "--threads: '100000' is not an integer in 0..1024" \
  "$pio" chat --model "$work/tiny" --prompt hi --threads 100000
expect_status 2 "--kv-cache-mb: '99999999999' is not an integer in 1.." \
  "$pio" generate --model "$work/tiny" --ids 1,2 --kv-cache-mb 99999999999
expect_status 2 "--max-tokens: '2147483647' is not an integer in 1..1048576" \
  "$pio" generate --model "$work/tiny" --ids 1,2 --max-tokens 2147483647
expect_status 2 "--max-tokens: 2 prompt + 262143 new tokens exceed the model's context of 262144 tokens" \
  "$pio" generate --model "$work/tiny" --ids 1,2 --max-tokens 262143
expect_status 2 "--kv-cache-mb: 9 prompt + 2000 new tokens need 2 MiB of KV cache, more than the budget of 1 MiB" \
  "$pio" chat --model "$work/tiny" --prompt hi --max-tokens 2000 --kv-cache-mb 1 --kv-dtype f32
# The tiny checkpoint's own dtype (bf16, --kv-dtype auto) takes half the bytes per token.
expect_status 2 "--kv-cache-mb: 9 prompt + 4000 new tokens need 2 MiB of KV cache, more than the budget of 1 MiB" \
  "$pio" chat --model "$work/tiny" --prompt hi --max-tokens 4000 --kv-cache-mb 1
# Without --max-tokens the default (256) is lowered to what fits: a context of 16 tokens leaves 7
# after the 9-token prompt; a prompt that leaves no room is refused naming --prompt.
cp -r "$work/tiny" "$work/tiny16"
sed -i 's/"max_position_embeddings": [0-9]*/"max_position_embeddings": 16/' "$work/tiny16/config.json"
"$pio" chat --model "$work/tiny16" --prompt hi --seed 1 --verbose >/dev/null 2>"$work/ctx16.err" ||
  fail "chat with a default --max-tokens in a 16-token context: $(cat "$work/ctx16.err")"
grep -q "prompt tokens: 9, images: 0, generated: 7$" "$work/ctx16.err" || fail "not 7 tokens: $(cat "$work/ctx16.err")"
expect_status 2 "--prompt: 17 prompt + 1 new tokens exceed the model's context of 16 tokens" \
  "$pio" chat --model "$work/tiny16" --prompt "hi there how are you doing today my friend"
expect_status 2 "--max-tokens: 9 prompt + 20 new tokens exceed the model's context of 16 tokens" \
  "$pio" chat --model "$work/tiny16" --prompt hi --max-tokens 20
expect_status 2 "--prompt-tokens: '9223372036854775807' is not an integer in 1..1048576" \
  "$pio" bench --model "$work/tiny" --prompt-tokens 9223372036854775807
expect_status 2 "--prompt-tokens: 262144 prompt + 32 new tokens exceed the model's context" \
  "$pio" bench --model "$work/tiny" --prompt-tokens 262144
expect_status 2 "--runs: '0' is not an integer in 1..1000" \
  "$pio" bench-tokenizer --model "$work/tiny" --text "$work/one.json" --runs 0
expect_status 2 "--seed: '-1' is not an integer in 0..18446744073709551615" \
  "$pio" chat --model "$work/tiny" --prompt hi --seed -1
expect_status 2 "pio: error: no subcommand 'nosuch' (pio --help lists them)" "$pio" nosuch --model x
"$pio" --version | grep -qE '^pio [0-9]+\.[0-9]+\.[0-9]+$' || fail "pio --version: $("$pio" --version 2>&1)"

# With --node the node decides what computes: its options here are refused, not ignored.
for opt in "--threads 2" "--kv-cache-mb 10" "--kv-dtype q8" "--weights q8" "--device cpu"; do
  # shellcheck disable=SC2086
  expect_status 2 "--node excludes ${opt%% *}" "$pio" chat --node 127.0.0.1:1 --prompt hi $opt
done

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
