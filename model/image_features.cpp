#include "model/image_features.h"

#include <cstring>

#include "model/errors.h"
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

void write_image_features(const std::filesystem::path& path, const ImageFeatures& f) {
  const auto k = static_cast<int64_t>(f.deepstack.size());
  const std::vector<TensorSpec> specs{{"image_embeds", DType::F32, {f.tokens, f.hidden}},
                                      {"deepstack", DType::F32, {k, f.tokens, f.hidden}},
                                      {"grid_thw", DType::I64, {static_cast<int64_t>(f.grids.size()), 3}}};
  write_safetensors(path, specs, [&](const TensorSpec& t, std::vector<unsigned char>& out) {
    unsigned char* p = out.data();
    if (t.name == "image_embeds") {
      std::memcpy(p, f.embeds.data(), out.size());
    } else if (t.name == "deepstack") {
      for (const auto& d : f.deepstack) p = static_cast<unsigned char*>(std::memcpy(p, d.data(), d.size() * 4)) + d.size() * 4;
    } else {
      for (const auto& g : f.grids)
        for (int64_t v : {g.t, g.h, g.w}) p = static_cast<unsigned char*>(std::memcpy(p, &v, 8)) + 8;
    }
  });
}

namespace {

std::vector<float> as_floats(const TensorInfo& t) {
  std::vector<float> out(static_cast<size_t>(t.numel()));
  if (t.dtype == DType::F32) std::memcpy(out.data(), t.data, t.bytes);
  else throw ModelError("tensor '" + t.name + "' must be F32");
  return out;
}

}  // namespace

ImageFeatures read_image_features(const std::filesystem::path& path) {
  const auto file = SafetensorsFile::open(path);
  const auto get = [&](const char* name) -> const TensorInfo& {
    const auto it = file->tensors().find(name);
    if (it == file->tensors().end()) throw ModelError(path.string() + ": no tensor '" + name + "'");
    return it->second;
  };
  const TensorInfo& embeds = get("image_embeds");
  const TensorInfo& deepstack = get("deepstack");
  const TensorInfo& grid = get("grid_thw");
  if (embeds.shape.size() != 2 || deepstack.shape.size() != 3 || grid.shape.size() != 2 || grid.shape[1] != 3 ||
      deepstack.shape[1] != embeds.shape[0] || deepstack.shape[2] != embeds.shape[1])
    throw ModelError(path.string() + ": expected image_embeds [n, hidden], deepstack [k, n, hidden], grid_thw [images, 3]");
  if (grid.dtype != DType::I32 && grid.dtype != DType::I64)
    throw ModelError(path.string() + ": grid_thw must be int32 or int64");
  ImageFeatures f;
  f.tokens = embeds.shape[0];
  f.hidden = embeds.shape[1];
  try {
    f.embeds = as_floats(embeds);
    const auto all = as_floats(deepstack);
    const auto per = static_cast<size_t>(f.tokens * f.hidden);
    for (int64_t k = 0; k < deepstack.shape[0]; ++k)
      f.deepstack.emplace_back(all.begin() + static_cast<std::ptrdiff_t>(k * per),
                               all.begin() + static_cast<std::ptrdiff_t>((k + 1) * per));
  } catch (const ModelError& e) {
    throw ModelError(path.string() + ": " + e.what());
  }
  for (int64_t i = 0; i < grid.shape[0]; ++i) {
    int64_t v[3];
    for (int j = 0; j < 3; ++j) {
      if (grid.dtype == DType::I64) std::memcpy(&v[j], static_cast<const char*>(grid.data) + (i * 3 + j) * 8, 8);
      else {
        int32_t x;
        std::memcpy(&x, static_cast<const char*>(grid.data) + (i * 3 + j) * 4, 4);
        v[j] = x;
      }
    }
    f.grids.push_back({v[0], v[1], v[2]});
  }
  return f;
}

}  // namespace pio
