#include "gpu/cpu/matmul.h"

#include <algorithm>

#include "gpu/cpu/cpu_features.h"
#include "gpu/cpu/packed_bf16.h"

namespace pio::cpu {

namespace {
constexpr int64_t kColumnsPerTask = 64;  // a 64-row weight block stays in L2 while all x rows pass
constexpr int64_t kSerialFlops = 1 << 16;  // below this, splitting costs more than it saves

// x rounded to bf16 in scratch, rows padded to an even length with zero.
const uint16_t* round_rows_to_bf16(std::vector<uint16_t>& scratch, const float* x, int64_t m, int64_t k) {
  const int64_t stride = 2 * packed_bf16_pairs(k);
  if (scratch.size() < static_cast<size_t>(m * stride)) scratch.resize(static_cast<size_t>(m * stride));
  if (stride == k) {
    round_to_bf16_avx512(x, m * k, scratch.data());
  } else {
    for (int64_t i = 0; i < m; ++i) {
      round_to_bf16_avx512(x + i * k, k, scratch.data() + i * stride);
      scratch[static_cast<size_t>(i * stride + k)] = 0;
    }
  }
  return scratch.data();
}

void matmul_packed_bf16(ThreadPool& pool, std::vector<uint16_t>& scratch, MatmulArgs& a) {
  const bool fast = has_avx512_bf16();
  if (fast) a.x_bf16 = round_rows_to_bf16(scratch, a.x, a.m, a.k);
  const int64_t panels = packed_bf16_panels(a.w.rows);
  // One panel group per task: a 1024-output matrix still makes 8 tasks for the threads to share.
  const int64_t per_task = kGroupPanels;
  pool.run((panels + per_task - 1) / per_task, [&](int64_t task, int) {
    const int64_t p0 = task * per_task, p1 = std::min(panels, p0 + per_task);
    if (fast) matmul_panels_avx512_bf16(a, p0, p1);
    else matmul_panels_avx2(a, p0, p1);
  });
}

// Calls block(n0, n1) over the output columns in tasks of kColumnsPerTask (one task when small).
template <class Block>
void split_columns(ThreadPool& pool, int64_t m, const WeightView& w, Block block) {
  const int64_t n = w.rows;
  const int64_t tasks = m * n * w.cols < kSerialFlops ? 1 : (n + kColumnsPerTask - 1) / kColumnsPerTask;
  const int64_t per_task = tasks == 1 ? n : kColumnsPerTask;
  pool.run(tasks, [&](int64_t task, int) { block(task * per_task, std::min(n, (task + 1) * per_task)); });
}

// Quantises x once, then splits the columns in tasks of 64 (four 16-row panels).
void quant_matmul(ThreadPool& pool, QuantizedRows& scratch, const float* x, int64_t m, const WeightView& w,
                  const WeightView& bias, float* y) {
  quantize_rows(x, m, w.cols, scratch);
  const QuantMatmulArgs a{&scratch, w, bias, y};
  const bool vnni = has_avx512_vnni();
  split_columns(pool, m, w, [&](int64_t n0, int64_t n1) {
    if (vnni) quant_matmul_block_avx512_vnni(a, n0, n1);
    else quant_matmul_block_avx2(a, n0, n1);
  });
}

}  // namespace

void matmul(ThreadPool& pool, MatmulScratch& scratch, const float* x, int64_t m, const WeightView& w,
            const WeightView& bias, float* y) {
  if (w.format == WeightFormat::Q8 || w.format == WeightFormat::Q4) {
    quant_matmul(pool, scratch.quant, x, m, w, bias, y);
    return;
  }
  MatmulArgs a{x, nullptr, m, w.cols, w, bias, y};
  if (w.format == WeightFormat::BF16Packed) return matmul_packed_bf16(pool, scratch.bf16, a);
  const bool fast_bf16 = w.dtype == DType::BF16 && has_avx512_bf16();
  if (fast_bf16) {
    const auto need = static_cast<size_t>(m * w.cols);
    if (scratch.bf16.size() < need) scratch.bf16.resize(need);
    round_to_bf16_avx512(x, m * w.cols, scratch.bf16.data());
    a.x_bf16 = scratch.bf16.data();
  }
  split_columns(pool, m, w, [&](int64_t n0, int64_t n1) {
    if (fast_bf16) matmul_block_avx512_bf16(a, n0, n1);
    else matmul_block_avx2(a, n0, n1);
  });
}

}  // namespace pio::cpu
