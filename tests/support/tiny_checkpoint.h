// The tiny checkpoint (random weights, the real Qwen tokenizer) written once per test run, for
// tests that need a whole model. Needs PIO_QWEN_TOKENIZER_DIR defined for the test target.
#pragma once

#include <filesystem>

#include "model/checkpoint_maker.h"
#include "tests/support/temp_dir.h"

namespace test {

inline const std::filesystem::path& tiny_checkpoint() {
  static TempDir dir{"tiny"};
  static const bool made = [] {
    pio::CheckpointRequest req;
    req.preset = "tiny";
    req.seed = 3;
    req.out = dir.path();
    req.tokenizer_source = PIO_QWEN_TOKENIZER_DIR;
    pio::make_checkpoint(req);
    return true;
  }();
  (void)made;
  return dir.path();
}

}  // namespace test
