// The quantisers: weights to the Q8/Q4 panels (once, at load) and activations to int8 blocks
// (every call, AVX2).
#include "gpu/cpu/quant.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "gpu/cpu/quant_layout.h"
#include "gpu/cpu/weight_access.h"
#include "gpu/kernel_math.h"

namespace pio::cpu {

using namespace quant_layout;

namespace {

bool is_quantized(WeightFormat f) { return f == WeightFormat::Q8 || f == WeightFormat::Q4; }

// The smallest f16 >= v (v >= 0, finite), so that a scale never shrinks the range it covers.
uint16_t f16_at_least(float v) {
  uint16_t h = math::f32_to_f16(v);
  if (math::f16_to_f32(h) < v) ++h;
  return h;
}

// The largest f16 <= v (finite).
uint16_t f16_at_most(float v) {
  uint16_t h = math::f32_to_f16(v);
  if (math::f16_to_f32(h) > v) {
    if (h == 0 || h == 0x8000) h = 0x8001;  // below zero: the smallest negative subnormal
    else if (h & 0x8000) ++h;               // negative: one step away from zero
    else --h;
  }
  return h;
}

constexpr float kF16Max = 65504.0f;

bool all_finite(const float* v) {
  return std::all_of(v, v + kBlock, [](float x) { return std::isfinite(x); });
}

[[noreturn]] void scale_out_of_range() {
  throw std::invalid_argument("quantize_weight: a weight is NaN or too large for an f16 scale");
}

// One block of 32 values of one row -> its quants (index t = position in the block) and scales.
struct BlockQ8 {
  int8_t q[kBlock];
  uint16_t d;
};
BlockQ8 quantize_q8(const float* v) {
  float amax = 0.0f;
  for (int t = 0; t < kBlock; ++t) amax = std::max(amax, std::fabs(v[t]));
  if (!all_finite(v) || !(amax / 127.0f <= kF16Max)) scale_out_of_range();
  BlockQ8 out{};
  out.d = f16_at_least(amax / 127.0f);
  const float d = math::f16_to_f32(out.d);
  for (int t = 0; t < kBlock; ++t) {
    const float q = d == 0.0f ? 0.0f : std::nearbyint(v[t] / d);
    out.q[t] = static_cast<int8_t>(std::clamp(q, -127.0f, 127.0f));
  }
  return out;
}

struct BlockQ4 {
  uint8_t q[kBlock];
  uint16_t d, m;
};
BlockQ4 quantize_q4(const float* v) {
  float lo = v[0], hi = v[0];
  for (int t = 1; t < kBlock; ++t) {
    lo = std::min(lo, v[t]);
    hi = std::max(hi, v[t]);
  }
  if (!all_finite(v) || !(lo >= -kF16Max && hi <= kF16Max && (hi - lo) / 15.0f <= kF16Max)) scale_out_of_range();
  BlockQ4 out{};
  out.m = f16_at_most(lo);
  const float m = math::f16_to_f32(out.m);
  out.d = f16_at_least((hi - m) / 15.0f);
  const float d = math::f16_to_f32(out.d);
  for (int t = 0; t < kBlock; ++t) {
    const float q = d == 0.0f ? 0.0f : std::nearbyint((v[t] - m) / d);
    out.q[t] = static_cast<uint8_t>(std::clamp(q, 0.0f, 15.0f));
  }
  return out;
}

// Row r's block b of w as 32 floats, zero-padded past the last column.
void read_block(const WeightView& w, int64_t r, int64_t b, float* v) {
  for (int64_t t = 0; t < kBlock; ++t) {
    const int64_t c = b * kBlock + t;
    v[t] = c < w.cols ? weight_at(w, r * w.cols + c) : 0.0f;
  }
}

void put_f16(uint8_t* p, uint16_t h) { std::memcpy(p, &h, sizeof h); }
uint16_t get_f16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, sizeof h);
  return h;
}

}  // namespace

int64_t quantized_bytes(WeightFormat format, int64_t rows, int64_t cols) {
  if (!is_quantized(format)) throw std::invalid_argument("quantized_bytes: the format is not Q8 or Q4");
  if (rows < 0 || cols < 0) throw std::invalid_argument("quantized_bytes: negative shape");
  return panels(rows) * panel_bytes(format, blocks(cols));
}

void quantize_weight(const WeightView& w, WeightFormat format, void* dst) {
  if (!is_quantized(format)) throw std::invalid_argument("quantize_weight: the format is not Q8 or Q4");
  if (w.format != WeightFormat::Plain) throw std::invalid_argument("quantize_weight: the source is not Plain");
  if (w.dtype != DType::F32 && w.dtype != DType::BF16 && w.dtype != DType::F16)
    throw std::invalid_argument("quantize_weight: the source dtype is not f32, bf16 or f16");
  auto* out = static_cast<uint8_t*>(dst);
  std::memset(out, 0, static_cast<size_t>(quantized_bytes(format, w.rows, w.cols)));
  const int64_t kb = blocks(w.cols);
  const int64_t pb = panel_bytes(format, kb);
  float v[kBlock];
  for (int64_t r = 0; r < w.rows; ++r) {
    uint8_t* panel = out + r / kPanelRows * pb;
    const int64_t pr = r % kPanelRows;
    for (int64_t b = 0; b < kb; ++b) {
      read_block(w, r, b, v);
      uint8_t* quants = panel + quant_offset(format, b) + pr * 4;
      uint8_t* scales = panel + scale_offset(format, b) + pr * 2;
      if (format == WeightFormat::Q8) {
        const BlockQ8 q = quantize_q8(v);
        for (int t = 0; t < kBlock; ++t) quants[t / 4 * 64 + t % 4] = static_cast<uint8_t>(q.q[t]);
        put_f16(scales, q.d);
      } else {
        const BlockQ4 q = quantize_q4(v);
        for (int i = 0; i < 4; ++i)
          for (int t = 0; t < 4; ++t)
            quants[i * 64 + t] = static_cast<uint8_t>(q.q[8 * i + t] | q.q[8 * i + 4 + t] << 4);
        put_f16(scales, q.d);
        put_f16(scales + 32, q.m);
      }
    }
  }
}

void dequantize_weight(const WeightView& w, float* out) {
  if (!is_quantized(w.format)) throw std::invalid_argument("dequantize_weight: the format is not Q8 or Q4");
  const auto* base = static_cast<const uint8_t*>(w.data);
  const int64_t kb = blocks(w.cols);
  const int64_t pb = panel_bytes(w.format, kb);
  for (int64_t r = 0; r < w.rows; ++r) {
    const uint8_t* panel = base + r / kPanelRows * pb;
    const int64_t pr = r % kPanelRows;
    for (int64_t c = 0; c < w.cols; ++c) {
      const int64_t b = c / kBlock, t = c % kBlock;
      const uint8_t* quants = panel + quant_offset(w.format, b) + pr * 4;
      const uint8_t* scales = panel + scale_offset(w.format, b) + pr * 2;
      const float d = math::f16_to_f32(get_f16(scales));
      if (w.format == WeightFormat::Q8) {
        out[r * w.cols + c] = d * static_cast<float>(static_cast<int8_t>(quants[t / 4 * 64 + t % 4]));
      } else {
        const int i = static_cast<int>(t / 8), nib = static_cast<int>(t % 8 / 4);
        const int q = quants[i * 64 + t % 4] >> (4 * nib) & 15;
        out[r * w.cols + c] = d * static_cast<float>(q) + math::f16_to_f32(get_f16(scales + 32));
      }
    }
  }
}

void size_quantized_rows(int64_t m, int64_t k, QuantizedRows& out) {
  const int64_t kb = blocks(k);
  out.m = m;
  out.blocks = kb;
  const auto need = static_cast<size_t>(m * kb);
  if (out.d.size() < need) {
    out.q.resize(need * kBlock);
    out.d.resize(need);
    out.ds.resize(need);
    out.s.resize(need);
  }
}

void quantize_rows(const float* x, int64_t m, int64_t k, QuantizedRows& out) {
  size_quantized_rows(m, k, out);
  quantize_row_range(x, k, 0, m, out);
}

void quantize_row_range(const float* x, int64_t k, int64_t row_begin, int64_t row_end, QuantizedRows& out) {
  const int64_t kb = out.blocks;
  const __m256 sign_bit = _mm256_set1_ps(-0.0f);
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);  // undoes the packs' lane interleave
  float tail[kBlock];
  for (int64_t i = row_begin; i < row_end; ++i) {
    for (int64_t b = 0; b < kb; ++b) {
      // Every block, the last one included, goes through the same vector code.
      const float* src = x + i * k + b * kBlock;
      if ((b + 1) * kBlock > k) {
        std::fill(tail, tail + kBlock, 0.0f);
        std::copy(src, x + i * k + k, tail);
        src = tail;
      }
      __m256 v[4];
      __m256 amax = _mm256_setzero_ps();
      for (int j = 0; j < 4; ++j) {
        v[j] = _mm256_loadu_ps(src + 8 * j);
        amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign_bit, v[j]));
      }
      __m128 h = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
      h = _mm_max_ps(h, _mm_movehl_ps(h, h));
      h = _mm_max_ss(h, _mm_movehdup_ps(h));
      const float a = _mm_cvtss_f32(h);
      const __m256 inv = _mm256_set1_ps(a == 0.0f ? 0.0f : 127.0f / a);
      __m256i q[4];
      for (int j = 0; j < 4; ++j) q[j] = _mm256_cvtps_epi32(_mm256_mul_ps(v[j], inv));
      __m256i sum = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
      __m128i s = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
      s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
      s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
      const int32_t total = _mm_cvtsi128_si32(s);
      const __m256i packed = _mm256_permutevar8x32_epi32(
          _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3])), order);
      const int64_t at = i * kb + b;
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out.q.data() + at * kBlock), packed);
      out.d[at] = a / 127.0f;
      out.ds[at] = out.d[at] * static_cast<float>(total);
      out.s[at] = -128 * total;
    }
  }
}

}  // namespace pio::cpu
