// The vision encoder's output for a set of images — what the LLM consumes and what the
// vision-embedding cache stores — and its safetensors file form (`pio encode-image`,
// `--image-embeds`): image_embeds [n, hidden], deepstack [k, n, hidden], grid_thw [images, 3].
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "model/mm_positions.h"
#include "model/vision_model.h"

namespace pio {

struct ImageFeatures {
  std::vector<ImageGrid> grids;               // per image, in patches
  int64_t tokens = 0;                         // merged tokens of all images
  int64_t hidden = 0;
  std::vector<float> embeds;                  // [tokens, hidden]
  std::vector<std::vector<float>> deepstack;  // per DeepStack layer: [tokens, hidden]
};

ImageFeatures encode_images(VisionModel& vision, std::span<const PixelValues> images);
// The features of a finished encode (VisionModel::finish) of these images; hidden: the
// encoder's out_hidden_size.
ImageFeatures image_features_of(const VisionOutput& out, std::span<const PixelValues> images, int64_t hidden);

void write_image_features(const std::filesystem::path& path, const ImageFeatures& f);
// The bytes write_image_features writes (the vision cache's value).
std::string image_features_bytes(const ImageFeatures& f);
// Throws ModelError naming the file when a tensor is missing or not F32 / integer, the shapes
// disagree or are empty, deepstack holds no set (or over 1024), a grid_thw value lies outside
// [1, 2^17], or the grids' patches are not the image_embeds rows times merge² for one merge
// size dividing every grid's height and width.
ImageFeatures read_image_features(const std::filesystem::path& path);
// The same from a file's bytes in memory; `name` stands for the path in errors.
ImageFeatures image_features_from_bytes(std::string bytes, const std::string& name);

// Per image: the features of each of f's images, in order (merge: the spatial merge size).
// Throws ModelError when f's grids do not account for its rows.
std::vector<ImageFeatures> split_image_features(const ImageFeatures& f, int64_t merge);
// The features of several encodes as one, images in order. Throws ModelError when their
// hidden sizes or DeepStack counts differ.
ImageFeatures concat_image_features(std::span<const ImageFeatures> parts);

}  // namespace pio
