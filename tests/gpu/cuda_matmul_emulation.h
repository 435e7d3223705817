// The CUDA matmul launches of gpu/cuda/gemv.cu and gemm_tiled.cu run on the CPU: the same
// gemv_math.h functions over every block, warp, lane and barrier-separated phase, in launch
// order. The CPU tests compare them with references; the device tests compare the device's
// results with them bit for bit.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "gpu/backend.h"
#include "gpu/cpu/quant.h"
#include "gpu/cuda/gemv_math.h"
#include "gpu/kernel_math.h"

namespace pio::test {

using namespace pio::cuda_math;

// A dense weight [n, k] in `dtype` (bytes as the device holds them) and its float values.
struct Dense {
  DType dtype;
  std::vector<float> values;
  std::vector<uint16_t> half;
  const void* data() const { return dtype == DType::F32 ? static_cast<const void*>(values.data()) : half.data(); }
};

inline Dense dense_weight(DType dtype, std::vector<float> v) {
  Dense w{dtype, std::move(v), {}};
  if (dtype == DType::F32) return w;
  for (auto& x : w.values) {
    w.half.push_back(dtype == DType::BF16 ? math::f32_to_bf16(x) : math::f32_to_f16(x));
    x = dtype == DType::BF16 ? math::bf16_to_f32(w.half.back()) : math::f16_to_f32(w.half.back());
  }
  return w;
}

struct AlignedFree {
  void operator()(uint8_t* p) const { std::free(p); }
};

// A quantised weight: the CPU's panels (64-byte aligned, as the CPU kernels need) and the values
// they stand for.
struct Quantized {
  std::vector<float> values;
  std::unique_ptr<uint8_t, AlignedFree> bytes;
};

inline Quantized quantize(WeightFormat f, const std::vector<float>& w, int64_t n, int64_t k) {
  Quantized q;
  const auto size = static_cast<size_t>(cpu::quantized_bytes(f, n, k));  // a multiple of 64
  q.bytes.reset(static_cast<uint8_t*>(std::aligned_alloc(64, std::max<size_t>(size, 64))));
  cpu::quantize_weight(WeightView{DType::F32, w.data(), n, k}, f, q.bytes.get());
  q.values.resize(w.size());
  cpu::dequantize_weight(WeightView{DType::F32, q.bytes.get(), n, k, f}, q.values.data());
  return q;
}


// gemv_dense_kernel over its whole grid: block b, warp w -> output row b * 4 + w; each warp's 32
// lanes' partials, then the butterfly phases.
template <DType T>
std::vector<float> run_gemv_dense(const std::vector<float>& x, int64_t m, const void* w, int64_t n, int64_t k,
                                  const float* bias) {
  std::vector<float> y(static_cast<size_t>(m * n), std::nanf(""));
  const int64_t elem = T == DType::F32 ? 4 : 2;
  for (int64_t block = 0; block < ceil_div(n, kGemvWarps); ++block) {
    for (int warp = 0; warp < kGemvWarps; ++warp) {
      const int64_t row = block * kGemvWarps + warp;
      if (row >= n) continue;
      const void* w_row = static_cast<const char*>(w) + row * k * elem;
      for (int64_t i0 = 0; i0 < m; i0 += kMaxRows) {
        const int rows = static_cast<int>(std::min<int64_t>(m - i0, kMaxRows));
        float acc[kWarp][kMaxRows];
        for (int lane = 0; lane < kWarp; ++lane)
          dense_lane_partials<T>(x.data() + i0 * k, rows, w_row, k, lane, acc[lane]);
        for (int i = 0; i < rows; ++i) {
          float lanes[kWarp];
          for (int lane = 0; lane < kWarp; ++lane) lanes[lane] = acc[lane][i];
          y[(i0 + i) * n + row] = finish(lanes_tree_sum(lanes), bias, row);
        }
      }
    }
  }
  return y;
}

// gemm_tiled_kernel over its whole grid: per block, per 256-column step, the staging phase of
// all 128 threads, a barrier, the step of all threads; then each warp's trees.
template <DType T>
std::vector<float> run_gemm_tiled(const std::vector<float>& x, int64_t m, const void* w, int64_t n, int64_t k,
                                  const float* bias) {
  std::vector<float> y(static_cast<size_t>(m * n), std::nanf(""));
  std::vector<float> xs(kTileRows * kStepCols), ws(kTileCols * kStepCols);
  struct Acc {
    float v[kWarpRows][kWarpCols];
  };
  std::vector<Acc> acc(kTileThreads);
  for (int64_t by = 0; by < ceil_div(m, kTileRows); ++by) {
    for (int64_t bx = 0; bx < ceil_div(n, kTileCols); ++bx) {
      const int64_t i0 = by * kTileRows, n0 = bx * kTileCols;
      for (auto& a : acc)
        for (auto& r : a.v)
          for (auto& v : r) v = 0.0f;
      for (int64_t s = 0; s * kStepCols < k; ++s) {
        for (int t = 0; t < kTileThreads; ++t) tile_stage<T>(x.data(), m, w, n, k, i0, n0, s, t, xs.data(), ws.data());
        for (int t = 0; t < kTileThreads; ++t) {
          const int warp = t / kWarp;
          tile_step(xs.data(), ws.data(), k, s, warp / kTileWarpsN, warp % kTileWarpsN, t % kWarp, acc[t].v);
        }
      }
      for (int warp = 0; warp < kTileWarps; ++warp) {
        const int wm = warp / kTileWarpsN, wn = warp % kTileWarpsN;
        for (int r = 0; r < kWarpRows; ++r) {
          for (int c = 0; c < kWarpCols; ++c) {
            float lanes[kWarp];
            for (int lane = 0; lane < kWarp; ++lane) lanes[lane] = acc[warp * kWarp + lane].v[r][c];
            const int64_t i = i0 + wm * kWarpRows + r, j = n0 + wn * kWarpCols + c;
            if (i < m && j < n) y[i * n + j] = finish(lanes_tree_sum(lanes), bias, j);
          }
        }
      }
    }
  }
  return y;
}

// x quantised as quantize_rows_kernel does: block (b, i), lane t; amax and the sum of q are
// butterfly reductions (max and integer sums: the order does not matter).
inline cpu::QuantizedRows run_quantize_rows(const std::vector<float>& x, int64_t m, int64_t k) {
  cpu::QuantizedRows out;
  const int64_t kb = ceil_div(k, kQBlock);
  out.m = m;
  out.blocks = kb;
  out.q.resize(static_cast<size_t>(m * kb * kQBlock));
  out.d.resize(static_cast<size_t>(m * kb));
  out.ds.resize(static_cast<size_t>(m * kb));
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t b = 0; b < kb; ++b) {
      float v[kQBlock], amax = 0.0f;
      for (int t = 0; t < kQBlock; ++t) {
        v[t] = quant_input(x.data(), k, i, b, t);
        amax = std::fmax(amax, std::fabs(v[t]));
      }
      int32_t sum = 0;
      for (int t = 0; t < kQBlock; ++t) {
        const int8_t q = quant_value(v[t], amax);
        out.q[static_cast<size_t>((i * kb + b) * kQBlock + t)] = q;
        sum += q;
      }
      out.d[static_cast<size_t>(i * kb + b)] = quant_scale(amax);
      out.ds[static_cast<size_t>(i * kb + b)] = quant_scaled_sum(quant_scale(amax), sum);
    }
  }
  return out;
}

// gemv_quant_kernel over its whole grid: block p (panel), threads t = s * 16 + r, the xor-16
// step and the shared-memory phases (quant_split_tree_sum follows them).
inline std::vector<float> run_gemv_quant(bool q4, const cpu::QuantizedRows& xq, int64_t m, const uint8_t* w, int64_t n,
                                  int64_t k, const float* bias) {
  std::vector<float> y(static_cast<size_t>(m * n), std::nanf(""));
  const int64_t kb = ceil_div(k, kQBlock);
  for (int64_t p = 0; p < ceil_div(n, kPanelRows); ++p) {
    const uint8_t* panel = w + p * quant_panel_bytes(q4, k);
    for (int64_t i0 = 0; i0 < m; i0 += kMaxRows) {
      const int rows = static_cast<int>(std::min<int64_t>(m - i0, kMaxRows));
      float acc[kQuantThreads][kMaxRows];
      for (int t = 0; t < kQuantThreads; ++t)
        quant_thread_partials(q4, panel, xq.q.data() + i0 * kb * kQBlock, xq.d.data() + i0 * kb,
                              xq.ds.data() + i0 * kb, kb, rows, t % kPanelRows, t / kPanelRows, acc[t]);
      for (int r = 0; r < kPanelRows; ++r) {
        const int64_t out = p * kPanelRows + r;
        if (out >= n) continue;
        for (int i = 0; i < rows; ++i) {
          float split[kQuantSplits];
          for (int s = 0; s < kQuantSplits; ++s) split[s] = acc[s * kPanelRows + r][i];
          y[(i0 + i) * n + out] = finish(quant_split_tree_sum(split), bias, out);
        }
      }
    }
  }
  return y;
}

}  // namespace pio::test
