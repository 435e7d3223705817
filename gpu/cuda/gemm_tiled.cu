// The fixed-order tiled GEMM of `--deterministic` prefill: launch geometry and barriers only;
// the staging and the per-lane arithmetic are gemv_math.h's (tile_stage, tile_step).
#include <algorithm>

#include "gpu/cuda/gemv_math.h"
#include "gpu/cuda/matmul.h"

namespace pio::cuda {
namespace {

using namespace cuda_math;

// Block (bn, bm): the tile of rows 16 bm .. and outputs 16 bn ..; warp (wm, wn) its 8 x 8 quarter.
template <DType T>
__global__ void gemm_tiled_kernel(const float* x, int64_t m, const void* w, int64_t n, int64_t k, const float* bias,
                                  float* y) {
  __shared__ float xs[kTileRows * kStepCols];
  __shared__ float ws[kTileCols * kStepCols];
  const int t = static_cast<int>(threadIdx.x), warp = t / kWarp, lane = t % kWarp;
  const int wm = warp / kTileWarpsN, wn = warp % kTileWarpsN;
  const int64_t i0 = static_cast<int64_t>(blockIdx.y) * kTileRows, n0 = static_cast<int64_t>(blockIdx.x) * kTileCols;
  float acc[kWarpRows][kWarpCols];
#pragma unroll
  for (int r = 0; r < kWarpRows; ++r)
#pragma unroll
    for (int c = 0; c < kWarpCols; ++c) acc[r][c] = 0.0f;
  for (int64_t s = 0; s * kStepCols < k; ++s) {
    tile_stage<T>(x, m, w, n, k, i0, n0, s, t, xs, ws);
    __syncthreads();
    tile_step(xs, ws, k, s, wm, wn, lane, acc);
    __syncthreads();
  }
#pragma unroll
  for (int r = 0; r < kWarpRows; ++r) {
#pragma unroll
    for (int c = 0; c < kWarpCols; ++c) {
      const float sum = warp_tree_sum(acc[r][c]);
      const int64_t i = i0 + wm * kWarpRows + r, j = n0 + wn * kWarpCols + c;
      if (lane == (r * kWarpCols + c) % kWarp && i < m && j < n) y[i * n + j] = finish(sum, bias, j);
    }
  }
}

}  // namespace

void launch_gemm_deterministic(cudaStream_t stream, const float* x, int64_t m, const void* w, DType dtype, int64_t n,
                               int64_t k, const float* bias, float* y) {
  if (m <= 0 || n <= 0) return;
  // gridDim.y is at most 65535 (a million rows: a 2^28-pixel image's patches): more rows go in
  // further launches, which changes no row's bits (each is its own).
  constexpr int64_t kMaxLaunchRows = int64_t{65535} * kTileRows;
  for (int64_t r0 = 0; r0 < m; r0 += kMaxLaunchRows) {
    const int64_t rows = std::min(kMaxLaunchRows, m - r0);
    const float* xs = x + r0 * k;
    float* ys = y + r0 * n;
    const dim3 grid(static_cast<unsigned>(ceil_div(n, kTileCols)), static_cast<unsigned>(ceil_div(rows, kTileRows)));
    switch (dtype) {
      case DType::BF16: gemm_tiled_kernel<DType::BF16><<<grid, kTileThreads, 0, stream>>>(xs, rows, w, n, k, bias, ys); break;
      case DType::F16: gemm_tiled_kernel<DType::F16><<<grid, kTileThreads, 0, stream>>>(xs, rows, w, n, k, bias, ys); break;
      default: gemm_tiled_kernel<DType::F32><<<grid, kTileThreads, 0, stream>>>(xs, rows, w, n, k, bias, ys); break;
    }
  }
}

}  // namespace pio::cuda
