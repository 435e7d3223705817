#include "model/image_features.h"

#include <algorithm>
#include <cstring>
#include <sstream>
#include <string>

#include "model/errors.h"
#include "model/limits.h"
#include "model/safetensors.h"
#include "model/safetensors_writer.h"

namespace pio {

ImageFeatures encode_images(VisionModel& vision, std::span<const PixelValues> images) {
  return image_features_of(vision.encode(images), images, vision.config().out_hidden_size);
}

ImageFeatures image_features_of(const VisionOutput& out, std::span<const PixelValues> images, int64_t hidden) {
  ImageFeatures f;
  for (const auto& img : images) f.grids.push_back({img.grid_t, img.grid_h, img.grid_w});
  f.tokens = out.tokens;
  f.hidden = hidden;
  f.embeds.assign(out.image_embeds.begin(), out.image_embeds.end());
  for (const auto& ds : out.deepstack) f.deepstack.emplace_back(ds.begin(), ds.end());
  return f;
}

namespace {

std::vector<TensorSpec> feature_specs(const ImageFeatures& f) {
  const auto k = static_cast<int64_t>(f.deepstack.size());
  const std::vector<TensorSpec> specs{{"image_embeds", DType::F32, {f.tokens, f.hidden}},
                                      {"deepstack", DType::F32, {k, f.tokens, f.hidden}},
                                      {"grid_thw", DType::I64, {static_cast<int64_t>(f.grids.size()), 3}}};
  return specs;
}

TensorFiller feature_filler(const ImageFeatures& f) {
  return [&f](const TensorSpec& t, std::vector<unsigned char>& out) {
    unsigned char* p = out.data();
    if (t.name == "image_embeds") {
      std::memcpy(p, f.embeds.data(), out.size());
    } else if (t.name == "deepstack") {
      for (const auto& d : f.deepstack) p = static_cast<unsigned char*>(std::memcpy(p, d.data(), d.size() * 4)) + d.size() * 4;
    } else {
      for (const auto& g : f.grids)
        for (int64_t v : {g.t, g.h, g.w}) p = static_cast<unsigned char*>(std::memcpy(p, &v, 8)) + 8;
    }
  };
}

}  // namespace

void write_image_features(const std::filesystem::path& path, const ImageFeatures& f) {
  write_safetensors(path, feature_specs(f), feature_filler(f));
}

std::string image_features_bytes(const ImageFeatures& f) {
  std::ostringstream out(std::ios::binary);
  write_safetensors(out, "image features", feature_specs(f), feature_filler(f));
  return std::move(out).str();
}

namespace {

// A float32 tensor's values; the caller has checked its shape (never empty).
std::vector<float> as_floats(const TensorInfo& t) {
  if (t.dtype != DType::F32) throw ModelError("tensor '" + t.name + "' must be F32");
  std::vector<float> out(static_cast<size_t>(t.numel()));
  std::memcpy(out.data(), t.data, t.bytes);
  return out;
}

int64_t grid_value(const TensorInfo& grid, int64_t i) {
  if (grid.dtype == DType::I64) return static_cast<const int64_t*>(grid.data)[i];
  return static_cast<const int32_t*>(grid.data)[i];
}

// grid_thw, checked against the rows it must account for: every value in [1, kMaxGrid], and
// the patches of all images equal to rows x merge² for one merge size that divides every
// image's height and width (the merge size is the model's, which the file does not name).
std::vector<ImageGrid> read_grids(const TensorInfo& grid, int64_t rows, const std::string& where) {
  std::vector<ImageGrid> grids;
  int64_t patches = 0;
  bool overflow = false;
  for (int64_t i = 0; i < grid.shape[0]; ++i) {
    int64_t v[3];
    for (int64_t j = 0; j < 3; ++j) {
      v[j] = grid_value(grid, i * 3 + j);
      if (v[j] < 1 || v[j] > limits::kMaxGrid)
        throw ModelError(where + "grid_thw[" + std::to_string(i) + "] holds " + std::to_string(v[j]) +
                         ", outside the allowed range [1, " + std::to_string(limits::kMaxGrid) + "]");
    }
    grids.push_back({v[0], v[1], v[2]});
    overflow = overflow || __builtin_add_overflow(patches, v[0] * v[1] * v[2], &patches);
  }
  int64_t merge = 1;
  while (!overflow && merge < limits::kMaxMergeSize && rows * merge * merge < patches) ++merge;
  const bool divides = std::all_of(grids.begin(), grids.end(), [&](const ImageGrid& g) {
    return g.h % merge == 0 && g.w % merge == 0;
  });
  if (overflow || rows * merge * merge != patches || !divides)
    throw ModelError(where + "grid_thw does not match image_embeds: its images hold " +
                     (overflow ? std::string("over 2^63") : std::to_string(patches)) + " patches, which no "
                     "merge size turns into the " + std::to_string(rows) + " image_embeds rows");
  return grids;
}

// The features in a parsed encode-image file, every shape checked.
ImageFeatures features_of(const SafetensorsFile& file, const std::string& source) {
  const std::string where = source + ": ";
  const auto get = [&](const char* name) -> const TensorInfo& {
    const auto it = file.tensors().find(name);
    if (it == file.tensors().end()) throw ModelError(where + "no tensor '" + name + "'");
    return it->second;
  };
  const TensorInfo& embeds = get("image_embeds");
  const TensorInfo& deepstack = get("deepstack");
  const TensorInfo& grid = get("grid_thw");
  if (embeds.shape.size() != 2 || deepstack.shape.size() != 3 || grid.shape.size() != 2 || grid.shape[1] != 3 ||
      deepstack.shape[1] != embeds.shape[0] || deepstack.shape[2] != embeds.shape[1])
    throw ModelError(where + "expected image_embeds [n, hidden], deepstack [k, n, hidden], grid_thw [images, 3]");
  if (embeds.shape[0] < 1 || embeds.shape[1] < 1 || grid.shape[0] < 1)
    throw ModelError(where + "image_embeds and grid_thw must hold at least one image token and one image");
  if (embeds.shape[1] > limits::kMaxHidden)
    throw ModelError(where + "image_embeds rows of " + std::to_string(embeds.shape[1]) + " values exceed the largest "
                     "hidden size, " + std::to_string(limits::kMaxHidden));
  // Qwen3-VL's features always carry DeepStack sets (config.json requires at least one).
  if (deepstack.shape[0] < 1 || deepstack.shape[0] > limits::kMaxLayers)
    throw ModelError(where + "deepstack holds " + std::to_string(deepstack.shape[0]) + " feature sets, allowed 1 to " +
                     std::to_string(limits::kMaxLayers));
  if (grid.dtype != DType::I32 && grid.dtype != DType::I64)
    throw ModelError(where + "grid_thw must be int32 or int64");
  ImageFeatures f;
  f.tokens = embeds.shape[0];
  f.hidden = embeds.shape[1];
  f.grids = read_grids(grid, f.tokens, where);
  try {
    f.embeds = as_floats(embeds);
    const auto all = as_floats(deepstack);
    const auto per = static_cast<size_t>(f.tokens * f.hidden);
    for (int64_t k = 0; k < deepstack.shape[0]; ++k)
      f.deepstack.emplace_back(all.begin() + static_cast<std::ptrdiff_t>(k * per),
                               all.begin() + static_cast<std::ptrdiff_t>((k + 1) * per));
  } catch (const ModelError& e) {
    throw ModelError(where + e.what());
  }
  return f;
}

}  // namespace

ImageFeatures read_image_features(const std::filesystem::path& path) {
  return features_of(*SafetensorsFile::open(path), path.string());
}

ImageFeatures image_features_from_bytes(std::string bytes, const std::string& name) {
  return features_of(*SafetensorsFile::from_bytes(std::move(bytes), name), name);
}

std::vector<ImageFeatures> split_image_features(const ImageFeatures& f, int64_t merge) {
  std::vector<ImageFeatures> out;
  int64_t row = 0;
  for (const auto& g : f.grids) {
    const int64_t rows = g.t * g.h * g.w / (merge * merge);
    if (rows < 1 || row + rows > f.tokens) throw ModelError("image features: grids do not match the rows");
    ImageFeatures part;
    part.grids = {g};
    part.tokens = rows;
    part.hidden = f.hidden;
    const auto slice = [&](const std::vector<float>& all) {
      return std::vector<float>(all.begin() + row * f.hidden, all.begin() + (row + rows) * f.hidden);
    };
    part.embeds = slice(f.embeds);
    for (const auto& ds : f.deepstack) part.deepstack.push_back(slice(ds));
    out.push_back(std::move(part));
    row += rows;
  }
  if (row != f.tokens) throw ModelError("image features: grids do not match the rows");
  return out;
}

ImageFeatures concat_image_features(std::span<const ImageFeatures> parts) {
  ImageFeatures f;
  if (parts.empty()) return f;
  f.hidden = parts.front().hidden;
  f.deepstack.resize(parts.front().deepstack.size());
  for (const auto& p : parts) {
    if (p.hidden != f.hidden || p.deepstack.size() != f.deepstack.size())
      throw ModelError("image features: parts differ in hidden size or DeepStack sets");
    f.grids.insert(f.grids.end(), p.grids.begin(), p.grids.end());
    f.tokens += p.tokens;
    f.embeds.insert(f.embeds.end(), p.embeds.begin(), p.embeds.end());
    for (size_t k = 0; k < p.deepstack.size(); ++k)
      f.deepstack[k].insert(f.deepstack[k].end(), p.deepstack[k].begin(), p.deepstack[k].end());
  }
  return f;
}

}  // namespace pio
