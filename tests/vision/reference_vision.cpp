#include "reference_vision.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

namespace ref {
namespace {

using Mat = std::vector<double>;  // row-major

// A checkpoint tensor decoded to double (F32 and BF16 are what the tests write).
Mat tensor(const pio::Checkpoint& ckpt, const std::string& name) {
  const pio::TensorInfo* t = ckpt.find("model.visual." + name);
  if (!t) throw std::runtime_error("reference: no tensor " + name);
  Mat out(static_cast<size_t>(t->numel()));
  const auto* bytes = static_cast<const unsigned char*>(t->data);
  for (size_t i = 0; i < out.size(); ++i) {
    if (t->dtype == pio::DType::F32) {
      float f;
      std::memcpy(&f, bytes + 4 * i, 4);
      out[i] = f;
    } else if (t->dtype == pio::DType::BF16) {
      uint16_t b;
      std::memcpy(&b, bytes + 2 * i, 2);
      const uint32_t u = uint32_t{b} << 16;
      float f;
      std::memcpy(&f, &u, 4);
      out[i] = f;
    } else {
      throw std::runtime_error("reference: unsupported dtype for " + name);
    }
  }
  return out;
}

// y[n, out] = x[n, in] W[out, in]^T + b
Mat linear(const Mat& x, size_t n, const Mat& w, const Mat& b) {
  const size_t out = b.size(), in = w.size() / out;
  Mat y(n * out);
  for (size_t r = 0; r < n; ++r)
    for (size_t o = 0; o < out; ++o) {
      double s = b[o];
      for (size_t i = 0; i < in; ++i) s += x[r * in + i] * w[o * in + i];
      y[r * out + o] = s;
    }
  return y;
}

Mat layer_norm(const Mat& x, size_t dim, const Mat& w, const Mat& b) {
  Mat y(x.size());
  for (size_t r = 0; r < x.size() / dim; ++r) {
    double mean = 0, var = 0;
    for (size_t i = 0; i < dim; ++i) mean += x[r * dim + i];
    mean /= static_cast<double>(dim);
    for (size_t i = 0; i < dim; ++i) var += (x[r * dim + i] - mean) * (x[r * dim + i] - mean);
    var /= static_cast<double>(dim);
    for (size_t i = 0; i < dim; ++i) y[r * dim + i] = (x[r * dim + i] - mean) / std::sqrt(var + 1e-6) * w[i] + b[i];
  }
  return y;
}

// Patch n of a frame in the processor's order: 2x2 blocks in raster order, raster inside.
void patch_coords(size_t n, size_t w, size_t m, size_t& row, size_t& col) {
  const size_t block = n / (m * m), in_block = n % (m * m);
  row = block / (w / m) * m + in_block / m;
  col = block % (w / m) * m + in_block % m;
}

// align_corners=True: sample i of n sits at i * (side - 1) / (n - 1) of the table.
void corners(size_t i, size_t n, size_t side, size_t& lo, size_t& hi, double& frac) {
  const double x = n == 1 ? 0.0 : static_cast<double>(i) * static_cast<double>(side - 1) / static_cast<double>(n - 1);
  lo = static_cast<size_t>(std::floor(x));
  hi = lo + 1 < side ? lo + 1 : side - 1;
  frac = x - static_cast<double>(lo);
}

// One image's merger: groups of m*m consecutive rows concatenated, fc1, exact GELU, fc2.
Mat merger(const pio::Checkpoint& ckpt, const std::string& p, const Mat& x, size_t hidden, size_t mm,
           bool norm_after_concat) {
  const Mat nw = tensor(ckpt, p + "norm.weight"), nb = tensor(ckpt, p + "norm.bias");
  const Mat z = norm_after_concat ? layer_norm(x, hidden * mm, nw, nb) : layer_norm(x, hidden, nw, nb);
  Mat a = linear(z, x.size() / (hidden * mm), tensor(ckpt, p + "linear_fc1.weight"), tensor(ckpt, p + "linear_fc1.bias"));
  for (double& v : a) v = 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
  return linear(a, x.size() / (hidden * mm), tensor(ckpt, p + "linear_fc2.weight"), tensor(ckpt, p + "linear_fc2.bias"));
}

}  // namespace

VisionResult encode_image(const pio::Checkpoint& ckpt, const pio::VisionConfig& cfg, const pio::PixelValues& im) {
  const size_t hidden = static_cast<size_t>(cfg.hidden_size), heads = static_cast<size_t>(cfg.num_heads);
  const size_t hd = hidden / heads, m = static_cast<size_t>(cfg.spatial_merge_size);
  const size_t T = static_cast<size_t>(im.grid_t), H = static_cast<size_t>(im.grid_h), W = static_cast<size_t>(im.grid_w);
  const size_t frame = H * W, n = T * frame, width = static_cast<size_t>(im.row_width());
  const size_t side = static_cast<size_t>(std::llround(std::sqrt(static_cast<double>(cfg.num_position_embeddings))));

  // Conv3d with kernel == stride over each patch, written as the convolution sum.
  const Mat pw = tensor(ckpt, "patch_embed.proj.weight"), pb = tensor(ckpt, "patch_embed.proj.bias");
  Mat x(n * hidden);
  for (size_t r = 0; r < n; ++r)
    for (size_t o = 0; o < hidden; ++o) {
      double s = pb[o];
      for (size_t i = 0; i < width; ++i) s += static_cast<double>(im.data[r * width + i]) * pw[o * width + i];
      x[r * hidden + o] = s;
    }

  // Bilinear position embedding and rotary angles, per patch from its (row, col).
  const Mat pos = tensor(ckpt, "pos_embed.weight");
  std::vector<size_t> prow(n), pcol(n);
  for (size_t r = 0; r < n; ++r) {
    patch_coords(r % frame, W, m, prow[r], pcol[r]);
    size_t y0, y1, x0, x1;
    double dy, dx;
    corners(prow[r], H, side, y0, y1, dy);
    corners(pcol[r], W, side, x0, x1, dx);
    for (size_t d = 0; d < hidden; ++d)
      x[r * hidden + d] += (1 - dy) * (1 - dx) * pos[(y0 * side + x0) * hidden + d] +
                           (1 - dy) * dx * pos[(y0 * side + x1) * hidden + d] +
                           dy * (1 - dx) * pos[(y1 * side + x0) * hidden + d] + dy * dx * pos[(y1 * side + x1) * hidden + d];
  }
  const auto rope = [&](Mat& v, size_t off) {  // v rows of 3*hidden; heads at off
    const size_t half = hd / 2, quarter = hd / 4;
    for (size_t r = 0; r < n; ++r)
      for (size_t h = 0; h < heads; ++h) {
        double* q = &v[r * 3 * hidden + off + h * hd];
        for (size_t i = 0; i < half; ++i) {
          const double p = static_cast<double>(i < quarter ? prow[r] : pcol[r]);
          const double angle = p * std::pow(10000.0, -2.0 * static_cast<double>(i % quarter) / static_cast<double>(half));
          const double a = q[i], b = q[i + half];
          q[i] = a * std::cos(angle) - b * std::sin(angle);
          q[i + half] = b * std::cos(angle) + a * std::sin(angle);
        }
      }
  };

  VisionResult out;
  out.deepstack.resize(cfg.deepstack_visual_indexes.size());
  for (int j = 0; j < cfg.depth; ++j) {
    const std::string b = "blocks." + std::to_string(j) + ".";
    Mat qkv = linear(layer_norm(x, hidden, tensor(ckpt, b + "norm1.weight"), tensor(ckpt, b + "norm1.bias")), n,
                     tensor(ckpt, b + "attn.qkv.weight"), tensor(ckpt, b + "attn.qkv.bias"));
    rope(qkv, 0);
    rope(qkv, hidden);
    Mat attn(n * hidden, 0.0);
    for (size_t r = 0; r < n; ++r) {
      const size_t begin = r / frame * frame;  // each frame attends to itself
      for (size_t h = 0; h < heads; ++h) {
        std::vector<double> score(frame);
        double top = -1e300, total = 0;
        for (size_t s = 0; s < frame; ++s) {
          double dot = 0;
          for (size_t d = 0; d < hd; ++d)
            dot += qkv[r * 3 * hidden + h * hd + d] * qkv[(begin + s) * 3 * hidden + hidden + h * hd + d];
          score[s] = dot / std::sqrt(static_cast<double>(hd));
          top = std::max(top, score[s]);
        }
        for (double& s : score) total += (s = std::exp(s - top));
        for (size_t s = 0; s < frame; ++s)
          for (size_t d = 0; d < hd; ++d)
            attn[r * hidden + h * hd + d] += score[s] / total * qkv[(begin + s) * 3 * hidden + 2 * hidden + h * hd + d];
      }
    }
    const Mat o = linear(attn, n, tensor(ckpt, b + "attn.proj.weight"), tensor(ckpt, b + "attn.proj.bias"));
    for (size_t i = 0; i < x.size(); ++i) x[i] += o[i];
    Mat f = linear(layer_norm(x, hidden, tensor(ckpt, b + "norm2.weight"), tensor(ckpt, b + "norm2.bias")), n,
                   tensor(ckpt, b + "mlp.linear_fc1.weight"), tensor(ckpt, b + "mlp.linear_fc1.bias"));
    const double k = std::sqrt(2.0 / M_PI);
    for (double& v : f) v = 0.5 * v * (1.0 + std::tanh(k * (v + 0.044715 * v * v * v)));
    const Mat g = linear(f, n, tensor(ckpt, b + "mlp.linear_fc2.weight"), tensor(ckpt, b + "mlp.linear_fc2.bias"));
    for (size_t i = 0; i < x.size(); ++i) x[i] += g[i];
    for (size_t t = 0; t < cfg.deepstack_visual_indexes.size(); ++t)
      if (cfg.deepstack_visual_indexes[t] == j)
        out.deepstack[t] = merger(ckpt, "deepstack_merger_list." + std::to_string(t) + ".", x, hidden, m * m, true);
  }
  out.image_embeds = merger(ckpt, "merger.", x, hidden, m * m, false);
  return out;
}

}  // namespace ref
