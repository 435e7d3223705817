#!/usr/bin/env bash
# Property: no value of any numeric option makes a `pio` subcommand end by a signal or hang.
# Each option of each subcommand gets integers at and past the int32/int64 limits, huge,
# non-finite, empty and non-numeric values. A value must be either accepted (exit 0; exactly
# the values listed as in range below) or refused with exit status 2 and a message naming
# the option and its allowed range, before anything is loaded.
#   test_option_ranges.sh PIO_BINARY REPO_ROOT
set -uo pipefail
pio="$1"
root="$2"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$pio" make-checkpoint --preset tiny --seed 3 --out "$work/tiny" 2>/dev/null || fail "make-checkpoint"
model="$work/tiny"
image="$root/assets/demo.jpg"
printf 'hello world\nsecond line\n' >"$work/text.txt"
printf '"hello"\n' >"$work/texts.jsonl"
# <|im_start|>user\n <vision> Describe. <|im_end|>\n <|im_start|>assistant\n
ids=151644,872,198,151652,151655,151653,74785,13,151645,198,151644,77091,198

values=(0 -1 1 2147483647 2147483648 -2147483649 9223372036854775807 9223372036854775808 1e308 nan inf -inf "" abc)

# Each subcommand with small, fast arguments (@OUT@: a directory of the option's own). The
# options under test are set to small values here too, and left out while one is tested.
declare -A base=(
  [make-checkpoint]="--preset tiny --no-tokenizer --out @OUT@/ckpt --seed 1 --shard-mb 1"
  [generate]="--model $model --ids $ids --image $image --max-tokens 1 --threads 1 --kv-cache-mb 1 --max-pixels 1"
  [logits]="--model $model --ids $ids --image $image --out @OUT@/logits.json --threads 1 --max-pixels 1"
  [bench]="--model $model --prompt-tokens 1 --gen-tokens 1 --runs 1 --image-sizes 32x32 --threads 1 --json"
  [tokenize]="--model $model --jsonl $work/texts.jsonl --threads 1"
  [bench-tokenizer]="--model $model --text $work/text.txt --runs 1 --threads 1"
  [preprocess]="--model $model --image $image --out @OUT@/pixels.json --max-pixels 1"
  [encode-image]="--model $model --image $image --out @OUT@/embeds.safetensors --threads 1 --max-pixels 1"
  [chat]="--model $model --prompt hi --image $image --max-tokens 1 --threads 1 --kv-cache-mb 1 --max-pixels 1
          --temperature 1 --top-p 1 --top-k 1 --seed 1"
)
# The numeric options of each subcommand and, for each, the values above that are in range.
declare -A accepted=(
  ["make-checkpoint --seed"]="0 1 2147483647 2147483648 9223372036854775807 9223372036854775808"
  ["make-checkpoint --shard-mb"]="1"
  ["generate --max-tokens"]="1"
  ["generate --threads"]="0 1"
  ["generate --kv-cache-mb"]="1"
  ["generate --max-pixels"]="1"
  ["logits --threads"]="0 1"
  ["logits --max-pixels"]="1"
  ["bench --prompt-tokens"]="1"
  ["bench --gen-tokens"]="1"
  ["bench --runs"]="1"
  ["bench --threads"]="0 1"
  ["tokenize --threads"]="0 1"
  ["bench-tokenizer --runs"]="1"
  ["bench-tokenizer --threads"]="0 1"
  ["preprocess --max-pixels"]="1"
  ["encode-image --threads"]="0 1"
  ["encode-image --max-pixels"]="1"
  ["chat --max-tokens"]="1"
  ["chat --temperature"]="0 1"
  ["chat --top-p"]="1"
  ["chat --top-k"]="0 1"
  ["chat --min-p"]="0 1"
  ["chat --repetition-penalty"]="1"
  ["chat --presence-penalty"]="0 -1 1"
  ["chat --frequency-penalty"]="0 -1 1"
  ["chat --seed"]="0 1 2147483647 2147483648 9223372036854775807 9223372036854775808"
  ["chat --threads"]="0 1"
  ["chat --kv-cache-mb"]="1"
  ["chat --max-pixels"]="1"
)

# Every numeric option of every subcommand is listed: compare with `pio SUBCOMMAND --help`.
for sub in "${!base[@]}"; do
  listed="$(for key in "${!accepted[@]}"; do [ "${key%% *}" = "$sub" ] && echo "${key#* }"; done | sort)"
  numeric="$("$pio" "$sub" --help | grep -oE '^ +--[a-z-]+ (INT|UINT|FLOAT)' | awk '{print $1}' | sort)"
  [ "$listed" = "$numeric" ] || fail "$sub: numeric options are [$numeric], the test lists [$listed]"
done

# One option's values, in its own directory (so options run in parallel); a failure is
# written to DIR/FAIL.
check_option() {
  local key="$1" dir="$2" sub opt v rc what
  sub="${key%% *}"
  opt="${key#* }"
  mkdir -p "$dir"
  read -ra args <<<"${base[$sub]//@OUT@/$dir}"
  local rest=()  # the base arguments without the option under test and its value
  for ((i = 0; i < ${#args[@]}; i++)); do
    if [ "${args[i]}" = "$opt" ]; then ((i++)); else rest+=("${args[i]}"); fi
  done
  for v in "${values[@]}"; do
    timeout 60 "$pio" "$sub" "${rest[@]}" "$opt" "$v" >"$dir/out" 2>"$dir/err"
    rc=$?
    what="pio $sub $opt '$v'"
    if [ "$rc" -eq 124 ]; then echo "$what did not end within 60 s" >"$dir/FAIL"; return; fi
    if [ "$rc" -ge 128 ]; then
      echo "$what ended by signal $((rc - 128)): $(tail -c 300 "$dir/err")" >"$dir/FAIL"
      return
    fi
    if [[ " ${accepted[$key]} " == *" $v "* ]]; then
      if [ "$rc" -ne 0 ]; then echo "$what (in range) exited $rc: $(tail -c 300 "$dir/err")" >"$dir/FAIL"; return; fi
    elif [ "$rc" -ne 2 ]; then
      echo "$what (out of range) exited $rc, not 2: $(tail -c 300 "$dir/err")" >"$dir/FAIL"
      return
    elif ! grep -qE -- "^$opt: '.*' is not (an integer|a number) in " "$dir/err"; then
      echo "$what: the refusal does not name the option and its range: $(cat "$dir/err")" >"$dir/FAIL"
      return
    fi
  done
}

n=0
for key in "${!accepted[@]}"; do
  n=$((n + 1))
  check_option "$key" "$work/option$n" &
  while [ "$(jobs -rp | wc -l)" -ge "$(nproc)" ]; do wait -n; done
done
wait
if compgen -G "$work/option*/FAIL" >/dev/null; then fail "$(cat "$work"/option*/FAIL)"; fi

# bench --image-sizes takes numbers as text: WxH, each side 1..8192.
bench_args=(--model "$model" --prompt-tokens 1 --gen-tokens 1 --runs 1 --threads 1 --json)
for v in 0x0 1x1 8193x1 1x2147483648 -1x1 9223372036854775808x1 1e308x1 nanx1 x 32 abc ""; do
  timeout 60 "$pio" bench "${bench_args[@]}" --image-sizes "$v" >"$work/out" 2>"$work/err"
  rc=$?
  if [ "$v" = 1x1 ]; then
    [ "$rc" -eq 0 ] || fail "pio bench --image-sizes 1x1 exited $rc: $(tail -c 300 "$work/err")"
  else
    [ "$rc" -eq 2 ] || fail "pio bench --image-sizes '$v' exited $rc, not 2: $(tail -c 300 "$work/err")"
    grep -qE -- "^--image-sizes: '.*' is not an image size WxH, each side 1..8192" "$work/err" ||
      fail "pio bench --image-sizes '$v': $(cat "$work/err")"
  fi
done

# --kv-dtype takes a name: anything else is refused with exit 2, naming the option and the names.
for sub in generate logits bench chat; do
  read -ra args <<<"${base[$sub]//@OUT@/$work}"
  timeout 60 "$pio" "$sub" "${args[@]}" --kv-dtype bogus >"$work/out" 2>"$work/err"
  rc=$?
  [ "$rc" -eq 2 ] || fail "pio $sub --kv-dtype bogus exited $rc, not 2: $(tail -c 300 "$work/err")"
  grep -q -- "^--kv-dtype: 'bogus' is not one of auto, bf16, f16, q8, f32" "$work/err" ||
    fail "pio $sub --kv-dtype bogus: $(cat "$work/err")"
done
# bench's JSON names the dtype used: auto is the checkpoint's weight dtype (the tiny preset's is bf16).
for v in auto:bf16 bf16:bf16 f16:f16 q8:q8 f32:f32; do
  timeout 60 "$pio" bench "${bench_args[@]}" --image-sizes 1x1 --kv-dtype "${v%%:*}" >"$work/out" 2>"$work/err" ||
    fail "pio bench --kv-dtype ${v%%:*}: $(tail -c 300 "$work/err")"
  grep -q "\"kv_dtype\":\"${v#*:}\"" "$work/out" || fail "pio bench --kv-dtype ${v%%:*}: $(cat "$work/out")"
done
echo "option ranges: $n options x ${#values[@]} values, 12 image sizes and 5 KV dtypes; none ended by a" \
  "signal, every refusal named its option and range"
