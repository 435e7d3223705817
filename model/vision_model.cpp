#include "model/vision_model.h"

#include <cmath>
#include <numeric>
#include <string>
#include <utility>

#include "model/errors.h"
#include "model/rope.h"
#include "model/vision_tables.h"

namespace pio {
namespace {

constexpr float kNormEps = 1e-6f;
constexpr double kRopeTheta = 10000.0;

}  // namespace

VisionModel::VisionModel(const VisionConfig& cfg, VisionWeights weights, Backend& backend)
    : cfg_(cfg),
      w_(std::move(weights)),
      be_(backend),
      head_dim_(cfg.hidden_size / cfg.num_heads),
      merged_dim_(cfg.hidden_size * cfg.spatial_merge_size * cfg.spatial_merge_size),
      pos_side_(static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(cfg.num_position_embeddings))))),
      inv_freq_(rope_inverse_frequencies(kRopeTheta, static_cast<int>(head_dim_ / 2))),
      deepstack_(cfg.deepstack_visual_indexes.size()) {
  // Interpolation reads four rows per patch, so the table is converted once up front.
  std::vector<int32_t> ids(static_cast<size_t>(cfg.num_position_embeddings));
  std::iota(ids.begin(), ids.end(), 0);
  pos_table_.resize(ids.size() * static_cast<size_t>(cfg.hidden_size));
  be_.embed(w_.pos_embed, ids, pos_table_.data());
  out_.deepstack.resize(deepstack_.size());
}

void VisionModel::check(const PixelValues& im, size_t index) const {
  const std::string what = "image " + std::to_string(index) + ": ";
  if (im.channels != cfg_.in_channels || im.temporal_patch_size != cfg_.temporal_patch_size ||
      im.patch_size != cfg_.patch_size)
    throw ModelError(what + "patches are " + std::to_string(im.channels) + " channels x " +
                     std::to_string(im.temporal_patch_size) + " frames x " + std::to_string(im.patch_size) +
                     " pixels, the vision config expects " + std::to_string(cfg_.in_channels) + " x " +
                     std::to_string(cfg_.temporal_patch_size) + " x " + std::to_string(cfg_.patch_size));
  const int m = cfg_.spatial_merge_size;
  if (im.grid_t <= 0 || im.grid_h <= 0 || im.grid_w <= 0 || im.grid_h % m || im.grid_w % m)
    throw ModelError(what + "grid " + std::to_string(im.grid_t) + "x" + std::to_string(im.grid_h) + "x" +
                     std::to_string(im.grid_w) + " is empty or not a multiple of spatial_merge_size " +
                     std::to_string(m));
  if (static_cast<int64_t>(im.data.size()) != im.rows() * im.row_width())
    throw ModelError(what + "holds " + std::to_string(im.data.size()) + " values, its grid needs " +
                     std::to_string(im.rows() * im.row_width()));
}

void VisionModel::reserve(int64_t rows) {
  if (rows <= capacity_) return;
  const auto n = [rows](int64_t width) { return static_cast<size_t>(rows * width); };
  const int64_t h = cfg_.hidden_size, tokens = rows * h / merged_dim_;
  x_.resize(n(h));
  xn_.resize(n(h));
  qkv_.resize(n(3 * h));
  attn_.resize(n(h));
  mlp_.resize(n(cfg_.intermediate_size));
  pos_.resize(n(h));
  cos_.resize(n(head_dim_ / 2));
  sin_.resize(n(head_dim_ / 2));
  merge_hidden_.resize(n(h));  // [rows / merge², merged_dim]
  const auto out_values = static_cast<size_t>(tokens * cfg_.out_hidden_size);
  embeds_.resize(out_values);
  for (auto& d : deepstack_) d.resize(out_values);
  capacity_ = rows;
}

// Patch embedding plus position embedding, the rotary tables and the attention segments.
void VisionModel::prepare(std::span<const PixelValues> images) {
  const int64_t h = cfg_.hidden_size, half = head_dim_ / 2;
  const int m = cfg_.spatial_merge_size;
  segments_.assign(1, 0);
  int64_t row = 0;
  for (const PixelValues& im : images) {
    const PatchGrid grid{im.grid_t, im.grid_h, im.grid_w};
    be_.matmul(im.data.data(), im.rows(), w_.patch_weight, w_.patch_bias, x_.data() + row * h);
    interpolate_position_embedding(pos_table_.data(), pos_side_, h, grid, m, pos_.data() + row * h);
    vision_rotary_tables(grid, m, inv_freq_, cos_.data() + row * half, sin_.data() + row * half);
    // Every frame of every image attends only to itself.
    for (int64_t t = 0; t < im.grid_t; ++t) segments_.push_back(segments_.back() + im.grid_h * im.grid_w);
    row += im.rows();
  }
  be_.add(x_.data(), pos_.data(), row * h);
}

void VisionModel::block(const VisionBlockWeights& b, int64_t rows) {
  const int64_t h = cfg_.hidden_size;
  float* qkv = qkv_.data();
  be_.layer_norm(x_.data(), rows, h, b.norm1_weight, b.norm1_bias, kNormEps, xn_.data());
  be_.matmul(xn_.data(), rows, b.qkv_weight, b.qkv_bias, qkv);
  be_.rotary(qkv, rows, 3 * h, cfg_.num_heads, static_cast<int>(head_dim_), cos_.data(), sin_.data());
  be_.rotary(qkv + h, rows, 3 * h, cfg_.num_heads, static_cast<int>(head_dim_), cos_.data(), sin_.data());
  be_.segment_attention(qkv, qkv + h, qkv + 2 * h, 3 * h, cfg_.num_heads, static_cast<int>(head_dim_), segments_,
                        1.0f / std::sqrt(static_cast<float>(head_dim_)), attn_.data(), h);
  be_.matmul(attn_.data(), rows, b.proj_weight, b.proj_bias, xn_.data());
  be_.add(x_.data(), xn_.data(), rows * h);
  be_.layer_norm(x_.data(), rows, h, b.norm2_weight, b.norm2_bias, kNormEps, xn_.data());
  be_.matmul(xn_.data(), rows, b.fc1_weight, b.fc1_bias, mlp_.data());
  be_.gelu_tanh(mlp_.data(), rows * cfg_.intermediate_size);
  be_.matmul(mlp_.data(), rows, b.fc2_weight, b.fc2_bias, xn_.data());
  be_.add(x_.data(), xn_.data(), rows * h);
}

void VisionModel::merger_mlp(const float* z, int64_t groups, const VisionMergerWeights& m, float* out) {
  be_.matmul(z, groups, m.fc1_weight, m.fc1_bias, merge_hidden_.data());
  be_.gelu_erf(merge_hidden_.data(), groups * merged_dim_);
  be_.matmul(merge_hidden_.data(), groups, m.fc2_weight, m.fc2_bias, out);
}

void VisionModel::begin(std::span<const PixelValues> images) {
  int64_t rows = 0;
  for (size_t i = 0; i < images.size(); ++i) {
    check(images[i], i);
    rows += images[i].rows();
  }
  rows_ = rows;
  next_block_ = 0;
  if (rows == 0) return;
  reserve(rows);
  prepare(images);
}

bool VisionModel::advance(int blocks) {
  const int64_t groups = rows_ * cfg_.hidden_size / merged_dim_;
  for (; rows_ > 0 && blocks > 0 && next_block_ < cfg_.depth; --blocks, ++next_block_) {
    const int j = next_block_;
    block(w_.blocks[static_cast<size_t>(j)], rows_);
    for (size_t k = 0; k < deepstack_.size(); ++k) {
      if (cfg_.deepstack_visual_indexes[k] != j) continue;
      // DeepStack normalises the concatenated 2x2 group (each group is 4 consecutive rows).
      be_.layer_norm(x_.data(), groups, merged_dim_, w_.deepstack[k].norm_weight, w_.deepstack[k].norm_bias,
                     kNormEps, xn_.data());
      merger_mlp(xn_.data(), groups, w_.deepstack[k], deepstack_[k].data());
    }
  }
  return rows_ == 0 || next_block_ == cfg_.depth;
}

const VisionOutput& VisionModel::finish() {
  const int64_t groups = rows_ * cfg_.hidden_size / merged_dim_;
  if (rows_ > 0) {
    // The final merger normalises each patch before concatenating.
    be_.layer_norm(x_.data(), rows_, cfg_.hidden_size, w_.merger.norm_weight, w_.merger.norm_bias, kNormEps, xn_.data());
    merger_mlp(xn_.data(), groups, w_.merger, embeds_.data());
  }
  out_.tokens = groups;
  const auto out_values = static_cast<size_t>(out_.tokens * cfg_.out_hidden_size);
  out_.image_embeds = {embeds_.data(), out_values};
  for (size_t k = 0; k < deepstack_.size(); ++k) out_.deepstack[k] = {deepstack_[k].data(), out_values};
  return out_;
}

const VisionOutput& VisionModel::encode(std::span<const PixelValues> images) {
  begin(images);
  advance(cfg_.depth);
  return finish();
}

}  // namespace pio
