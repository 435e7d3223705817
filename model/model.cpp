#include "model/model.h"

namespace pio {

Model::Model(const std::filesystem::path& dir, Backend& backend, const ModelOptions& options)
    : weights_(dir, options), text_(weights_.config().text, weights_.text(), backend) {
  if (weights_.has_vision())
    vision_ = std::make_unique<VisionModel>(*weights_.config().vision, weights_.vision(), backend);
}

VisionModel& Model::vision() {
  if (!vision_) weights_.vision();  // throws: a text-only checkpoint
  return *vision_;
}

}  // namespace pio
