// Every refusal names its problem with a ModelError.
#include <boost/test/unit_test.hpp>

#include "model/errors.h"
#include "model/mm_positions.h"
#include "model/vision_model.h"
#include "vision_support.h"

using namespace pio;

namespace {

const ModelConfig kCfg;
const int32_t VS = kCfg.vision_start_token_id, IMG = kCfg.image_token_id, VE = kCfg.vision_end_token_id;

// Runs f and checks it throws a ModelError whose message contains `part`.
template <class F>
void expect_error(F&& f, const std::string& part) {
  try {
    f();
    BOOST_ERROR("expected ModelError containing '" << part << "'");
  } catch (const ModelError& e) {
    BOOST_TEST_MESSAGE(e.what());
    BOOST_TEST(std::string(e.what()).find(part) != std::string::npos, "message: " << e.what());
  }
}

MultimodalPrompt build(const std::vector<int32_t>& ids, const std::vector<ImageGrid>& grids) {
  return build_multimodal_prompt(ids, grids, kCfg, 2);
}

}  // namespace

BOOST_AUTO_TEST_CASE(placeholder_count_differs_from_images) {
  expect_error([] { build({1, VS, IMG, VE, 2}, {{1, 4, 4}, {1, 4, 4}}); }, "1 image placeholder runs but 2 images");
  expect_error([] { build({VS, IMG, VE, VS, IMG, VE}, {{1, 4, 4}}); }, "more image placeholder runs than the 1 images");
  expect_error([] { build({1, 2}, {{1, 4, 4}}); }, "0 image placeholder runs but 1 images");
}

BOOST_AUTO_TEST_CASE(placeholder_run_of_wrong_length) {
  expect_error([] { build({VS, IMG, IMG, VE}, {{1, 4, 4}}); }, "needs 4 image tokens, its placeholder run has 2");
  expect_error([] { build({VS, IMG, IMG}, {{1, 4, 4}}); }, "not closed by <|vision_end|>");
  expect_error([] { build({1, IMG, 2}, {}); }, "not inside a <|vision_start|>");
  expect_error([] { build({VS, IMG, VE}, {{1, 3, 4}}); }, "not a multiple of the merge size");
  expect_error([] { build({VS, kCfg.video_token_id, VE}, {}); }, "video input is not supported");
}

BOOST_AUTO_TEST_CASE(checkpoint_without_vision_tensors) {
  const vtest::TinyModel& text_only = vtest::tiny(DType::F32, vtest::Weights::text_only);
  expect_error([&] { load_vision_weights(text_only.ckpt, *text_only.config.vision); }, "has no vision tower");
}

BOOST_AUTO_TEST_CASE(checkpoint_disagreeing_with_the_config) {
  const vtest::TinyModel& tiny = vtest::tiny(DType::F32);
  VisionConfig deeper = *tiny.config.vision;
  ++deeper.depth;
  expect_error([&] { load_vision_weights(tiny.ckpt, deeper); }, "blocks.4.norm1.weight");
  VisionConfig shallower = *tiny.config.vision;
  --shallower.depth;
  shallower.deepstack_visual_indexes = {1};
  expect_error([&] { load_vision_weights(tiny.ckpt, shallower); }, "more vision blocks than depth");
  VisionConfig act = *tiny.config.vision;
  act.hidden_act = "silu";
  expect_error([&] { load_vision_weights(tiny.ckpt, act); }, "hidden_act 'silu' is not supported");
}

BOOST_AUTO_TEST_CASE(image_not_matching_the_config) {
  const vtest::TinyModel& tiny = vtest::tiny(DType::F32);
  const VisionConfig& cfg = *tiny.config.vision;
  auto be = make_cpu_backend(1);
  const VisionWeights weights = load_vision_weights(tiny.ckpt, cfg);
  VisionModel model(cfg, weights, *be);
  PixelValues odd = vtest::random_image(cfg, 1, 4, 4, 1);
  odd.grid_w = 3;
  expect_error([&] { model.encode(std::span(&odd, 1)); }, "not a multiple of spatial_merge_size");
  PixelValues short_data = vtest::random_image(cfg, 1, 4, 4, 1);
  short_data.data.pop_back();
  expect_error([&] { model.encode(std::span(&short_data, 1)); }, "its grid needs");
  PixelValues patch14 = vtest::random_image(cfg, 1, 4, 4, 1);
  patch14.patch_size = 14;
  expect_error([&] { model.encode(std::span(&patch14, 1)); }, "the vision config expects");
}
