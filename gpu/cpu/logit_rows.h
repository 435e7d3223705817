// Reductions over one row of logits for the sampler (model/sampler.cpp), vectorised here because
// only pio_gpu_cpu is compiled for AVX2.
#pragma once

#include <span>

namespace pio::cpu {

// The largest value of the row (NaNs never win; -infinity for an empty row).
float row_max(std::span<const float> logits);

// The sum over the row of e^((x - peak) * inv_t), each term at most 1 when peak is the row's
// maximum, summed in double; each exponential has a relative error of about 2e-7.
double exp_sum(std::span<const float> logits, float peak, float inv_t);

// out[i] = e^((logits[i] - peak) * inv_t) where that argument is at least -87, 0 below it and
// for NaN (a -infinity logit, or one e^87 times less likely than the peak, weighs nothing).
// out is as long as logits; each exponential has a relative error of about 2e-7.
void exp_row(std::span<const float> logits, float peak, float inv_t, std::span<float> out);

}  // namespace pio::cpu
