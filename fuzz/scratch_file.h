// Loaders that take a path or a model directory read fuzz inputs from this process's scratch
// directory: created once under the system temp dir, removed when the process exits normally.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string_view>

namespace pio::fuzz {

// Writes `data` to the file `name` in the scratch directory (replacing the last input of that
// name) and returns the directory.
std::filesystem::path write_scratch_file(std::string_view name, std::span<const uint8_t> data);

}  // namespace pio::fuzz
