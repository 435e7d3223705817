// Requests for the engine core's tests, on any backend: eight of them of every kind (text,
// images, long prompts, greedy and sampled), the model layer's answer for one alone, and a loop
// that steps an engine until every request ended. test_engine_core runs them on the CPU and
// test_cuda_engine on a device.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "model/model_weights.h"
#include "model/text_model.h"
#include "model/vision_model.h"
#include "serving/engine_core.h"

namespace test {

struct EngineScenario {
  // Runners over `weights` on `backend` (both outlive the scenario); encodes the two test images.
  EngineScenario(const pio::ModelWeights& weights, pio::Backend& backend);

  pio::EngineRequest request(uint64_t id, std::vector<int32_t> ids, std::shared_ptr<const pio::ImageFeatures> images,
                             int32_t max_tokens, float temperature) const;
  // The model layer's answer for the request alone (no stop ids: full length).
  std::vector<int32_t> alone(const pio::EngineRequest& r);
  // Runs the engine until every request ended; returns each one's tokens (and finish reason, the
  // most sequences in a step, whether any step preempted, when asked).
  std::map<uint64_t, std::vector<int32_t>> run(pio::EngineCore& engine,
                                               std::map<uint64_t, pio::FinishReason>* reasons = nullptr,
                                               int64_t* max_sequences = nullptr, bool* preempted = nullptr);
  // Ids 1..8: text, images (wide and tall), a 90-token prompt, greedy and sampled.
  std::vector<pio::EngineRequest> eight_requests() const;

  const pio::ModelWeights& model;
  pio::TextModel text;
  pio::VisionModel vision;
  const pio::VisionConfig& vcfg;
  std::shared_ptr<const pio::ImageFeatures> wide, tall;
};

}  // namespace test
