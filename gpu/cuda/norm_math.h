// Per-thread arithmetic of the RMSNorm and LayerNorm kernels (gpu/cuda/norm_kernels.cu): one block
// of kRowThreads threads per row; thread t handles the row's elements t, t + threads, ...
//   RMSNorm:   phase 1 sum_squares -> partial[t]; tree reduction; phase 2 rms_norm_store.
//   LayerNorm: phase 1 sum_values -> partial[t]; tree reduction; mean = partial[0] / dim; barrier;
//              phase 2 sum_centred_squares -> partial[t]; tree reduction; phase 3 layer_norm_store.
#pragma once

#include <cstdint>

#include "gpu/cuda/grid_math.h"

namespace pio::cuda {

// Thread t's partial sum of x[i]² over its elements of the row (x: the row's dim values).
PIO_HD float sum_squares(const float* x, int64_t dim, int thread, int threads) {
  float s = 0.0f;
  for (int64_t i = thread; i < dim; i += threads) s += x[i] * x[i];
  return s;
}

// Thread t's partial sum of x[i].
PIO_HD float sum_values(const float* x, int64_t dim, int thread, int threads) {
  float s = 0.0f;
  for (int64_t i = thread; i < dim; i += threads) s += x[i];
  return s;
}

// Thread t's partial sum of (x[i] - mean)².
PIO_HD float sum_centred_squares(const float* x, int64_t dim, float mean, int thread, int threads) {
  float s = 0.0f;
  for (int64_t i = thread; i < dim; i += threads) s += (x[i] - mean) * (x[i] - mean);
  return s;
}

// 1 / sqrt(total / dim + eps): the scale of a row whose (centred) squares sum to `total`.
PIO_HD float inverse_root_mean(float total, int64_t dim, float eps) {
  return 1.0f / std::sqrt(total / static_cast<float>(dim) + eps);
}

// Phase 2 of RMSNorm: y[i] = x[i] * inv * weight[i] for thread t's elements.
PIO_HD void rms_norm_store(const float* x, int64_t dim, const void* weight, DType weight_dtype, float inv, float* y,
                           int thread, int threads) {
  for (int64_t i = thread; i < dim; i += threads) y[i] = x[i] * inv * load_weight(weight, weight_dtype, i);
}

// Phase 3 of LayerNorm: y[i] = (x[i] - mean) * inv * weight[i] + bias[i] for thread t's elements.
PIO_HD void layer_norm_store(const float* x, int64_t dim, float mean, float inv, const void* weight,
                             DType weight_dtype, const void* bias, DType bias_dtype, float* y, int thread,
                             int threads) {
  for (int64_t i = thread; i < dim; i += threads)
    y[i] = (x[i] - mean) * inv * load_weight(weight, weight_dtype, i) + load_weight(bias, bias_dtype, i);
}

}  // namespace pio::cuda
