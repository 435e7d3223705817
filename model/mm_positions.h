// Multimodal prompt assembly: each image placeholder run becomes the image's token count, and
// every token gets its 3D (t, h, w) M-RoPE position exactly as HF's get_rope_index computes it.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "model/config.h"
#include "model/rope.h"

namespace pio {

struct ImageGrid {
  int64_t t = 1, h = 0, w = 0;  // in patches, as grid_thw
};

// Whether a grid can be placed: every side in [1, limits::kMaxGrid] (so token counts stay far
// from overflow) and h and w multiples of merge_size.
bool grid_fits(const ImageGrid& grid, int merge_size);
// Language-model tokens of an image after the merge_size x merge_size merger (for a grid that fits).
int64_t image_token_count(const ImageGrid& grid, int merge_size);

// Where the prompt starts: after `tokens` already cached tokens whose next free position is
// `position` (a later turn continuing a conversation). Both 0 for a fresh prompt.
struct PromptStart {
  int64_t tokens = 0;
  int32_t position = 0;
};

struct MultimodalPrompt {
  std::vector<int32_t> ids;          // placeholders expanded
  std::vector<Pos3> positions;       // one per id
  std::vector<int64_t> visual_rows;  // rows of ids holding image tokens, images in order: where
                                     // image_embeds rows and DeepStack features go
  int32_t next_position = 0;         // max position + 1: where the next token goes
  int64_t rope_delta = 0;            // next_position - (start.tokens + ids.size())
};

// A placeholder run is <|vision_start|>, image_token_id once (expanded) or exactly the image's
// token count times, <|vision_end|>; runs take the images in order. Throws ModelError when the
// runs and images differ in number, a run has the wrong length or is not closed, an image token
// stands outside a run, a grid does not fit, positions pass the int32 range, or the prompt holds
// a video.
MultimodalPrompt build_multimodal_prompt(std::span<const int32_t> ids, std::span<const ImageGrid> images,
                                         const ModelConfig& cfg, int merge_size, PromptStart start = {});

}  // namespace pio
