// A run of consecutive decoder layers [first_layer, end_layer) on one backend: its copy of their
// weights (WeightPlacement), its work buffers and the step's inputs uploaded into its memory
// (block tables, M-RoPE tables, DeepStack features). TextModel chains one stage per backend: all
// layers on one, or with --gpu-layers the device's layers then the CPU's, the hidden state
// crossing once between them.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "gpu/backend.h"
#include "model/config.h"
#include "model/kv_storage.h"
#include "model/scratch_buffer.h"
#include "model/text_weights.h"
#include "model/weight_placement.h"

namespace pio {

struct ForwardBatch;
struct DeepstackInput;

class TextStage {
 public:
  // Places layers [first_layer, end_layer) of `weights` on `backend` (uploads them on a device:
  // std::bad_alloc when they do not fit, BackendError when the upload fails).
  TextStage(const TextConfig& cfg, const TextWeights& weights, Backend& backend, int first_layer, int end_layer);
  TextStage(const TextStage&) = delete;
  TextStage& operator=(const TextStage&) = delete;

  Backend& backend() const { return be_; }
  int first_layer() const { return first_; }
  int end_layer() const { return end_; }
  size_t uploaded_bytes() const { return placement_.uploaded_bytes(); }

  // Grows the work buffers to `rows` rows.
  void reserve(int64_t rows);
  // The hidden state, [rows, hidden] in backend memory: the first layer's input, the last one's output.
  float* hidden() const { return x_.data(); }
  // Uploads the step's block tables (the batch's, host memory) and M-RoPE tables ([rows, head_dim / 2]
  // each, host memory) for the layers to read.
  void prepare(const ForwardBatch& batch, std::span<const float> cos, std::span<const float> sin);
  // Runs layer l (in the range) over `rows` rows of the hidden state, writing its K and V into
  // kv (whose layer l must live on this backend).
  void run_layer(int l, int64_t rows, KvStorage& kv);
  // Adds feature set `layer` of the DeepStack input (host memory) to its rows of the hidden state.
  void add_deepstack(const DeepstackInput& ds, int layer);

 private:
  TextConfig cfg_;
  Backend& be_;
  int first_, end_;
  WeightPlacement placement_;
  std::vector<TextLayerWeights> layers_;  // layers [first_, end_) in the backend's memory

  int64_t capacity_ = 0;
  ScratchBuffer x_, xn_, q_, k_, v_, attn_, gate_, up_, cos_, sin_, deepstack_;
  BackendScratch<int32_t> block_tables_;
  std::vector<int32_t> block_tables_host_;
  int64_t decode_rows_ = 0;  // the step's leading decode rows (leading_decode_rows)
  std::vector<AttentionSequence> seqs_;
  std::vector<int64_t> first_slots_;
};

}  // namespace pio
