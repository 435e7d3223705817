// The Qwen3-VL text decoder: embeddings, decoder layers (RMSNorm, GQA attention with per-head
// q/k norms and interleaved M-RoPE over the paged KV cache, SwiGLU MLP), final norm, lm_head.
// One forward pass serves a batch of sequences, each with any number of new tokens (a prefill
// chunk or one decode token). A TextModel is a runner: it reads weights that it does not own
// (ModelWeights, shared by any number of runners) and owns the per-engine-group state, its work
// buffers and the backend it computes on. Activations live in the backend's memory; the host
// hands it inputs through upload and reads the logits back through download (on the CPU the
// logits are read in place).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "gpu/backend.h"
#include "model/config.h"
#include "model/kv_storage.h"
#include "model/model_weights.h"
#include "model/rope.h"
#include "model/scratch_buffer.h"
#include "model/text_stage.h"
#include "model/text_weights.h"
#include "model/weight_placement.h"

namespace pio {

// One sequence's share of a batch: its next n_tokens rows of the batch input, written to the KV
// slots [first_slot, first_slot + n_tokens) of its block table (the scheduler's plan took them).
struct SequenceStep {
  int64_t n_tokens = 0;
  bool all_logits = false;           // logits for every new token, else only for the last
  std::span<const int32_t> blocks;   // physical block of each logical block (KvBlockPool)
  int64_t first_slot = 0;            // tokens already in the cache: attention sees [0, first_slot + i]
};

// DeepStack: visual features added to the hidden state of visual rows after decoder layers
// 0, 1, ... (one feature set per layer), in prefill only.
struct DeepstackInput {
  std::span<const int64_t> rows;         // batch rows that hold visual tokens
  std::vector<const float*> per_layer;   // per_layer[k]: [rows.size(), hidden], added after layer k
};

struct ForwardBatch {
  std::vector<SequenceStep> steps;
  std::span<const int32_t> ids;          // one id per row (ignored when embeddings is set)
  const float* embeddings = nullptr;     // [rows, hidden]: the input rows, e.g. with image features
  std::span<const Pos3> positions;       // one (t, h, w) position per row
  const DeepstackInput* deepstack = nullptr;
};

// The rows of the batch's leading one-token steps: its decode rows (the scheduler puts decodes
// first), which must have the bits they have alone whatever shares the step
// (Backend::matmul_shared's fixed_rows). They are also its first logit rows, one per step.
int64_t leading_decode_rows(const ForwardBatch& batch);

// The KV cache's shape for a text decoder, in its weights' dtype (--kv-dtype auto: bf16 for a
// bf16 checkpoint, as transformers keeps its cache in the model's dtype); callers may change dtype.
KvCacheShape kv_cache_shape(const TextConfig& cfg, const TextWeights& weights);
// The same for a checkpoint's text decoder.
inline KvCacheShape kv_cache_shape(const ModelWeights& weights) {
  return kv_cache_shape(weights.config().text, weights.text());
}

// Where a text runner's decoder layers compute (--gpu-layers): [0, device_layers) on `device`,
// the rest, with the embedding, final norm and lm_head, on `host`; everything on `device` when
// host is null or the same backend, or device_layers is negative or the layer count.
struct LayerSplit {
  Backend* device = nullptr;
  Backend* host = nullptr;
  int device_layers = -1;
  // device_layers for a decoder of `layers` layers (layers when everything is on the device).
  int on_device(int layers) const;
  // The backends holding the layers, in order, for a decoder of `layers` layers: the KvStorage
  // ranges its runner's forward takes.
  std::vector<KvLayerRange> kv_layers(int layers) const;
};

class TextModel {
 public:
  // The weights must outlive the runner; any number of runners may read them at once. On a
  // device the runner uploads them into device memory of its own (WeightPlacement): throws
  // std::bad_alloc when they do not fit, BackendError when the upload fails.
  TextModel(const TextConfig& cfg, const TextWeights& weights, Backend& backend);
  // Partial offload (--gpu-layers) as `split` says. Throws ModelError for more device layers
  // than the decoder has.
  TextModel(const TextConfig& cfg, const TextWeights& weights, const LayerSplit& split);
  TextModel(const TextConfig&, TextWeights&&, Backend&) = delete;  // it would keep a dangling reference
  TextModel(const TextConfig&, TextWeights&&, const LayerSplit&) = delete;
  // The text decoder of `weights` on `backend`, or split as above.
  TextModel(const ModelWeights& weights, Backend& backend);
  TextModel(const ModelWeights& weights, const LayerSplit& split);

  const TextConfig& config() const { return cfg_; }
  // The KV cache's shape (kv_cache_shape of its config and weights).
  KvCacheShape kv_shape() const { return kv_shape_; }
  // Which backend holds which layers' KV cache: the KvStorage this runner's forward takes must
  // be made with these ranges (one range, on backend(), unless the runner is split).
  std::vector<KvLayerRange> kv_layers() const;

  // Token embeddings for ids, as rows of `hidden` floats in host memory. Throws ModelError for
  // an id outside the vocabulary.
  void embed(std::span<const int32_t> ids, float* out);

  // Runs the batch, writing every step's K and V into the slots its block table names (it
  // allocates nothing: the caller took the blocks). Every input is host memory. Returns the
  // logits in host memory: for each step in order, all its rows or its last row ([rows, vocab];
  // valid until the next call). Throws ModelError for an inconsistent batch, e.g. a block table
  // too short for its step, or KV storage whose layers live elsewhere than kv_layers() says.
  std::span<const float> forward(const ForwardBatch& batch, KvStorage& kv);
  // The backend of the embedding, the final norm and lm_head (the only one unless split).
  Backend& backend() const { return head_be_; }
  // Bytes of weights uploaded into device memory (0 on the CPU: it reads them in place).
  size_t device_weight_bytes() const;

 private:
  void check(const ForwardBatch& batch, const KvStorage& kv, int64_t rows) const;
  void check_ids(std::span<const int32_t> ids) const;
  // The batch's input rows into the first stage's hidden state.
  void input_rows(const ForwardBatch& batch, int64_t rows);
  // Copies `floats` values from one backend's memory to another's (the hidden state crossing
  // between stages).
  void cross(Backend& from, const float* src, Backend& to, float* dst, size_t floats);
  // The logits of the rows each step wants, in host memory, from the last stage's hidden state.
  std::span<const float> logits(const ForwardBatch& batch, const float* hidden);

  TextConfig cfg_;
  KvCacheShape kv_shape_;
  std::vector<float> inv_freq_;
  std::vector<std::unique_ptr<TextStage>> stages_;
  // The embedding, final norm and lm_head in the last stage's backend memory.
  Backend& head_be_;
  WeightPlacement head_placement_;
  TextWeights head_;
  ScratchBuffer final_rows_, logits_, embed_rows_;
  // Host-side tables, results and the staging of a crossing between two devices.
  std::vector<float> cos_host_, sin_host_, logits_host_, crossing_;
  std::vector<int64_t> logit_rows_;
};

}  // namespace pio
