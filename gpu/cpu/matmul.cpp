#include "gpu/cpu/matmul.h"

#include <algorithm>

#include "gpu/cpu/cpu_features.h"

namespace pio::cpu {

namespace {
constexpr int64_t kColumnsPerTask = 64;  // a 64-row weight block stays in L2 while all x rows pass
constexpr int64_t kSerialFlops = 1 << 16;  // below this, splitting costs more than it saves
}

void matmul(ThreadPool& pool, std::vector<uint16_t>& scratch, const float* x, int64_t m, const WeightView& w,
            const WeightView& bias, float* y) {
  MatmulArgs a{x, nullptr, m, w.cols, w, bias, y};
  const bool fast_bf16 = w.dtype == DType::BF16 && has_avx512_bf16();
  if (fast_bf16) {
    const auto need = static_cast<size_t>(m * w.cols);
    if (scratch.size() < need) scratch.resize(need);
    round_to_bf16_avx512(x, m * w.cols, scratch.data());
    a.x_bf16 = scratch.data();
  }
  const int64_t n = w.rows;
  const int64_t tasks = m * n * w.cols < kSerialFlops ? 1 : (n + kColumnsPerTask - 1) / kColumnsPerTask;
  const int64_t per_task = tasks == 1 ? n : kColumnsPerTask;
  pool.run(tasks, [&](int64_t task, int) {
    const int64_t n0 = task * per_task;
    const int64_t n1 = std::min(n, n0 + per_task);
    if (fast_bf16) matmul_block_avx512_bf16(a, n0, n1);
    else matmul_block_avx2(a, n0, n1);
  });
}

}  // namespace pio::cpu
