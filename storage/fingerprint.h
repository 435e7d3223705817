// The model fingerprint that prefixes every cache key, so no entry is ever used with another
// model, another copy of its weights, or another compute dtype.
#pragma once

#include <filesystem>
#include <string>

namespace pio {

// A hash of config.json's contents, the name, size and modification time of every other
// .json and .safetensors file of `model_dir` (hashing GBs of weights at every start would cost
// seconds), and `dtype` (the precision the runtime computes and caches in). Throws
// std::filesystem::filesystem_error when the directory cannot be listed.
std::string model_fingerprint(const std::filesystem::path& model_dir, const std::string& dtype);

}  // namespace pio
