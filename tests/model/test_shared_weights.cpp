// One ModelWeights shared by several runners (as engine groups share it): each runner's results
// are bit-identical to those of a runner alone, whether the runners' calls interleave on one
// thread or run on two threads at once. A runner's work buffers, logits and staged encode are
// its own; the weights hold nothing that a call changes.
#define BOOST_TEST_MODULE shared_weights
#include <boost/test/unit_test.hpp>

#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "model/errors.h"
#include "model/kv_cache.h"
#include "model/model_weights.h"
#include "model/text_model.h"
#include "model/vision_model.h"
#include "tests/vision/vision_support.h"

using namespace pio;

namespace {

using Rows = std::vector<float>;

const ModelWeights& tiny_weights() {
  static const ModelWeights weights(vtest::tiny(DType::F32).dir.path());
  return weights;
}

// One sequence fed to a text runner call by call: prefill pieces, then single tokens, every
// row's logits returned. The cache is the stream's own.
class TextStream {
 public:
  TextStream(TextModel& text, uint32_t seed)
      : text_(text), cache_(text.backend(), text.kv_shape(), 1 << 22, 4), seq_(cache_.pool().add_sequence()),
        seed_(seed) {}

  // Runs the next n tokens; the span stays valid until this runner's next call.
  std::span<const float> step(int64_t n) {
    ids_.clear();
    for (int64_t i = 0; i < n; ++i)
      ids_.push_back(static_cast<int32_t>((seed_ * 131 + static_cast<uint32_t>(done_ + i) * 17 + 3) % 500));
    text_positions(static_cast<int32_t>(done_), n, pos_);
    ForwardBatch batch;
    batch.steps.push_back({n, true, {}, 0});
    batch.ids = ids_;
    batch.positions = pos_;
    done_ += n;
    return cache_.forward(text_, batch, {&seq_, 1});
  }

 private:
  TextModel& text_;
  PagedKvCache cache_;
  SequenceId seq_;
  uint32_t seed_;
  int64_t done_ = 0;
  std::vector<int32_t> ids_;
  std::vector<Pos3> pos_;
};

// Each call's rows per stream: stream 0 prefills 5+8 tokens, stream 1 a longer 11+2 (so the two
// runners' buffers grow differently), then both decode.
const std::vector<std::vector<int64_t>> kCalls{{5, 8, 1, 1, 1}, {11, 2, 1, 1, 1}};

// Every call's logits of stream s on a runner of its own, alone.
std::vector<Rows> text_alone(size_t s, Backend& backend) {
  TextModel text(tiny_weights(), backend);
  TextStream stream(text, static_cast<uint32_t>(s));
  std::vector<Rows> out;
  for (const int64_t n : kCalls[s]) {
    const auto logits = stream.step(n);
    out.emplace_back(logits.begin(), logits.end());
  }
  return out;
}

// Every call's logits of stream s on a runner over weights with its own backend, from a thread.
std::vector<Rows> text_on_thread(size_t s) {
  const auto backend = make_cpu_backend(1);
  return text_alone(s, *backend);
}

// The images each vision stream encodes: different sizes, so the runners' buffers differ.
std::vector<PixelValues> images_of(size_t s) {
  const VisionConfig& cfg = *tiny_weights().config().vision;
  if (s == 0) return {vtest::random_image(cfg, 1, 4, 6, 1), vtest::random_image(cfg, 1, 8, 8, 2)};
  return {vtest::random_image(cfg, 2, 6, 4, 3)};
}

// A finished encode's image embeddings followed by every DeepStack tap.
Rows flat(const VisionOutput& out) {
  Rows r(out.image_embeds.begin(), out.image_embeds.end());
  for (const auto& d : out.deepstack) r.insert(r.end(), d.begin(), d.end());
  return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(shared_weights)

// Two text runners over one ModelWeights on one backend, their forward calls alternating on
// two caches, each call's logits held while the other runner runs: every logit has the bits of
// the same stream run alone.
BOOST_AUTO_TEST_CASE(interleaved_text_runners_equal_each_alone) {
  const auto backend = make_cpu_backend(2);
  const std::vector<Rows> alone0 = text_alone(0, *backend), alone1 = text_alone(1, *backend);

  TextModel text0(tiny_weights(), *backend), text1(tiny_weights(), *backend);
  TextStream stream0(text0, 0), stream1(text1, 1);
  for (size_t c = 0; c < kCalls[0].size(); ++c) {
    const auto a = stream0.step(kCalls[0][c]);
    const auto b = stream1.step(kCalls[1][c]);  // must not touch what text0 returned
    BOOST_TEST((Rows(a.begin(), a.end()) == alone0[c]), "stream 0, call " << c);
    BOOST_TEST((Rows(b.begin(), b.end()) == alone1[c]), "stream 1, call " << c);
  }
}

// The same two streams on two threads at once, each runner on a backend of its own (as two
// engine groups run), over the one weights object.
BOOST_AUTO_TEST_CASE(text_runners_on_two_threads_equal_each_alone) {
  const auto backend = make_cpu_backend(1);
  const std::vector<Rows> alone0 = text_alone(0, *backend), alone1 = text_alone(1, *backend);
  for (int round = 0; round < 3; ++round) {
    std::vector<Rows> got0, got1;
    std::thread other([&got1] { got1 = text_on_thread(1); });
    got0 = text_on_thread(0);
    other.join();
    BOOST_TEST((got0 == alone0), "round " << round << ", stream 0");
    BOOST_TEST((got1 == alone1), "round " << round << ", stream 1");
  }
}

// Two vision runners over one ModelWeights with their staged encodes interleaved piece by piece
// (each runner on its own backend: the backend holds a block's K and V between the QKV and
// attention passes), both outputs held at once: each has the bits of its images encoded alone.
BOOST_AUTO_TEST_CASE(interleaved_staged_vision_encodes_equal_each_alone) {
  const auto backend0 = make_cpu_backend(2), backend1 = make_cpu_backend(2);
  const std::vector<PixelValues> images0 = images_of(0), images1 = images_of(1);
  Rows alone0, alone1;
  {
    VisionModel vision(tiny_weights(), *backend0);
    alone0 = flat(vision.encode(images0));
    alone1 = flat(vision.encode(images1));
  }
  for (const auto& pieces : std::vector<std::pair<int64_t, int64_t>>{{1, 3}, {7, 50}, {40, 4}}) {
    const int64_t piece0 = pieces.first, piece1 = pieces.second;
    VisionModel vision0(tiny_weights(), *backend0), vision1(tiny_weights(), *backend1);
    vision0.begin(images0);
    vision1.begin(images1);
    while (!vision0.finished() || !vision1.finished()) {
      vision0.advance(piece0);
      vision1.advance(piece1);
    }
    const VisionOutput& out0 = vision0.finish();
    const VisionOutput& out1 = vision1.finish();
    BOOST_TEST((flat(out0) == alone0), "pieces " << piece0 << "/" << piece1 << ", runner 0");
    BOOST_TEST((flat(out1) == alone1), "pieces " << piece0 << "/" << piece1 << ", runner 1");
  }
}

// A text-only checkpoint's weights give a text runner but refuse a vision runner.
BOOST_AUTO_TEST_CASE(a_vision_runner_needs_a_vision_tower) {
  const ModelWeights text_only(vtest::tiny(DType::F32, vtest::Weights::text_only).dir.path());
  const auto backend = make_cpu_backend(1);
  BOOST_TEST(!text_only.has_vision());
  TextModel text(text_only, *backend);
  BOOST_TEST(text.kv_shape().layers == text_only.config().text.num_hidden_layers);
  const auto vision = [&] { VisionModel v(text_only, *backend); };
  BOOST_CHECK_EXCEPTION(vision(), ModelError, [](const ModelError& e) {
    return std::string(e.what()).find("text-only checkpoint") != std::string::npos;
  });
}

BOOST_AUTO_TEST_SUITE_END()
