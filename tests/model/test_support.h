// Shared helpers for the model tests: temporary checkpoints and running pio's forward pass.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/checkpoint_maker.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "tests/support/relative_error.h"
#include "tests/support/temp_dir.h"

namespace test {

// The tiny preset's text tower with the vocabulary cut down so double-precision reference
// runs stay fast, in the given dtype.
inline pio::ModelConfig small_text_config(const std::string& dtype) {
  pio::ModelConfig c = pio::preset_config("tiny");
  c.text.vocab_size = 512;
  c.text.dtype = dtype;
  c.vision.reset();
  return c;
}

// A random checkpoint written to a temporary directory and loaded on a CPU backend.
struct RandomModel {
  RandomModel(const pio::ModelConfig& cfg, uint64_t seed, int threads = 2)
      : backend(pio::make_cpu_backend(threads)), model(written(cfg, seed, dir), *backend) {}

  TempDir dir{"model"};
  std::unique_ptr<pio::Backend> backend;
  pio::Model model;

 private:
  static const std::filesystem::path& written(const pio::ModelConfig& cfg, uint64_t seed, const TempDir& dir) {
    pio::write_random_checkpoint(cfg, seed, dir.path());
    return dir.path();
  }
};

// All-position logits for ids, run through pio's TextModel in one prefill, the KV cache in
// kv_dtype (none: the checkpoint's weight dtype, as --kv-dtype auto).
inline std::vector<float> pio_logits(pio::Model& model, const std::vector<int32_t>& ids,
                                     std::optional<pio::KvDType> kv_dtype = std::nullopt) {
  pio::KvCacheShape shape = model.text().kv_shape();
  if (kv_dtype) shape.dtype = *kv_dtype;
  pio::PagedKvCache cache(model.text().backend(), shape, 1 << 24);
  const pio::SequenceId seq = cache.pool().add_sequence();
  std::vector<pio::Pos3> pos;
  pio::text_positions(0, static_cast<int64_t>(ids.size()), pos);
  pio::ForwardBatch batch;
  batch.steps.push_back({static_cast<int64_t>(ids.size()), true, {}, 0});
  batch.ids = ids;
  batch.positions = pos;
  const auto logits = cache.forward(model.text(), batch, {&seq, 1});
  return {logits.begin(), logits.end()};
}

}  // namespace test
