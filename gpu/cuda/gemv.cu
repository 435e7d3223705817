// The decode GEMV kernels (dense and Q8/Q4 weights) and the activation quantiser: launch
// geometry only; the arithmetic is gemv_math.h's.
#include "gpu/backend_error.h"
#include "gpu/cuda/gemv_math.h"
#include "gpu/cuda/matmul.h"

namespace pio::cuda {
namespace {

using namespace cuda_math;

// Block b, warp w: output row n = b * kGemvWarps + w; lane partials then the warp's tree.
template <DType T>
__global__ void gemv_dense_kernel(const float* x, int64_t m, const void* w, int64_t n, int64_t k, const float* bias,
                                  float* y) {
  const int lane = static_cast<int>(threadIdx.x) % kWarp;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kGemvWarps + threadIdx.x / kWarp;
  if (row >= n) return;  // the whole warp: no barrier follows
  const void* w_row = static_cast<const char*>(w) + row * k * static_cast<int64_t>(T == DType::F32 ? 4 : 2);
  for (int64_t i0 = 0; i0 < m; i0 += kMaxRows) {
    const int rows = static_cast<int>(m - i0 < kMaxRows ? m - i0 : kMaxRows);
    float acc[kMaxRows];
    dense_lane_partials<T>(x + i0 * k, rows, w_row, k, lane, acc);
#pragma unroll
    for (int i = 0; i < kMaxRows; ++i) {
      if (i < rows) {
        const float sum = warp_tree_sum(acc[i]);
        if (lane == 0) y[(i0 + i) * n + row] = finish(sum, bias, row);
      }
    }
  }
}

// Block (b, i): row i's 32-block b, one value per lane.
__global__ void quantize_rows_kernel(const float* x, int64_t k, int64_t kb, int8_t* q, float* d, float* ds) {
  const int t = static_cast<int>(threadIdx.x);
  const int64_t i = blockIdx.x, b = blockIdx.y;  // rows in x: a vision encode may have over 65535
  const float v = quant_input(x, k, i, b, t);
  float amax = fabsf(v);
#pragma unroll
  for (int o = kWarp / 2; o >= 1; o /= 2) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
  const int8_t qv = quant_value(v, amax);
  int32_t sum = qv;
#pragma unroll
  for (int o = kWarp / 2; o >= 1; o /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, o);
  q[(i * kb + b) * kQBlock + t] = qv;
  if (t == 0) {
    const float scale = quant_scale(amax);
    d[i * kb + b] = scale;
    ds[i * kb + b] = quant_scaled_sum(scale, sum);
  }
}

// Block p: panel p (outputs 16p .. 16p + 15); thread t = s * 16 + r (split s, panel row r).
template <bool kQ4>
__global__ void gemv_quant_kernel(const int8_t* xq, const float* xd, const float* xds, int64_t m, const uint8_t* w,
                                  int64_t n, int64_t k, const float* bias, float* y) {
  __shared__ float red[kMaxRows][kQuantWarps][kPanelRows];
  const int t = static_cast<int>(threadIdx.x);
  const int r = t % kPanelRows, s = t / kPanelRows, warp = t / kWarp, lane = t % kWarp;
  const int64_t kb = ceil_div(k, kQBlock);
  const uint8_t* panel = w + static_cast<int64_t>(blockIdx.x) * quant_panel_bytes(kQ4, k);
  const int64_t out = static_cast<int64_t>(blockIdx.x) * kPanelRows + r;
  for (int64_t i0 = 0; i0 < m; i0 += kMaxRows) {
    const int rows = static_cast<int>(m - i0 < kMaxRows ? m - i0 : kMaxRows);
    float acc[kMaxRows];
    quant_thread_partials(kQ4, panel, xq + i0 * kb * kQBlock, xd + i0 * kb, xds + i0 * kb, kb, rows, r, s, acc);
#pragma unroll
    for (int i = 0; i < kMaxRows; ++i) {
      if (i < rows) {
        const float v = tree_add(acc[i], __shfl_xor_sync(0xffffffffu, acc[i], 16));
        if (lane < kPanelRows) red[i][warp][r] = v;
      }
    }
    __syncthreads();
#pragma unroll
    for (int o = kQuantWarps / 2; o >= 1; o /= 2) {
      if (warp < o && lane < kPanelRows)
        for (int i = 0; i < rows; ++i) red[i][warp][r] = tree_add(red[i][warp][r], red[i][warp + o][r]);
      __syncthreads();
    }
    if (t < kPanelRows && out < n)
      for (int i = 0; i < rows; ++i) y[(i0 + i) * n + out] = finish(red[i][0][r], bias, out);
    __syncthreads();  // red is rewritten by the next pass
  }
}

}  // namespace

void launch_gemv_dense(cudaStream_t stream, const float* x, int64_t m, const void* w, DType dtype, int64_t n,
                       int64_t k, const float* bias, float* y) {
  if (m <= 0 || n <= 0) return;
  const dim3 grid(static_cast<unsigned>(ceil_div(n, kGemvWarps)));
  const dim3 block(kGemvWarps * kWarp);
  switch (dtype) {
    case DType::BF16: gemv_dense_kernel<DType::BF16><<<grid, block, 0, stream>>>(x, m, w, n, k, bias, y); break;
    case DType::F16: gemv_dense_kernel<DType::F16><<<grid, block, 0, stream>>>(x, m, w, n, k, bias, y); break;
    default: gemv_dense_kernel<DType::F32><<<grid, block, 0, stream>>>(x, m, w, n, k, bias, y); break;
  }
}

int64_t quant_workspace_bytes(int64_t m, int64_t k) {
  return m * ceil_div(k, kQBlock) * (kQBlock + 2 * static_cast<int64_t>(sizeof(float)));
}

void launch_gemv_quant(cudaStream_t stream, const float* x, int64_t m, const void* w, WeightFormat format, int64_t n,
                       int64_t k, const float* bias, void* workspace, float* y) {
  if (m <= 0 || n <= 0) return;
  const int64_t kb = ceil_div(k, kQBlock);
  auto* q = static_cast<int8_t*>(workspace);
  auto* d = reinterpret_cast<float*>(q + m * kb * kQBlock);
  float* ds = d + m * kb;
  if (kb > 65535) throw BackendError("CUDA backend: a Q8/Q4 matmul of over 2,097,120 inputs");  // gridDim.y
  if (kb > 0)
    quantize_rows_kernel<<<dim3(static_cast<unsigned>(m), static_cast<unsigned>(kb)), kWarp, 0, stream>>>(x, k, kb, q,
                                                                                                        d, ds);
  const dim3 grid(static_cast<unsigned>(ceil_div(n, kPanelRows)));
  const auto* wb = static_cast<const uint8_t*>(w);
  if (format == WeightFormat::Q4)
    gemv_quant_kernel<true><<<grid, kQuantThreads, 0, stream>>>(q, d, ds, m, wb, n, k, bias, y);
  else
    gemv_quant_kernel<false><<<grid, kQuantThreads, 0, stream>>>(q, d, ds, m, wb, n, k, bias, y);
}

}  // namespace pio::cuda
