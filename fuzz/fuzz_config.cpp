// config.json of a checkpoint, loaded as `--model DIR` loads it. What pio accepts it also writes
// back (make-checkpoint), so an accepted config must serialise to one it accepts unchanged.
#include <nlohmann/json.hpp>

#include "fuzz/harness.h"
#include "fuzz/scratch_file.h"
#include "model/config.h"

void pio::fuzz::fuzz_one(std::span<const uint8_t> data) {
  const ModelConfig cfg = load_model_config(write_scratch_file("config.json", data));
  const nlohmann::json written = to_hf_json(cfg);
  require(to_hf_json(parse_model_config(written, "to_hf_json")) == written,
          "to_hf_json of an accepted config parses back to the same config");
}
