// The vision half of `pio bench`: preprocessing and vision-encode time per image size, and
// time to first token for an image+text chat prompt.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/model_weights.h"
#include "model/text_model.h"

namespace pio::cli {

struct VisionBenchOptions {
  std::vector<std::string> sizes;  // "WxH"; the first is also the TTFT prompt's image
  int runs = 3;
  KvDType kv_dtype = KvDType::F32;  // the TTFT prompt's KV cache
};

// Adds its figures to `out`; prints them to `text` when it is set. The vision runner computes on
// `vision_backend`, the TTFT prompt's prefill on the decoder's.
void bench_vision(const ModelWeights& weights, TextModel& decoder, Backend& vision_backend, const std::string& model_dir, const VisionBenchOptions& options,
                  nlohmann::ordered_json& out, std::ostream* text);

}  // namespace pio::cli
