// A plain reference forward pass of the Qwen3-VL text decoder for the tests: loops in double
// precision straight from the safetensors bytes, sharing no kernel with pio.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

namespace ref {

struct Pos {
  int64_t t, h, w;
};

// Logits [ids.size(), vocab] (row-major) of the whole sequence, computed from scratch.
// Positions default to 0, 1, 2, ... on all axes when empty.
std::vector<double> text_logits(const std::filesystem::path& model_dir, const std::vector<int32_t>& ids,
                                std::vector<Pos> positions = {});

}  // namespace ref
