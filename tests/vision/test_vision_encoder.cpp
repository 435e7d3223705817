// The vision encoder against the plain double-precision reference, and batches of images
// against each image alone.
#include <boost/test/unit_test.hpp>

#include "model/vision_model.h"
#include "reference_vision.h"
#include "tests/support/relative_error.h"
#include "vision_support.h"

using namespace pio;

namespace {

// Grids the tiny preset (8x8 position table, merge 2) meets in different ways: fewer patches
// than the table (downsampled), more (upsampled, non-square), and a two-frame input whose
// frames attend separately.
std::vector<PixelValues> sample_images(const VisionConfig& cfg) {
  return {vtest::random_image(cfg, 1, 4, 6, 1), vtest::random_image(cfg, 1, 10, 12, 2),
          vtest::random_image(cfg, 2, 4, 4, 3)};
}

struct Errors {
  double embeds = 0, deepstack = 0;
};

// Encodes all images in one call and compares with the reference run image by image.
Errors encode_against_reference(DType dtype, vtest::Weights weights) {
  const vtest::TinyModel& tiny = vtest::tiny(dtype, weights);
  const VisionConfig& cfg = *tiny.config.vision;
  auto be = make_cpu_backend(2);
  const VisionWeights tower = load_vision_weights(tiny.ckpt, cfg);
  VisionModel model(cfg, tower, *be);
  const std::vector<PixelValues> images = sample_images(cfg);
  ref::VisionResult want;
  want.deepstack.resize(cfg.deepstack_visual_indexes.size());
  for (const PixelValues& im : images) {
    const ref::VisionResult one = ref::encode_image(tiny.ckpt, cfg, im);
    want.image_embeds.insert(want.image_embeds.end(), one.image_embeds.begin(), one.image_embeds.end());
    for (size_t k = 0; k < want.deepstack.size(); ++k)
      want.deepstack[k].insert(want.deepstack[k].end(), one.deepstack[k].begin(), one.deepstack[k].end());
  }
  const VisionOutput& got = model.encode(images);
  BOOST_TEST(got.tokens == 6 + 30 + 8);
  BOOST_TEST(got.image_embeds.size() == static_cast<size_t>(got.tokens * cfg.out_hidden_size));
  BOOST_REQUIRE(got.deepstack.size() == want.deepstack.size());
  Errors e;
  e.embeds = test::max_relative_error(got.image_embeds, want.image_embeds);
  for (size_t k = 0; k < want.deepstack.size(); ++k)
    e.deepstack = std::max(e.deepstack, test::max_relative_error(got.deepstack[k], want.deepstack[k]));
  BOOST_TEST_MESSAGE(dtype_name(dtype) << (weights == vtest::Weights::sharp ? " sharp" : " preset")
                                       << " weights: max relative error image_embeds " << e.embeds
                                       << ", deepstack " << e.deepstack);
  return e;
}

}  // namespace

// The error measure is max |pio - reference| / max |reference| over each output.
// f32 weights: pio computes in float32 throughout, so the error is float32 rounding carried
// through 4 blocks and a merger; 2e-5 bounds it (measured: 3e-7 preset, 3e-6 sharp). A swapped
// row/column rotary or a raster-ordered position embedding gives about 1 on the sharp weights.
BOOST_AUTO_TEST_CASE(f32_encoder_matches_reference) {
  for (const auto weights : {vtest::Weights::preset, vtest::Weights::sharp}) {
    const Errors e = encode_against_reference(DType::F32, weights);
    BOOST_TEST(e.embeds < 2e-5);
    BOOST_TEST(e.deepstack < 2e-5);
  }
}

// bf16 weights: the reference uses the same bf16 values exactly. On AVX-512 BF16 CPUs the
// activations entering each matmul are rounded to bf16 (relative 2^-9), as a bf16 model
// computes, and the peaked attention of the sharp weights amplifies it; 3e-2 bounds that
// (measured: 2.5e-3 preset, 1.5e-2 sharp). With PIO_CPU_ISA=avx2 it is float32-level (4e-6).
BOOST_AUTO_TEST_CASE(bf16_encoder_matches_reference) {
  for (const auto weights : {vtest::Weights::preset, vtest::Weights::sharp}) {
    const Errors e = encode_against_reference(DType::BF16, weights);
    BOOST_TEST(e.embeds < 3e-2);
    BOOST_TEST(e.deepstack < 3e-2);
  }
}

// Images attend only to themselves and every row is computed on its own, so a batch gives
// each image exactly what it gets alone, whatever ran before (buffers are reused).
BOOST_AUTO_TEST_CASE(two_images_together_equal_each_alone) {
  const vtest::TinyModel& tiny = vtest::tiny(DType::F32, vtest::Weights::sharp);
  const VisionConfig& cfg = *tiny.config.vision;
  auto be = make_cpu_backend(2);
  const VisionWeights weights = load_vision_weights(tiny.ckpt, cfg);
  VisionModel model(cfg, weights, *be);
  const std::vector<PixelValues> both{vtest::random_image(cfg, 1, 6, 8, 7), vtest::random_image(cfg, 1, 12, 4, 8)};
  const VisionOutput& out = model.encode(both);
  const std::vector<float> together(out.image_embeds.begin(), out.image_embeds.end());
  std::vector<std::vector<float>> together_ds;
  for (auto ds : out.deepstack) together_ds.emplace_back(ds.begin(), ds.end());

  size_t offset = 0;
  for (const PixelValues& im : both) {
    const VisionOutput& alone = model.encode(std::span(&im, 1));
    const size_t n = alone.image_embeds.size();
    BOOST_TEST(n == static_cast<size_t>(im.merged_tokens(cfg.spatial_merge_size) * cfg.out_hidden_size));
    BOOST_TEST(std::equal(alone.image_embeds.begin(), alone.image_embeds.end(), together.begin() + offset));
    for (size_t k = 0; k < together_ds.size(); ++k)
      BOOST_TEST(std::equal(alone.deepstack[k].begin(), alone.deepstack[k].end(), together_ds[k].begin() + offset));
    offset += n;
  }
  BOOST_TEST(offset == together.size());
}

BOOST_AUTO_TEST_CASE(no_images_give_no_tokens) {
  const vtest::TinyModel& tiny = vtest::tiny(DType::F32);
  const VisionConfig& cfg = *tiny.config.vision;
  auto be = make_cpu_backend(1);
  const VisionWeights weights = load_vision_weights(tiny.ckpt, cfg);
  VisionModel model(cfg, weights, *be);
  const VisionOutput& out = model.encode({});
  BOOST_TEST(out.tokens == 0);
  BOOST_TEST(out.image_embeds.empty());
}

// The encode in pieces (as a server interleaves it with decode steps), one row or group at a
// time and in odd-sized pieces, gives exactly the one-call encode: every row goes through the
// same operations in the same order however the rows are split.
BOOST_AUTO_TEST_CASE(staged_encode_equals_one_call) {
  const vtest::TinyModel& tiny = vtest::tiny(DType::F32, vtest::Weights::sharp);
  const VisionConfig& cfg = *tiny.config.vision;
  auto be = make_cpu_backend(2);
  const VisionWeights weights = load_vision_weights(tiny.ckpt, cfg);
  VisionModel model(cfg, weights, *be);
  const std::vector<PixelValues> images = sample_images(cfg);
  const VisionOutput& whole = model.encode(images);
  const std::vector<float> embeds(whole.image_embeds.begin(), whole.image_embeds.end());
  std::vector<std::vector<float>> taps;
  for (const auto& d : whole.deepstack) taps.emplace_back(d.begin(), d.end());
  const int64_t tokens = whole.tokens;
  for (const int64_t piece : {int64_t{1}, int64_t{7}, int64_t{50}}) {
    model.begin(images);
    const int64_t rows = model.rows();
    int64_t advances = 0, work = 0;
    for (; !model.finished(); ++advances) {
      const int64_t ran = model.advance(piece);
      BOOST_TEST(ran >= 1);
      BOOST_TEST(ran <= std::max<int64_t>(piece, 4));  // a merger group is 4 rows
      work += ran;
    }
    // The patch embedding passes once over the rows, each block twice, each merger once over
    // the groups (4 rows each).
    const int64_t row_passes = (1 + 2 * cfg.depth) * rows, mergers = static_cast<int64_t>(taps.size() + 1);
    BOOST_TEST(work == row_passes + mergers * 4 * tokens);
    if (piece == 1) BOOST_TEST(advances == row_passes + mergers * tokens);
    const VisionOutput& staged = model.finish();
    BOOST_TEST(std::vector<float>(staged.image_embeds.begin(), staged.image_embeds.end()) == embeds, "piece " << piece);
    for (size_t k = 0; k < taps.size(); ++k)
      BOOST_TEST(std::vector<float>(staged.deepstack[k].begin(), staged.deepstack[k].end()) == taps[k]);
  }
}
