#include "tests/serving/engine_scenario.h"

#include <boost/test/unit_test.hpp>

#include <algorithm>

#include "model/generate.h"
#include "model/kv_cache.h"
#include "model/prompt.h"
#include "tests/vision/vision_support.h"

using namespace pio;

namespace test {

namespace {
const ModelConfig kIds;
const int32_t VS = kIds.vision_start_token_id, IMG = kIds.image_token_id, VE = kIds.vision_end_token_id;
}  // namespace

EngineScenario::EngineScenario(const ModelWeights& weights, Backend& backend)
    : model(weights),
      text(weights, backend),
      vision(weights, backend),
      vcfg(*weights.config().vision),
      wide(std::make_shared<ImageFeatures>(
          encode_images(vision, std::vector<PixelValues>{vtest::random_image(vcfg, 1, 4, 6, 1)}))),
      tall(std::make_shared<ImageFeatures>(
          encode_images(vision, std::vector<PixelValues>{vtest::random_image(vcfg, 1, 6, 4, 2)}))) {}

EngineRequest EngineScenario::request(uint64_t id, std::vector<int32_t> ids, std::shared_ptr<const ImageFeatures> images,
                                      int32_t max_tokens, float temperature) const {
  EngineRequest r;
  r.queue = {id, "client", 0, static_cast<double>(id)};
  r.ids = std::move(ids);
  r.images = std::move(images);
  r.sampling = {temperature, 20, 0.9f, 1000 + id};
  r.max_tokens = max_tokens;
  return r;
}

std::vector<int32_t> EngineScenario::alone(const EngineRequest& r) {
  PagedKvCache cache(text.backend(), text.kv_shape(), 1 << 24, 4);
  const PreparedPrompt p = prepare_prompt(text, model.config(), r.ids, r.images.get());
  return generate(text, cache, p, {r.max_tokens, r.stop_ids, r.sampling, 0, {}}).tokens;
}

std::map<uint64_t, std::vector<int32_t>> EngineScenario::run(EngineCore& engine, std::map<uint64_t, FinishReason>* reasons,
                                                             int64_t* max_sequences, bool* preempted) {
  std::map<uint64_t, std::vector<int32_t>> out;
  for (int step = 0; !engine.idle(); ++step) {
    BOOST_REQUIRE(step < 2000);
    for (const auto& e : engine.step(step)) {
      BOOST_REQUIRE(e.finish != FinishReason::error);
      out[e.id].push_back(e.token);
      if (reasons && e.finish != FinishReason::none) (*reasons)[e.id] = e.finish;
    }
    if (max_sequences) *max_sequences = std::max(*max_sequences, engine.last_step().sequences);
    if (preempted && !engine.last_step().preempted.empty()) *preempted = true;
  }
  return out;
}

std::vector<EngineRequest> EngineScenario::eight_requests() const {
  std::vector<EngineRequest> rs;
  rs.push_back(request(1, {1, 2, 3, 4, 5}, nullptr, 12, 0.0f));
  rs.push_back(request(2, {VS, IMG, VE, 6, 7, 8}, wide, 9, 0.0f));
  rs.push_back(request(3, {9, 10, VS, IMG, VE, 11, 12, 13, 14, 15, 16, 17}, tall, 14, 0.8f));
  rs.push_back(request(4, {20, 21}, nullptr, 7, 0.7f));
  std::vector<int32_t> long_ids;
  for (int32_t i = 0; i < 90; ++i) long_ids.push_back(100 + i * 7);
  rs.push_back(request(5, long_ids, nullptr, 5, 0.0f));
  rs.push_back(request(6, {30, 31, 32, VS, IMG, VE}, wide, 10, 1.0f));
  rs.push_back(request(7, {40}, nullptr, 16, 0.0f));
  rs.push_back(request(8, {50, 51, 52, 53, 54, 55, 56, 57}, nullptr, 11, 0.9f));
  return rs;
}

}  // namespace test
