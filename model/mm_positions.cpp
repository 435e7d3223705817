#include "model/mm_positions.h"

#include <algorithm>
#include <limits>
#include <string>

#include "model/errors.h"
#include "model/limits.h"

namespace pio {
namespace {

std::string grid_string(const ImageGrid& g) {
  return std::to_string(g.t) + "x" + std::to_string(g.h) + "x" + std::to_string(g.w);
}

// Appends one image's tokens at `base`: t = base + frame, h = base + row, w = base + col on the
// merged grid. Returns the next free position, base + max(T, H, W).
int32_t append_image(MultimodalPrompt& p, const ImageGrid& g, int merge, int32_t image_id, int32_t base) {
  const int64_t gh = g.h / merge, gw = g.w / merge;
  if (base + std::max({g.t, gh, gw}) > std::numeric_limits<int32_t>::max())
    throw ModelError("the prompt's positions exceed the int32 range of M-RoPE positions");
  for (int64_t t = 0; t < g.t; ++t)
    for (int64_t r = 0; r < gh; ++r)
      for (int64_t c = 0; c < gw; ++c) {
        p.visual_rows.push_back(static_cast<int64_t>(p.ids.size()));
        p.ids.push_back(image_id);
        p.positions.push_back({static_cast<int32_t>(base + t), static_cast<int32_t>(base + r),
                               static_cast<int32_t>(base + c)});
      }
  return static_cast<int32_t>(base + std::max({g.t, gh, gw}));
}

}  // namespace

bool grid_fits(const ImageGrid& g, int merge_size) {
  const auto side = [](int64_t v) { return v >= 1 && v <= limits::kMaxGrid; };
  return side(g.t) && side(g.h) && side(g.w) && merge_size >= 1 && g.h % merge_size == 0 && g.w % merge_size == 0;
}

int64_t image_token_count(const ImageGrid& g, int merge_size) {
  return g.t * (g.h / merge_size) * (g.w / merge_size);
}

MultimodalPrompt build_multimodal_prompt(std::span<const int32_t> ids, std::span<const ImageGrid> images,
                                         const ModelConfig& cfg, int merge, PromptStart start) {
  const int32_t image_id = cfg.image_token_id;
  if (std::find(ids.begin(), ids.end(), cfg.video_token_id) != ids.end())
    throw ModelError("the prompt holds a video placeholder; video input is not supported");
  MultimodalPrompt p;
  int32_t pos = start.position;
  size_t image = 0;
  for (size_t i = 0; i < ids.size();) {
    const int32_t id = ids[i];
    if (id == image_id)
      throw ModelError("image placeholder token at prompt position " + std::to_string(i) +
                       " is not inside a <|vision_start|> ... <|vision_end|> run");
    p.ids.push_back(id);
    p.positions.push_back({pos, pos, pos});
    ++pos;
    ++i;
    if (id != cfg.vision_start_token_id || i == ids.size() || ids[i] != image_id) continue;
    if (image >= images.size())
      throw ModelError("the prompt has more image placeholder runs than the " + std::to_string(images.size()) +
                       " images given");
    const ImageGrid& g = images[image];
    if (!grid_fits(g, merge))
      throw ModelError("image " + std::to_string(image) + ": grid " + grid_string(g) + " is empty, over " +
                       std::to_string(limits::kMaxGrid) + " on a side or not a multiple of the merge size " +
                       std::to_string(merge));
    const size_t run_begin = i;
    while (i < ids.size() && ids[i] == image_id) ++i;
    const auto run = static_cast<int64_t>(i - run_begin), need = image_token_count(g, merge);
    if (i == ids.size() || ids[i] != cfg.vision_end_token_id)
      throw ModelError("image placeholder run at prompt position " + std::to_string(run_begin) +
                       " is not closed by <|vision_end|>");
    if (run != 1 && run != need)
      throw ModelError("image " + std::to_string(image) + " (grid " + grid_string(g) + ") needs " +
                       std::to_string(need) + " image tokens, its placeholder run has " + std::to_string(run));
    pos = append_image(p, g, merge, image_id, pos);
    ++image;
  }
  if (image != images.size())
    throw ModelError("the prompt has " + std::to_string(image) + " image placeholder runs but " +
                     std::to_string(images.size()) + " images were given");
  p.next_position = pos;
  p.rope_delta = int64_t{pos} - (start.tokens + static_cast<int64_t>(p.ids.size()));
  return p;
}

}  // namespace pio
