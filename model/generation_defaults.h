// The sampling defaults a checkpoint's generation_config.json recommends, as vLLM's
// `--generation-config auto` (its default) applies them to OpenAI requests that leave a field
// out (vLLM's ModelConfig.get_diff_sampling_param): repetition_penalty, temperature, top_k,
// top_p, min_p and max_new_tokens (vLLM's max_tokens). Other fields (do_sample, eos_token_id...)
// are not sampling defaults.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace pio {

struct GenerationDefaults {
  std::optional<float> temperature;         // >= 0 (0: greedy)
  std::optional<float> top_p;               // (0, 1]
  std::optional<int> top_k;                 // >= 0 (0: no limit; the file's -1 reads as 0, as vLLM)
  std::optional<float> min_p;               // [0, 1]
  std::optional<float> repetition_penalty;  // > 0
  std::optional<int32_t> max_tokens;        // >= 1, from max_new_tokens

  bool empty() const {
    return !temperature && !top_p && !top_k && !min_p && !repetition_penalty && !max_tokens;
  }
  // "temperature 0.7, top_p 0.8, top_k 20, repetition_penalty 1" (the fields set), or "none".
  std::string describe() const;
};

// The defaults in generation_config.json of directory `dir`; none when the file is absent.
// Throws std::runtime_error naming the file and field for JSON that does not parse, a field of
// the wrong type or out of its range.
GenerationDefaults load_generation_defaults(const std::filesystem::path& dir);

// Fields of a JSON object (vLLM's --override-generation-config) laid over `defaults`: the same
// checks, and only the six fields above. Throws std::runtime_error.
GenerationDefaults override_generation_defaults(GenerationDefaults defaults, std::string_view json_object);

}  // namespace pio
