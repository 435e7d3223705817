// The Qwen3-VL vision encoder: patch embedding, interpolated learned position embeddings, 2D
// rotary, pre-norm transformer blocks with full attention inside each image, the final patch
// merger and the DeepStack mergers. Several images of different sizes run as one batch. A
// VisionModel is a runner: it reads weights that it does not own (ModelWeights, shared by any
// number of runners) and owns the per-engine-group state, its work buffers, the staged encode's
// cursor and the backend it computes on; its activations live in the backend's memory. The
// backend keeps a block's K and V between its QKV and attention passes
// (Backend::prepare_segment_attention), so runners whose staged encodes interleave need a
// backend each.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "gpu/backend.h"
#include "model/config.h"
#include "model/image/pixel_values.h"
#include "model/model_weights.h"
#include "model/scratch_buffer.h"
#include "model/vision_weights.h"
#include "model/weight_placement.h"

namespace pio {

struct VisionOutput {
  int64_t tokens = 0;                              // merged tokens of all images, in input order
  std::span<const float> image_embeds;             // [tokens, out_hidden_size]
  std::vector<std::span<const float>> deepstack;   // one per DeepStack tap: [tokens, out_hidden_size]
};

class VisionModel {
 public:
  // The weights must outlive the runner; any number of runners may read them at once. On a
  // device the runner uploads them into device memory of its own (WeightPlacement): throws
  // std::bad_alloc when they do not fit, BackendError when the upload fails.
  VisionModel(const VisionConfig& cfg, const VisionWeights& weights, Backend& backend);
  VisionModel(const VisionConfig&, VisionWeights&&, Backend&) = delete;  // it would keep a dangling reference
  // The vision tower of `weights` on `backend`; throws ModelError for a text-only checkpoint.
  VisionModel(const ModelWeights& weights, Backend& backend);

  const VisionConfig& config() const { return cfg_; }
  // Bytes of weights uploaded into device memory (0 on the CPU: it reads them in place).
  size_t device_weight_bytes() const { return placement_.uploaded_bytes(); }

  // Encodes the images together; the result (host memory) stays valid until the next call. Throws ModelError
  // when an image's patch layout does not match the config.
  const VisionOutput& encode(std::span<const PixelValues> images);

  // The same encode in pieces, so that a server can interleave a large image's work with decode
  // steps: begin() checks the images, copies their pixels into the backend's memory and computes
  // the position tables; each advance(rows) runs
  // up to `rows` patch rows of the current pass and returns the rows it ran (the patch embedding
  // is one pass over the rows; every encoder block two, QKV then attention and MLP; each merger
  // one over the merged groups, 4 rows each). A call stops at the end of its pass, so a caller
  // can time each kind of pass (`pass()`). finished() says when all passes ran; finish() runs
  // what is left and returns the output. The result is bit-identical however it is split. The
  // images may go once begin() returns; one encode at a time.
  enum class Pass : uint8_t { embed, qkv, attend, deepstack, merge, done };
  void begin(std::span<const PixelValues> images);
  int64_t advance(int64_t rows);
  Pass pass() const { return pass_; }
  bool finished() const { return pass_ == Pass::done; }
  const VisionOutput& finish();
  // Patch rows of the encode under way (one block is 2 * rows() of advance's work).
  int64_t rows() const { return rows_; }
  // Between encodes (an unfinished one is abandoned): frees the work buffers when they were
  // grown for more than `rows` patch rows, so a rare huge image does not keep its memory; the
  // next encode allocates again.
  void release_buffers_over(int64_t rows);

 private:
  void check(const PixelValues& image, size_t index) const;
  void reserve(int64_t rows);
  void prepare(std::span<const PixelValues> images);
  void embed(int64_t r0, int64_t n);
  void block_qkv(const VisionBlockWeights& b, int64_t r0, int64_t n);
  void block_attend(const VisionBlockWeights& b, int64_t r0, int64_t n);
  void merge(const VisionMergerWeights& m, bool postshuffle, int64_t g0, int64_t n, float* out);
  // The staged encode's cursor: a pass of block next_block_ (or of the DeepStack tap tap_ after
  // it, or the final merger), at row or group next_row_.
  int64_t pass_rows() const;
  int next_tap() const;
  void next_pass();
  // fc2(gelu_erf(fc1(z))) over `groups` rows of merged patches.
  void merger_mlp(const float* z, int64_t groups, const VisionMergerWeights& m, float* out);

  // pos_embed as float32 rows in host memory, where the interpolation reads them.
  std::vector<float> position_table();
  // The output in host memory: the buffers themselves on the CPU, else downloaded.
  std::span<const float> host_output(const ScratchBuffer& buffer, size_t values, std::vector<float>& host);

  VisionConfig cfg_;
  Backend& be_;
  WeightPlacement placement_;
  VisionWeights w_;  // the weights in the backend's memory
  int64_t head_dim_, merged_dim_, pos_side_;
  std::vector<float> pos_table_;
  std::vector<float> inv_freq_;

  // Work buffers in backend memory, sized for the most rows seen; they only grow.
  int64_t capacity_ = 0;
  ScratchBuffer pixels_, x_, xn_, qkv_, attn_, mlp_, pos_, cos_, sin_, merge_hidden_, embeds_;
  std::vector<ScratchBuffer> deepstack_;
  // The host-side tables uploaded at begin(), and the outputs downloaded by finish() on a device.
  std::vector<float> pos_host_, cos_host_, sin_host_, embeds_host_;
  std::vector<std::vector<float>> deepstack_host_;
  std::vector<int64_t> segments_;
  int64_t rows_ = 0;     // its patch rows
  int next_block_ = 0;
  int tap_ = 0;
  int64_t next_row_ = 0;
  Pass pass_ = Pass::done;
  VisionOutput out_;
};

}  // namespace pio
