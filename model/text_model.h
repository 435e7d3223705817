// The Qwen3-VL text decoder: embeddings, decoder layers (RMSNorm, GQA attention with per-head
// q/k norms and interleaved M-RoPE over the paged KV cache, SwiGLU MLP), final norm, lm_head.
// One forward pass serves a batch of sequences, each with any number of new tokens (a prefill
// chunk or one decode token).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "gpu/backend.h"
#include "model/config.h"
#include "model/kv_storage.h"
#include "model/rope.h"
#include "model/text_weights.h"

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

class TextModel {
 public:
  TextModel(const TextConfig& cfg, TextWeights weights, Backend& backend);

  const TextConfig& config() const { return cfg_; }
  // The KV cache's shape, in the checkpoint's weight dtype (--kv-dtype auto: bf16 for a bf16
  // checkpoint, as transformers keeps its cache in the model's dtype); callers may change dtype.
  KvCacheShape kv_shape() const;

  // Token embeddings for ids, as rows of `hidden` floats.
  void embed(std::span<const int32_t> ids, float* out);

  // Runs the batch, writing every step's K and V into the slots its block table names (it
  // allocates nothing: the caller took the blocks). Returns the logits: for each step in order,
  // all its rows or its last row ([rows, vocab]; valid until the next call). Throws ModelError
  // for an inconsistent batch, e.g. a block table too short for its step.
  std::span<const float> forward(const ForwardBatch& batch, KvStorage& kv);
  // The backend the model computes on (and the KV storage allocates from).
  Backend& backend() const { return be_; }

 private:
  void reserve(int64_t rows);
  void decoder_layer(int layer, int64_t rows, KvStorage& kv, std::span<const AttentionSequence> seqs);

  TextConfig cfg_;
  TextWeights w_;
  Backend& be_;
  std::vector<float> inv_freq_;

  // Work buffers sized for the largest batch seen; they only grow.
  int64_t capacity_ = 0;
  std::vector<float> x_, xn_, q_, k_, v_, attn_, gate_, up_, cos_, sin_, final_rows_, logits_;
  std::vector<AttentionSequence> attn_seqs_;
  std::vector<int64_t> first_slots_;
  std::vector<int64_t> logit_rows_;
};

}  // namespace pio
