// Image+text prompts through the text decoder: several prompts prefilled in one batch against
// each alone, image features saved and reloaded (--image-embeds), and a text-only checkpoint
// fed precomputed features.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstring>

#include "model/errors.h"
#include "model/image_features.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "model/prefill_batch.h"
#include "model/prompt.h"
#include "model/safetensors_writer.h"
#include "tests/support/relative_error.h"
#include "vision_support.h"

using namespace pio;

namespace {

const ModelConfig kIds;  // the genuine special token ids, which the tiny preset keeps
const int32_t VS = kIds.vision_start_token_id, IMG = kIds.image_token_id, VE = kIds.vision_end_token_id;

// Logits of every row of one prompt prefilled alone.
std::vector<float> logits_alone(Model& model, const PreparedPrompt& prompt) {
  PagedKvCache cache(model.text().backend(), model.text().kv_shape(), 1 << 22, 4);
  const PrefillEntry entry{&prompt, {}, true};
  const SequenceId seq = cache.pool().add_sequence();
  const auto logits = cache.forward(model.text(), PrefillBatch(model.text(), {&entry, 1}).batch(), {&seq, 1});
  return {logits.begin(), logits.end()};
}

struct Fixture {
  std::unique_ptr<Backend> backend = make_cpu_backend(2);
  Model model{vtest::tiny(DType::F32).dir.path(), *backend};
  const VisionConfig& vcfg = *model.config().vision;
  // Two images of different sizes (2x3 and 3x2 merged tokens), and a third for another prompt.
  ImageFeatures two = encode_images(model.vision(), std::vector<PixelValues>{vtest::random_image(vcfg, 1, 4, 6, 1),
                                                                            vtest::random_image(vcfg, 1, 6, 4, 2)});
  ImageFeatures one = encode_images(model.vision(), std::vector<PixelValues>{vtest::random_image(vcfg, 1, 4, 4, 3)});
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(multimodal_prompt, Fixture)

// Text-image-text-image, image-text and text-only prompts in one pass: every row's logits
// have the bits of its prompt alone: the kernels are batch invariant (gpu/backend.h), so a
// misplaced DeepStack row or image feature cannot hide under a tolerance.
BOOST_AUTO_TEST_CASE(batched_prefill_equals_each_prompt_alone) {
  const std::vector<int32_t> a{1, 2, VS, IMG, VE, 3, 4, VS, IMG, VE, 5};
  const std::vector<int32_t> b{VS, IMG, VE, 6, 7, 8};
  const std::vector<int32_t> c{9, 10, 11, 12};
  const PreparedPrompt pa = prepare_prompt(model.text(), model.config(), a, &two);
  const PreparedPrompt pb = prepare_prompt(model.text(), model.config(), b, &one);
  const PreparedPrompt pc = prepare_prompt(model.text(), model.config(), c, nullptr);
  const std::vector<const PreparedPrompt*> prompts{&pa, &pb, &pc};

  PagedKvCache cache(model.text().backend(), model.text().kv_shape(), 1 << 22, 4);
  std::vector<PrefillEntry> entries;
  std::vector<SequenceId> seqs;
  for (const auto* p : prompts) {
    entries.push_back({p, {}, true});
    seqs.push_back(cache.pool().add_sequence());
  }
  const auto batched = cache.forward(model.text(), PrefillBatch(model.text(), entries).batch(), seqs);

  const auto vocab = static_cast<size_t>(model.config().text.vocab_size);
  size_t offset = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    const auto alone = logits_alone(model, *prompts[i]);
    BOOST_REQUIRE(offset + alone.size() <= batched.size());
    BOOST_TEST(std::memcmp(batched.data() + offset, alone.data(), sizeof(float) * alone.size()) == 0, "prompt " << i);
    offset += alone.size();
  }
  BOOST_TEST(offset == batched.size());
  BOOST_TEST(pa.ids.size() == 11u - 2u + 6u + 6u);
  BOOST_TEST(offset == vocab * (pa.ids.size() + pb.ids.size() + pc.ids.size()));
}

// The image features and DeepStack reach the logits: the other image, or the same image
// with zero DeepStack features, gives different logits after the image.
BOOST_AUTO_TEST_CASE(image_features_and_deepstack_change_the_logits) {
  const std::vector<int32_t> ids{VS, IMG, VE, 6, 7};
  const auto with_image = logits_alone(model, prepare_prompt(model.text(), model.config(), ids, &one));
  ImageFeatures other = encode_images(model.vision(), std::vector<PixelValues>{vtest::random_image(vcfg, 1, 4, 4, 9)});
  const auto other_image = logits_alone(model, prepare_prompt(model.text(), model.config(), ids, &other));
  ImageFeatures no_deepstack = one;  // zero features add nothing: as if there were none
  for (auto& set : no_deepstack.deepstack) std::fill(set.begin(), set.end(), 0.0f);
  const auto without_deepstack = logits_alone(model, prepare_prompt(model.text(), model.config(), ids, &no_deepstack));
  BOOST_TEST(test::max_relative_error(other_image, with_image) > 1e-3);
  BOOST_TEST(test::max_relative_error(without_deepstack, with_image) > 1e-3);
}

// What `pio encode-image` writes, `--image-embeds` reads back bit for bit, and a text-only
// checkpoint with the same text weights gives the same logits from it as the full model.
BOOST_AUTO_TEST_CASE(saved_features_serve_a_text_only_checkpoint) {
  test::TempDir dir("features");
  const auto file = dir.path() / "embeds.safetensors";
  write_image_features(file, two);
  const ImageFeatures back = read_image_features(file);
  BOOST_TEST(back.tokens == two.tokens);
  BOOST_TEST(back.hidden == two.hidden);
  BOOST_TEST(back.embeds == two.embeds);
  BOOST_TEST((back.deepstack == two.deepstack));
  BOOST_REQUIRE(back.grids.size() == 2u);
  BOOST_TEST((back.grids[1].t == 1 && back.grids[1].h == 6 && back.grids[1].w == 4));

  const std::vector<int32_t> ids{1, VS, IMG, VE, VS, IMG, VE, 2};
  const auto full = logits_alone(model, prepare_prompt(model.text(), model.config(), ids, &two));
  Model text_only(vtest::tiny(DType::F32, vtest::Weights::text_only).dir.path(), *backend);
  BOOST_TEST(!text_only.has_vision());
  const auto from_file = logits_alone(text_only, prepare_prompt(text_only.text(), text_only.config(), ids, &back));
  BOOST_TEST(from_file == full, "logits from saved features differ");
}

BOOST_AUTO_TEST_CASE(malformed_feature_files_are_refused) {
  test::TempDir dir("bad_features");
  const auto missing = dir.path() / "missing.safetensors";
  write_safetensors(missing, {{"image_embeds", DType::F32, {2, 4}}}, [](const TensorSpec&, std::vector<unsigned char>&) {});
  BOOST_CHECK_EXCEPTION(read_image_features(missing), ModelError, [&](const ModelError& e) {
    return std::string(e.what()).find("no tensor 'deepstack'") != std::string::npos &&
           std::string(e.what()).find(missing.string()) != std::string::npos;
  });
  const auto mismatched = dir.path() / "mismatched.safetensors";
  write_safetensors(mismatched,
                    {{"image_embeds", DType::F32, {2, 4}}, {"deepstack", DType::F32, {1, 3, 4}}, {"grid_thw", DType::I32, {1, 3}}},
                    [](const TensorSpec&, std::vector<unsigned char>&) {});
  BOOST_CHECK_EXCEPTION(read_image_features(mismatched), ModelError, [](const ModelError& e) {
    return std::string(e.what()).find("deepstack [k, n, hidden]") != std::string::npos;
  });
  // Features of the wrong width for the model, or too few tokens for the placeholders.
  ImageFeatures narrow = one;
  narrow.hidden = 16;
  BOOST_CHECK_THROW(prepare_prompt(model.text(), model.config(), std::vector<int32_t>{VS, IMG, VE}, &narrow), ModelError);
  BOOST_CHECK_THROW(prepare_prompt(model.text(), model.config(), std::vector<int32_t>{VS, IMG, VE, VS, IMG, VE}, &one),
                    ModelError);
}

namespace {

// A features file: image_embeds [rows, hidden] and deepstack [sets, rows, hidden] of zeros, and
// the given grid_thw values (int64, three per image).
std::string features_error(const std::filesystem::path& file, int64_t rows, int64_t hidden, int64_t sets,
                           const std::vector<int64_t>& grid, DType deepstack_dtype = DType::F32) {
  const auto images = static_cast<int64_t>(grid.size() / 3);
  write_safetensors(file,
                    {{"image_embeds", DType::F32, {rows, hidden}},
                     {"deepstack", deepstack_dtype, {sets, rows, hidden}},
                     {"grid_thw", DType::I64, {images, 3}}},
                    [&](const TensorSpec& t, std::vector<unsigned char>& out) {
                      if (t.name == "grid_thw" && !grid.empty()) std::memcpy(out.data(), grid.data(), out.size());
                    });
  try {
    read_image_features(file);
  } catch (const ModelError& e) {
    const std::string what = e.what();
    BOOST_TEST(what.find(file.string()) == 0u, what);  // every message names the file
    return what.substr(file.string().size() + 2);
  }
  return "(read)";
}

}  // namespace

// Grids from a file must be in range and account for exactly the rows it holds, and the
// DeepStack tensor must hold at least one set: a huge grid would otherwise expand one
// <|image_pad|> into billions of tokens, and an empty tensor reach memcpy with no storage.
BOOST_AUTO_TEST_CASE(feature_files_with_bad_grids_or_deepstack_are_refused) {
  test::TempDir dir("grids");
  const auto file = dir.path() / "f.safetensors";
  BOOST_TEST(features_error(file, 4, 8, 3, {1, 4, 4}) == "(read)");  // merge 2: 16 patches, 4 rows
  BOOST_TEST(features_error(file, 4, 8, 3, {1, int64_t{1} << 40, 4}) ==
             "grid_thw[0] holds 1099511627776, outside the allowed range [1, 131072]");
  BOOST_TEST(features_error(file, 4, 8, 3, {1, -4, -4}) == "grid_thw[0] holds -4, outside the allowed range [1, 131072]");
  BOOST_TEST(features_error(file, 4, 8, 3, {0, 4, 4}) == "grid_thw[0] holds 0, outside the allowed range [1, 131072]");
  BOOST_TEST(features_error(file, 4, 8, 3, {131072, 131072, 131072}) ==
             "grid_thw does not match image_embeds: its images hold 2251799813685248 patches, which no merge size "
             "turns into the 4 image_embeds rows");
  BOOST_TEST(features_error(file, 5, 8, 3, {1, 4, 4}).find("grid_thw does not match image_embeds") == 0u);
  BOOST_TEST(features_error(file, 4, 8, 3, {1, 4, 4, 1, 4, 4}).find("grid_thw does not match") == 0u);
  BOOST_TEST(features_error(file, 4, 8, 0, {1, 4, 4}) == "deepstack holds 0 feature sets, allowed 1 to 1024");
  BOOST_TEST(features_error(file, 0, 8, 3, {1, 4, 4}) ==
             "image_embeds and grid_thw must hold at least one image token and one image");
  BOOST_TEST(features_error(file, 4, 0, 3, {1, 4, 4}) ==
             "image_embeds and grid_thw must hold at least one image token and one image");
  BOOST_TEST(features_error(file, 4, 8, 3, {}) ==
             "image_embeds and grid_thw must hold at least one image token and one image");
  BOOST_TEST(features_error(file, 4, 8, 3, {1, 4, 4}, DType::F16) == "tensor 'deepstack' must be F32");
}

// A file read fine on its own can still disagree with the model: its grids at the model's merge
// size, or its number of DeepStack sets. Both are refused before any placeholder is expanded
// (one <|image_pad|> would otherwise grow to the 400 million tokens of the large grid).
BOOST_AUTO_TEST_CASE(features_that_disagree_with_the_model_are_refused) {
  const auto error_with = [&](std::vector<ImageGrid> grids, size_t sets) {
    ImageFeatures f = one;  // 4 tokens
    f.grids = std::move(grids);
    f.deepstack.resize(sets, f.deepstack[0]);
    try {
      prepare_prompt(model.text(), model.config(), std::vector<int32_t>{VS, IMG, VE}, &f);
    } catch (const ModelError& e) {
      return std::string(e.what());
    }
    return std::string("(prepared)");
  };
  BOOST_TEST(error_with({{1, 4, 4}}, 3) == "(prepared)");
  BOOST_TEST(error_with({{1, 4, 8}}, 3) == "the image grids make 8 tokens at the model's merge size 2, the features hold 4");
  BOOST_TEST(error_with({{1, 40000, 40000}}, 3) ==
             "the image grids make 400000000 tokens at the model's merge size 2, the features hold 4");
  BOOST_TEST(error_with({{1, 3, 3}}, 3) ==
             "image 0: its grid is empty, too large or not a multiple of the model's merge size 2");
  BOOST_TEST(error_with({{1, 4, 4}}, 2) ==
             "the image features carry 2 DeepStack feature sets, the model takes 3 (at most one per decoder layer, 4)");
}

BOOST_AUTO_TEST_SUITE_END()
