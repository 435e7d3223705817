#!/usr/bin/env bash
# Interleaved pio / llama.cpp bf16 benchmarks on the same checkpoint, 2 threads, 3 rounds (summary.py
# prints the medians). LLAMA_BIN: llama.cpp's build/bin; avx2 also sets PIO_CPU_ISA=avx2 (give it an
# AVX2-only llama.cpp build). IMAGE: a 448x448 PNG.
#   bench.sh native|avx2 PIO_BIN MODEL_DIR GGUF MMPROJ_GGUF IMAGE LLAMA_BIN OUTDIR
set -u
[ $# = 8 ] || { sed -n 2,5p "$0" >&2; exit 2; }
isa="$1" pio="$2" model="$3" gguf="$4" mmproj="$5" image="$6" llama="$7" out="$8"
mkdir -p "$out"
if [ "$isa" = avx2 ]; then export PIO_CPU_ISA=avx2; else unset PIO_CPU_ISA; fi
for r in 1 2 3; do
  "$llama/llama-bench" -m "$gguf" -p 128,512 -n 32 -t 2 -r 1 -o json >"$out/llama-text-$r.json" 2>"$out/llama-text-$r.err"
  "$pio" bench --model "$model" --threads 2 --prompt-tokens 128 512 --gen-tokens 32 --runs 1 --no-vision --json >"$out/pio-text-$r.json" 2>"$out/pio-text-$r.err"
  "$llama/llama-mtmd-cli" -m "$gguf" --mmproj "$mmproj" --image "$image" -p "Describe." -n 1 -t 2 -lv 4 >"$out/mtmd-$r.out" 2>"$out/mtmd-$r.err"
  "$pio" bench --model "$model" --threads 2 --prompt-tokens 16 --gen-tokens 1 --runs 1 --image-sizes 448x448 --json >"$out/pio-vision-$r.json" 2>"$out/pio-vision-$r.err"
  echo "round $r done $(date +%T)"
done
