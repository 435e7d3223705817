// Placeholder expansion and 3D positions, worked by hand from get_rope_index's rules, plus the
// HF processor's golden for a 256x256 image.
#include <boost/test/unit_test.hpp>

#include <numeric>

#include "model/mm_positions.h"

using namespace pio;

namespace {

const ModelConfig kCfg;  // the genuine Qwen3-VL special token ids
const int32_t VS = kCfg.vision_start_token_id, IMG = kCfg.image_token_id, VE = kCfg.vision_end_token_id;
constexpr int kMerge = 2;

std::vector<Pos3> positions(std::initializer_list<std::array<int32_t, 3>> thw) {
  std::vector<Pos3> out;
  for (const auto& p : thw) out.push_back({p[0], p[1], p[2]});
  return out;
}

void check_positions(const std::vector<Pos3>& got, const std::vector<Pos3>& want) {
  BOOST_REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    BOOST_TEST_CONTEXT("token " << i) {
      BOOST_TEST(got[i].t == want[i].t);
      BOOST_TEST(got[i].h == want[i].h);
      BOOST_TEST(got[i].w == want[i].w);
    }
  }
}

std::vector<int64_t> range(int64_t first, int64_t n) {
  std::vector<int64_t> r(static_cast<size_t>(n));
  std::iota(r.begin(), r.end(), first);
  return r;
}

}  // namespace

// Text, a 4x6-patch image (2x3 merged tokens), text. The image starts after <|vision_start|>
// at 3 and takes max(2, 3) = 3 positions, so <|vision_end|> sits at 6.
BOOST_AUTO_TEST_CASE(text_image_text) {
  const std::vector<int32_t> ids{10, 11, VS, IMG, VE, 12, 13};
  const std::vector<ImageGrid> grids{{1, 4, 6}};
  const MultimodalPrompt p = build_multimodal_prompt(ids, grids, kCfg, kMerge);
  const std::vector<int32_t> want_ids{10, 11, VS, IMG, IMG, IMG, IMG, IMG, IMG, VE, 12, 13};
  BOOST_TEST(p.ids == want_ids);
  check_positions(p.positions, positions({{0, 0, 0}, {1, 1, 1}, {2, 2, 2},
                                          {3, 3, 3}, {3, 3, 4}, {3, 3, 5}, {3, 4, 3}, {3, 4, 4}, {3, 4, 5},
                                          {6, 6, 6}, {7, 7, 7}, {8, 8, 8}}));
  BOOST_TEST(p.visual_rows == range(3, 6));
  BOOST_TEST(p.next_position == 9);
  BOOST_TEST(p.rope_delta == 9 - 12);
}

// A 4x4-patch image (2x2 tokens) then a tall 6x2 one (3x1 tokens), the second placeholder
// already expanded to its 3 tokens.
BOOST_AUTO_TEST_CASE(two_images_of_different_sizes) {
  const std::vector<int32_t> ids{VS, IMG, VE, VS, IMG, IMG, IMG, VE, 20};
  const std::vector<ImageGrid> grids{{1, 4, 4}, {1, 6, 2}};
  const MultimodalPrompt p = build_multimodal_prompt(ids, grids, kCfg, kMerge);
  check_positions(p.positions, positions({{0, 0, 0},
                                          {1, 1, 1}, {1, 1, 2}, {1, 2, 1}, {1, 2, 2},
                                          {3, 3, 3}, {4, 4, 4},
                                          {5, 5, 5}, {5, 6, 5}, {5, 7, 5},
                                          {8, 8, 8}, {9, 9, 9}}));
  BOOST_TEST(p.visual_rows == (std::vector<int64_t>{1, 2, 3, 4, 7, 8, 9}));
  BOOST_TEST(p.next_position == 10);
  BOOST_TEST(p.rope_delta == 10 - 12);
}

// The second user turn brings an 8x4-patch image (4x2 tokens) after a 5-token first exchange.
// Computing the second turn alone, continuing from the first turn's state, gives the same
// positions and rope_delta as the whole conversation at once.
BOOST_AUTO_TEST_CASE(image_in_the_second_turn) {
  const std::vector<int32_t> turn1{1, 2, 3, 4, 5};
  const std::vector<int32_t> turn2{7, VS, IMG, VE, 8, 9};
  std::vector<int32_t> all = turn1;
  all.insert(all.end(), turn2.begin(), turn2.end());
  const std::vector<ImageGrid> grids{{1, 8, 4}};

  const MultimodalPrompt whole = build_multimodal_prompt(all, grids, kCfg, kMerge);
  check_positions(whole.positions, positions({{0, 0, 0}, {1, 1, 1}, {2, 2, 2}, {3, 3, 3}, {4, 4, 4},
                                              {5, 5, 5}, {6, 6, 6},
                                              {7, 7, 7}, {7, 7, 8}, {7, 8, 7}, {7, 8, 8},
                                              {7, 9, 7}, {7, 9, 8}, {7, 10, 7}, {7, 10, 8},
                                              {11, 11, 11}, {12, 12, 12}, {13, 13, 13}}));
  BOOST_TEST(whole.visual_rows == range(7, 8));
  BOOST_TEST(whole.rope_delta == 14 - 18);

  const MultimodalPrompt first = build_multimodal_prompt(turn1, {}, kCfg, kMerge);
  const MultimodalPrompt second = build_multimodal_prompt(
      turn2, grids, kCfg, kMerge, PromptStart{static_cast<int64_t>(first.ids.size()), first.next_position});
  check_positions(second.positions, std::vector<Pos3>(whole.positions.begin() + 5, whole.positions.end()));
  BOOST_TEST(second.visual_rows == range(2, 8));  // rows within the second chunk
  BOOST_TEST(second.rope_delta == whole.rope_delta);
}

// With an image in both turns the continuation starts from a position ahead of the token count.
BOOST_AUTO_TEST_CASE(continuation_after_an_image_turn) {
  const std::vector<int32_t> turn1{1, VS, IMG, VE, 2};
  const std::vector<int32_t> turn2{3, VS, IMG, VE};
  std::vector<int32_t> all = turn1;
  all.insert(all.end(), turn2.begin(), turn2.end());
  const std::vector<ImageGrid> grids{{1, 10, 2}, {1, 4, 8}};
  const MultimodalPrompt whole = build_multimodal_prompt(all, grids, kCfg, kMerge);
  const MultimodalPrompt first = build_multimodal_prompt(turn1, std::span(grids).first(1), kCfg, kMerge);
  BOOST_TEST(first.next_position == 9);  // 2 text, the image's max(5, 1), 2 text
  BOOST_TEST(first.rope_delta == 9 - 9);
  const MultimodalPrompt second = build_multimodal_prompt(
      turn2, std::span(grids).last(1), kCfg, kMerge,
      PromptStart{static_cast<int64_t>(first.ids.size()), first.next_position});
  check_positions(second.positions, std::vector<Pos3>(whole.positions.begin() + 9, whole.positions.end()));
  BOOST_TEST(second.rope_delta == whole.rope_delta);
}

// HF Qwen3VLProcessor + get_rope_index on "<|im_start|>user\n<|vision_start|><|image_pad|>
// <|vision_end|>Describe.<|im_end|>\n<|im_start|>assistant\n" with a 256x256 image, grid 1x16x16
// (../shared/data/hf-goldens/qwen3vl_2b_processor_256_describe/expected.json). Only the vision
// ids are known there; other text ids do not affect positions.
BOOST_AUTO_TEST_CASE(hf_golden_256_describe) {
  std::vector<int32_t> ids{100, 101, 102, VS, IMG, VE};
  for (int32_t i = 0; i < 7; ++i) ids.push_back(200 + i);
  const std::vector<ImageGrid> grids{{1, 16, 16}};
  const MultimodalPrompt p = build_multimodal_prompt(ids, grids, kCfg, kMerge);

  const std::vector<int32_t> kT{0, 1, 2, 3, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 12, 13, 14, 15, 16, 17, 18, 19};
  const std::vector<int32_t> kH{0, 1, 2, 3, 4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7, 8, 8, 8, 8, 8, 8, 8, 8, 9, 9, 9, 9, 9, 9, 9, 9, 10, 10, 10, 10, 10, 10, 10, 10, 11, 11, 11, 11, 11, 11, 11, 11, 12, 13, 14, 15, 16, 17, 18, 19};
  const std::vector<int32_t> kW{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 4, 5, 6, 7, 8, 9, 10, 11, 4, 5, 6, 7, 8, 9, 10, 11, 4, 5, 6, 7, 8, 9, 10, 11, 4, 5, 6, 7, 8, 9, 10, 11, 4, 5, 6, 7, 8, 9, 10, 11, 4, 5, 6, 7, 8, 9, 10, 11, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19};
  std::vector<Pos3> want;
  for (size_t i = 0; i < kT.size(); ++i) want.push_back({kT[i], kH[i], kW[i]});

  BOOST_TEST(p.ids.size() == 76u);
  BOOST_TEST(p.ids[3] == VS);
  BOOST_TEST(p.ids[68] == VE);
  check_positions(p.positions, want);
  BOOST_TEST(p.visual_rows == range(4, 64));
  BOOST_TEST(p.rope_delta == -56);
  BOOST_TEST(image_token_count(grids[0], kMerge) == 64);
}

// <|vision_start|> followed by something other than an image placeholder is ordinary text.
BOOST_AUTO_TEST_CASE(text_only_prompt_is_arange) {
  const std::vector<int32_t> ids{5, VS, 6, VE};
  const MultimodalPrompt p = build_multimodal_prompt(ids, {}, kCfg, kMerge);
  check_positions(p.positions, positions({{0, 0, 0}, {1, 1, 1}, {2, 2, 2}, {3, 3, 3}}));
  BOOST_TEST(p.visual_rows.empty());
  BOOST_TEST(p.rope_delta == 0);
}
