// The weights a runner's kernels read, in its backend's memory. On a backend that shares host
// memory (the CPU) they are the loaded views themselves, read in place from the mapped
// checkpoint and pack; on a device each tensor is uploaded once, into memory this object owns,
// so that one ModelWeights serves runners on several devices. Matrices keep their format; a
// matmul bias goes up in f32.
#pragma once

#include <cstddef>
#include <vector>

#include "gpu/backend.h"
#include "gpu/backend_buffer.h"
#include "model/text_weights.h"
#include "model/vision_weights.h"

namespace pio {

class WeightPlacement {
 public:
  explicit WeightPlacement(Backend& backend) : backend_(&backend) {}
  // A placement that only measures: it uploads nothing and returns the views unchanged, but
  // counts in uploaded_bytes() what a device would take (how --gpu-layers auto sizes the model).
  WeightPlacement() = default;
  WeightPlacement(const WeightPlacement&) = delete;
  WeightPlacement& operator=(const WeightPlacement&) = delete;

  // w in the backend's memory: w itself on host memory, else an uploaded copy of its bytes
  // (any format: plain, bf16 panels, Q8, Q4). A view without data stays empty. Throws
  // std::bad_alloc when the device is full, BackendError when the upload fails.
  WeightView place(const WeightView& w);
  // A matmul bias placed as above, but converted to f32 on a device (its matmul adds f32 biases).
  WeightView place_bias(const WeightView& bias);
  // Every view of a decoder layer or a vision tower placed as above.
  TextLayerWeights place(const TextLayerWeights& w);
  VisionWeights place(const VisionWeights& w);
  // A text decoder's embedding, final norm and lm_head placed as above (a tied lm_head once, as
  // the embedding's copy), without its layers.
  TextWeights place_head(const TextWeights& w);

  // Bytes uploaded (0 on host memory), or measured.
  size_t uploaded_bytes() const { return uploaded_bytes_; }

 private:
  Backend* backend_ = nullptr;  // null: measuring
  std::vector<BackendBuffer> buffers_;
  size_t uploaded_bytes_ = 0;
};

// The bytes of a weight's data in its format: rows · cols · dtype size when plain.
size_t weight_bytes(const WeightView& w);

}  // namespace pio
