// Upper bounds on the sizes a model's files may ask for (config.json, preprocessor_config.json).
// Each is far above every published model (in brackets, the largest known to us) yet keeps every
// size product below 2^63 and every per-head or per-row count inside the kernels' int
// arithmetic, so a file can never make pio overflow or allocate without limit.
#pragma once

#include <cstdint>

namespace pio::limits {

constexpr int64_t kMaxVocab = int64_t{1} << 24;         // token ids are int32 [Gemma 3: 262,144]
constexpr int64_t kMaxHidden = 65536;                   // [Llama 3.1 405B: 16,384]
constexpr int64_t kMaxIntermediate = int64_t{1} << 18;  // [Llama 3.1 405B: 53,248]
constexpr int64_t kMaxLayers = 1024;                    // decoder layers or vision blocks [126]
constexpr int64_t kMaxHeads = 1024;                     // [128]
constexpr int64_t kMaxHeadDim = 1024;                   // [256]
constexpr int64_t kMaxPositions = int64_t{1} << 24;     // max_position_embeddings [10M]
constexpr int64_t kMaxVisionPositions = int64_t{1} << 20;  // a 1024 x 1024 position grid [48 x 48]
constexpr int64_t kMaxInChannels = 4;                   // RGBA at most [3]
constexpr int64_t kMaxPatchSize = 256;                  // vision patch side in pixels [16]
constexpr int64_t kMaxTemporalPatch = 16;               // frames per patch [2]
constexpr int64_t kMaxMergeSize = 16;                   // spatial_merge_size [2]
// One side of an image's patch grid (grid_thw's t, h or w): a 2^26-pixel budget at aspect ratio
// 200 is 115,852 pixels long, so even 1-pixel patches fit [Qwen3-VL at 16,777,216: 1,158 patches].
constexpr int64_t kMaxGrid = int64_t{1} << 17;
// The parameter count the shapes imply: 2^40 is 2 TB of bf16 weights, above any checkpoint a
// single host can map [~1T].
constexpr int64_t kMaxParameters = int64_t{1} << 40;
// A resize budget in pixels: 8192 x 8192, the decoder's own limit on a declared image size and
// 4x Qwen3-VL's default of 16,777,216 (larger budgets only upscale, into a vision encoder whose
// attention grows with the square of the patches).
constexpr int64_t kMaxPixelBudget = int64_t{1} << 26;

}  // namespace pio::limits
