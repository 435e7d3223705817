#include "model/vision_model.h"

#include <algorithm>
#include <cmath>
#include <limits>
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

// The vision config of a checkpoint that has a vision tower; throws ModelError for a text-only one.
const VisionConfig& vision_config(const ModelWeights& weights) {
  weights.vision();
  return *weights.config().vision;
}

}  // namespace

VisionModel::VisionModel(const VisionConfig& cfg, const VisionWeights& weights, Backend& backend)
    : cfg_(cfg),
      be_(backend),
      placement_(backend),
      w_(placement_.place(weights)),
      head_dim_(cfg.hidden_size / cfg.num_heads),
      merged_dim_(cfg.hidden_size * cfg.spatial_merge_size * cfg.spatial_merge_size),
      pos_side_(static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(cfg.num_position_embeddings))))),
      pos_table_(position_table()),
      inv_freq_(rope_inverse_frequencies(kRopeTheta, static_cast<int>(head_dim_ / 2))),
      pixels_(backend), x_(backend), xn_(backend), qkv_(backend), attn_(backend), mlp_(backend), pos_(backend),
      cos_(backend), sin_(backend), merge_hidden_(backend), embeds_(backend),
      deepstack_host_(cfg.deepstack_visual_indexes.size()) {
  deepstack_.reserve(cfg.deepstack_visual_indexes.size());
  for (size_t k = 0; k < cfg.deepstack_visual_indexes.size(); ++k) deepstack_.emplace_back(backend);
  out_.deepstack.resize(deepstack_.size());
}

// Interpolation reads four rows per patch, so the table is converted once up front.
std::vector<float> VisionModel::position_table() {
  std::vector<int32_t> ids(static_cast<size_t>(cfg_.num_position_embeddings));
  std::iota(ids.begin(), ids.end(), 0);
  const size_t values = ids.size() * static_cast<size_t>(cfg_.hidden_size);
  ScratchBuffer rows(be_);
  rows.resize(values);
  be_.embed(w_.pos_embed, ids, rows.data());
  std::vector<float> table(values);
  be_.download(table.data(), rows.data(), values * sizeof(float));
  return table;
}

VisionModel::VisionModel(const ModelWeights& weights, Backend& backend)
    : VisionModel(vision_config(weights), weights.vision(), backend) {}

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
  pixels_.resize(n(int64_t{cfg_.in_channels} * cfg_.temporal_patch_size * cfg_.patch_size * cfg_.patch_size));
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

void VisionModel::release_buffers_over(int64_t rows) {
  if (capacity_ <= rows) return;
  pass_ = Pass::done;  // an encode left unfinished is abandoned: the next one begins anew
  for (ScratchBuffer* b : {&pixels_, &x_, &xn_, &qkv_, &attn_, &mlp_, &pos_, &cos_, &sin_, &merge_hidden_, &embeds_})
    b->release();
  for (auto& d : deepstack_) d.release();
  for (std::vector<float>* v : {&pos_host_, &cos_host_, &sin_host_, &embeds_host_}) *v = {};
  for (auto& d : deepstack_host_) d = {};
  capacity_ = 0;
  out_ = {};
  out_.deepstack.resize(deepstack_.size());
}

// The pixel rows, the position embeddings, the rotary tables and the attention segments (the
// patch embedding itself is the first pass).
void VisionModel::prepare(std::span<const PixelValues> images) {
  const int64_t h = cfg_.hidden_size, half = head_dim_ / 2;
  const int m = cfg_.spatial_merge_size;
  pos_host_.resize(static_cast<size_t>(rows_ * h));
  cos_host_.resize(static_cast<size_t>(rows_ * half));
  sin_host_.resize(static_cast<size_t>(rows_ * half));
  segments_.assign(1, 0);
  int64_t row = 0;
  float* pixels = pixels_.data();
  for (const PixelValues& im : images) {
    const PatchGrid grid{im.grid_t, im.grid_h, im.grid_w};
    be_.upload(pixels, im.data.data(), im.data.size() * sizeof(float));
    pixels += im.data.size();
    interpolate_position_embedding(pos_table_.data(), pos_side_, h, grid, m, pos_host_.data() + row * h);
    vision_rotary_tables(grid, m, inv_freq_, cos_host_.data() + row * half, sin_host_.data() + row * half);
    // Every frame of every image attends only to itself.
    for (int64_t t = 0; t < im.grid_t; ++t) segments_.push_back(segments_.back() + im.grid_h * im.grid_w);
    row += im.rows();
  }
  be_.upload(pos_.data(), pos_host_.data(), pos_host_.size() * sizeof(float));
  be_.upload(cos_.data(), cos_host_.data(), cos_host_.size() * sizeof(float));
  be_.upload(sin_.data(), sin_host_.data(), sin_host_.size() * sizeof(float));
}

// Rows [r0, r0 + n) of the patch embedding plus their position embedding.
void VisionModel::embed(int64_t r0, int64_t n) {
  const int64_t h = cfg_.hidden_size;
  // Every image's rows have the config's width, so the uploaded pixel rows are one matrix.
  const int64_t width = int64_t{cfg_.in_channels} * cfg_.temporal_patch_size * cfg_.patch_size * cfg_.patch_size;
  be_.matmul(pixels_.data() + r0 * width, n, w_.patch_weight, w_.patch_bias, x_.data() + r0 * h);
  be_.add(x_.data() + r0 * h, pos_.data() + r0 * h, n * h);
}

// Rows [r0, r0 + n) of a block's first half: norm1, QKV, rotary on Q and K. The last rows
// hand K and V to the backend's segment attention.
void VisionModel::block_qkv(const VisionBlockWeights& b, int64_t r0, int64_t n) {
  const int64_t h = cfg_.hidden_size, half = head_dim_ / 2;
  float* qkv = qkv_.data() + r0 * 3 * h;
  be_.layer_norm(x_.data() + r0 * h, n, h, b.norm1_weight, b.norm1_bias, kNormEps, xn_.data() + r0 * h);
  be_.matmul(xn_.data() + r0 * h, n, b.qkv_weight, b.qkv_bias, qkv);
  for (const int64_t part : {int64_t{0}, h})
    be_.rotary(qkv + part, n, 3 * h, cfg_.num_heads, static_cast<int>(head_dim_), cos_.data() + r0 * half,
               sin_.data() + r0 * half);
  if (r0 + n == rows_)
    be_.prepare_segment_attention(qkv_.data() + h, qkv_.data() + 2 * h, 3 * h, cfg_.num_heads,
                                  static_cast<int>(head_dim_), segments_);
}

// Rows [r0, r0 + n) of a block's second half: attention, projection and residual, norm2, MLP
// and residual. Only these rows of x change, and the attention reads the QKV rows only.
void VisionModel::block_attend(const VisionBlockWeights& b, int64_t r0, int64_t n) {
  const int64_t h = cfg_.hidden_size, inter = cfg_.intermediate_size;
  float* x = x_.data() + r0 * h;
  float* xn = xn_.data() + r0 * h;
  float* mlp = mlp_.data() + r0 * inter;
  be_.segment_attention(qkv_.data(), 3 * h, 1.0f / std::sqrt(static_cast<float>(head_dim_)), r0, r0 + n, attn_.data(), h);
  be_.matmul(attn_.data() + r0 * h, n, b.proj_weight, b.proj_bias, xn);
  be_.add(x, xn, n * h);
  be_.layer_norm(x, n, h, b.norm2_weight, b.norm2_bias, kNormEps, xn);
  be_.matmul(xn, n, b.fc1_weight, b.fc1_bias, mlp);
  be_.gelu_tanh(mlp, n * inter);
  be_.matmul(mlp, n, b.fc2_weight, b.fc2_bias, xn);
  be_.add(x, xn, n * h);
}

// Merged groups [g0, g0 + n) through a merger: `postshuffle` (DeepStack) normalises each
// concatenated 2x2 group of 4 consecutive rows; the final merger normalises each patch first.
void VisionModel::merge(const VisionMergerWeights& m, bool postshuffle, int64_t g0, int64_t n, float* out) {
  const int64_t h = cfg_.hidden_size, per_group = merged_dim_ / h;
  float* xn = xn_.data() + g0 * merged_dim_;
  if (postshuffle)
    be_.layer_norm(x_.data() + g0 * merged_dim_, n, merged_dim_, m.norm_weight, m.norm_bias, kNormEps, xn);
  else
    be_.layer_norm(x_.data() + g0 * merged_dim_, n * per_group, h, m.norm_weight, m.norm_bias, kNormEps, xn);
  merger_mlp(xn, n, m, out + g0 * cfg_.out_hidden_size);
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
  next_row_ = 0;
  tap_ = 0;
  pass_ = rows == 0 ? Pass::done : Pass::embed;
  if (rows == 0) return;
  reserve(rows);
  prepare(images);
}

int64_t VisionModel::pass_rows() const {
  const int64_t groups = rows_ * cfg_.hidden_size / merged_dim_;
  return pass_ == Pass::embed || pass_ == Pass::qkv || pass_ == Pass::attend ? rows_ : groups;
}

// The DeepStack tap at or after tap_ that reads block next_block_, or -1.
int VisionModel::next_tap() const {
  for (size_t k = static_cast<size_t>(tap_); k < deepstack_.size(); ++k)
    if (cfg_.deepstack_visual_indexes[k] == next_block_) return static_cast<int>(k);
  return -1;
}

void VisionModel::next_pass() {
  next_row_ = 0;
  if (pass_ == Pass::embed) {
    pass_ = cfg_.depth > 0 ? Pass::qkv : Pass::merge;
    return;
  }
  if (pass_ == Pass::qkv) {
    pass_ = Pass::attend;
    return;
  }
  if (pass_ == Pass::merge) {
    pass_ = Pass::done;
    return;
  }
  // A block's second half or a DeepStack tap ended: the block's next tap, or the next block.
  if (pass_ == Pass::deepstack) ++tap_;
  else tap_ = 0;
  const int tap = next_tap();
  if (tap >= 0) {
    tap_ = tap;
    pass_ = Pass::deepstack;
    return;
  }
  tap_ = 0;
  ++next_block_;
  pass_ = next_block_ < cfg_.depth ? Pass::qkv : Pass::merge;
}

int64_t VisionModel::advance(int64_t rows) {
  if (pass_ == Pass::done || rows <= 0) return 0;
  const int64_t per_group = merged_dim_ / cfg_.hidden_size;
  const bool grouped = pass_ == Pass::deepstack || pass_ == Pass::merge;
  const int64_t n = std::min(pass_rows() - next_row_, std::max<int64_t>(1, grouped ? rows / per_group : rows));
    switch (pass_) {
      case Pass::embed: embed(next_row_, n); break;
      case Pass::qkv: block_qkv(w_.blocks[static_cast<size_t>(next_block_)], next_row_, n); break;
      case Pass::attend: block_attend(w_.blocks[static_cast<size_t>(next_block_)], next_row_, n); break;
      case Pass::deepstack:
        merge(w_.deepstack[static_cast<size_t>(tap_)], true, next_row_, n, deepstack_[static_cast<size_t>(tap_)].data());
        break;
      case Pass::merge: merge(w_.merger, false, next_row_, n, embeds_.data()); break;
      case Pass::done: break;
  }
  next_row_ += n;
  if (next_row_ == pass_rows()) next_pass();
  return grouped ? n * per_group : n;
}

const VisionOutput& VisionModel::finish() {
  while (!finished()) advance(std::numeric_limits<int64_t>::max());
  out_.tokens = rows_ * cfg_.hidden_size / merged_dim_;
  const auto out_values = static_cast<size_t>(out_.tokens * cfg_.out_hidden_size);
  out_.image_embeds = host_output(embeds_, out_values, embeds_host_);
  for (size_t k = 0; k < deepstack_.size(); ++k) out_.deepstack[k] = host_output(deepstack_[k], out_values, deepstack_host_[k]);
  return out_;
}

std::span<const float> VisionModel::host_output(const ScratchBuffer& buffer, size_t values, std::vector<float>& host) {
  if (be_.shares_host_memory()) return {buffer.data(), values};
  host.resize(values);
  be_.download(host.data(), buffer.data(), values * sizeof(float));
  return host;
}

const VisionOutput& VisionModel::encode(std::span<const PixelValues> images) {
  begin(images);
  return finish();
}

}  // namespace pio
