// Shared helpers for the model tests: temporary checkpoints and running pio's forward pass.
#pragma once

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "model/checkpoint_maker.h"
#include "model/model.h"

namespace test {

// A fresh directory under the system temp dir, removed when the object dies.
class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() / ("pio-test-" + tag + "-" + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// The tiny preset's text tower with the vocabulary cut down so double-precision reference
// runs stay fast, in the given dtype.
inline pio::ModelConfig small_text_config(const std::string& dtype) {
  pio::ModelConfig c = pio::preset_config("tiny");
  c.text.vocab_size = 512;
  c.text.dtype = dtype;
  c.vision.reset();
  return c;
}

// All-position logits for ids, run through pio's TextModel in one prefill.
inline std::vector<float> pio_logits(pio::Model& model, const std::vector<int32_t>& ids) {
  pio::PagedKvCache cache(model.text().kv_shape(), 1 << 24);
  const pio::SequenceId seq = cache.add_sequence();
  std::vector<pio::Pos3> pos;
  pio::text_positions(0, static_cast<int64_t>(ids.size()), pos);
  pio::ForwardBatch batch;
  batch.steps.push_back({seq, static_cast<int64_t>(ids.size()), true});
  batch.ids = ids;
  batch.positions = pos;
  const auto logits = model.text().forward(batch, cache);
  return {logits.begin(), logits.end()};
}

// max |a - b| / max |b|: the error relative to the logits' scale.
template <class A, class B>
double max_relative_error(const A& a, const B& b) {
  double diff = 0, scale = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    diff = std::max(diff, std::abs(double(a[i]) - double(b[i])));
    scale = std::max(scale, std::abs(double(b[i])));
  }
  return diff / scale;
}

}  // namespace test
