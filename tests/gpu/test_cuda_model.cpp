// The model on a CUDA device against the same model on the CPU backend: the tiny checkpoint's
// logits (prefill and decode, f32/bf16/q8 weights), the decoder split between the device and the
// CPU (--gpu-layers), the vision tower's features, and decode bits that do not depend on what
// shares the step. Without a usable device every case is skipped and the run prints one line
// saying why. Written and compiled without a device: it has never run.
// Tolerance: max |device - cpu| / max |cpu| <= 1e-2 over a whole output. The two backends sum
// each dot product in different orders (f32 accumulation both, cuBLAS's blocking against the
// CPU's panels; the q8/q4 paths quantise x identically and sum integers exactly), each of the
// tiny model's layers adds ~1e-5 relative for that. But they also round x differently: cuBLAS
// prefill rounds it to bf16 for bf16 weights (a relative 2^-9 = 2e-3 per value), which the CPU
// does only where it has AVX-512 BF16, and then for decode rows too, which the device's GEMV
// does not. That puts 1-3e-3 between them; 1e-2 leaves a margin over it and still catches a
// wrong operation (which moves logits by O(1) of their scale).
#define BOOST_TEST_MODULE cuda_model
#include <boost/test/unit_test.hpp>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "gpu/backend_error.h"
#include "gpu/cuda/cuda_backend.h"
#include "tests/gpu/cuda_backend_fixture.h"
#include "model/kv_cache.h"
#include "model/model_weights.h"
#include "model/rope.h"
#include "model/text_model.h"
#include "model/vision_model.h"
#include "tests/support/decode_beside.h"
#include "tests/support/relative_error.h"
#include "tests/vision/vision_support.h"

using namespace pio;

namespace {

constexpr double kTolerance = 1e-2;

using pio::testing::has_cuda_backend;

Backend& cuda() { return *pio::testing::cuda_test_backend().cuda; }

// The tiny checkpoint as a device reads it (bf16 unpacked), in a scheme.
const ModelWeights& weights(WeightScheme scheme) {
  static std::vector<std::unique_ptr<ModelWeights>> loaded(4);
  auto& w = loaded[static_cast<size_t>(scheme)];
  if (!w) {
    ModelOptions o;
    o.weights = scheme;
    o.bf16_panels = false;
    w = std::make_unique<ModelWeights>(vtest::tiny(DType::BF16).dir.path(), o);
  }
  return *w;
}

// A 19-token prefill (all logits), then 4 decode steps fed fixed ids: every logit, in order.
// Prefill runs more than 16 rows, so it takes cuBLAS; decode takes the GEMV.
std::vector<float> run(TextModel& text) {
  PagedKvCache cache(text.kv_layers(), text.kv_shape(), 1 << 22, 4);
  const SequenceId seq = cache.pool().add_sequence();
  std::vector<float> out;
  int32_t done = 0;
  for (const int n : {19, 1, 1, 1, 1}) {
    std::vector<int32_t> ids;
    for (int i = 0; i < n; ++i) ids.push_back((done + i) * 37 % 400 + 3);
    std::vector<Pos3> positions;
    text_positions(done, n, positions);
    ForwardBatch batch;
    batch.steps.push_back({n, true, {}, 0});
    batch.ids = ids;
    batch.positions = positions;
    const auto logits = cache.forward(text, batch, {&seq, 1});
    out.insert(out.end(), logits.begin(), logits.end());
    done += n;
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cuda_model, *boost::unit_test::precondition(has_cuda_backend))

BOOST_AUTO_TEST_CASE(text_logits_equal_the_cpu) {
  const auto cpu = make_cpu_backend(2);
  for (const WeightScheme scheme : {WeightScheme::Auto, WeightScheme::Q8, WeightScheme::Q4}) {
    TextModel on_cpu(weights(scheme), *cpu), on_device(weights(scheme), cuda());
    const double err = test::max_relative_error(run(on_device), run(on_cpu));
    BOOST_TEST(err <= kTolerance, "scheme " << weight_scheme_name(scheme) << ": relative error " << err);
  }
}

BOOST_AUTO_TEST_CASE(layers_split_with_the_cpu_equal_the_cpu) {
  const auto cpu = make_cpu_backend(2);
  const ModelWeights& w = weights(WeightScheme::Auto);
  TextModel on_cpu(w, *cpu);
  const std::vector<float> expected = run(on_cpu);
  for (int n = 0; n <= w.config().text.num_hidden_layers; ++n) {
    TextModel split(w, LayerSplit{&cuda(), cpu.get(), n});
    const double err = test::max_relative_error(run(split), expected);
    BOOST_TEST(err <= kTolerance, n << " layers on the device: relative error " << err);
  }
}

// A decode step's logits, bit for bit, whatever shares the step: another decode, a 20-token
// prefill chunk (its rows take cuBLAS, the decode row the GEMV: cuda/matmul_rows.h), 17 more
// decodes (18 rows: the fixed-order GEMM), or both.
BOOST_AUTO_TEST_CASE(decode_bits_do_not_depend_on_the_batch) {
  TextModel text(weights(WeightScheme::Auto), cuda());
  const std::vector<float> alone = test::decode_beside(text, 0, 0).decode;
  BOOST_TEST((test::decode_beside(text, 1, 0).decode == alone));
  BOOST_TEST((test::decode_beside(text, 0, 20).decode == alone));
  BOOST_TEST((test::decode_beside(text, 17, 0).decode == alone));
  BOOST_TEST((test::decode_beside(text, 17, 20).decode == alone));
}

BOOST_AUTO_TEST_CASE(vision_features_equal_the_cpu) {
  const auto cpu = make_cpu_backend(2);
  const ModelWeights& w = weights(WeightScheme::Auto);
  const VisionConfig& cfg = *w.config().vision;
  const std::vector<PixelValues> images{vtest::random_image(cfg, 1, 4, 6, 1), vtest::random_image(cfg, 2, 8, 4, 2)};
  VisionModel on_cpu(w, *cpu), on_device(w, cuda());
  const VisionOutput& want = on_cpu.encode(images);
  const VisionOutput& got = on_device.encode(images);
  BOOST_TEST(test::max_relative_error(got.image_embeds, want.image_embeds) <= kTolerance);
  for (size_t k = 0; k < want.deepstack.size(); ++k)
    BOOST_TEST(test::max_relative_error(got.deepstack[k], want.deepstack[k]) <= kTolerance, "DeepStack tap " << k);
}

BOOST_AUTO_TEST_SUITE_END()
