#include "gpu/cpu/matmul.h"

#include <algorithm>

#include "gpu/cpu/cpu_features.h"
#include "gpu/cpu/packed_bf16.h"
#include "gpu/cpu/quant_layout.h"

namespace pio::cpu {

namespace {
constexpr int64_t kColumnsPerTask = 64;  // a 64-row weight block stays in L2 while all x rows pass
constexpr int64_t kSerialFlops = 1 << 16;  // below this, splitting costs more than it saves
constexpr int64_t kRowsPerTask = 16;  // rounding or quantising a prompt's x: the threads share it

// Calls rows(r0, r1) over [0, m) in tasks of kRowsPerTask rows (for per-row work whose result
// does not depend on the split).
template <class Rows>
void split_rows(ThreadPool& pool, int64_t m, Rows rows) {
  pool.run((m + kRowsPerTask - 1) / kRowsPerTask,
           [&](int64_t task, int) { rows(task * kRowsPerTask, std::min(m, (task + 1) * kRowsPerTask)); });
}

// x (m rows of k) rounded to bf16 in scratch with rows `stride` apart, a pad after k zeroed.
const uint16_t* round_rows_to_bf16(ThreadPool& pool, std::vector<uint16_t>& scratch, const float* x, int64_t m,
                                   int64_t k, int64_t stride) {
  if (scratch.size() < static_cast<size_t>(m * stride)) scratch.resize(static_cast<size_t>(m * stride));
  uint16_t* out = scratch.data();
  split_rows(pool, m, [&](int64_t r0, int64_t r1) {
    if (stride == k) {
      round_to_bf16_avx512(x + r0 * k, (r1 - r0) * k, out + r0 * k);
      return;
    }
    for (int64_t i = r0; i < r1; ++i) {
      round_to_bf16_avx512(x + i * k, k, out + i * stride);
      std::fill(out + i * stride + k, out + (i + 1) * stride, uint16_t{0});
    }
  });
  return out;
}

// Up to 4 rows of x (one row strip of the Q8/Q4 kernels, a decode step) read each task's weights
// once, front to back: a task then takes at least kStreamBytes of them, since a longer stream keeps
// the hardware prefetchers at full rate (2B q4 decode matmuls on Zen 4, 2 threads: 64-column
// tasks, 80 KB, read 0.88 of the probed bandwidth; 512 KB tasks 0.95).
constexpr int64_t kStreamRows = 4;
constexpr int64_t kStreamBytes = int64_t{512} << 10;

// How many output columns one task takes from weights w for m rows: a panel group of packed bf16
// (so a 1024-output matrix still makes 8 tasks for the threads to share), all of them when the
// product is too small to split, Q8/Q4 panels of at least kStreamBytes for a decode step, else
// kColumnsPerTask.
int64_t columns_per_task(int64_t m, const WeightView& w) {
  if (w.format == WeightFormat::BF16Packed) return kGroupPanels * kPanelWidth;
  if (m * w.rows * w.cols < kSerialFlops) return w.rows;
  const bool quant = w.format == WeightFormat::Q8 || w.format == WeightFormat::Q4;
  if (!quant || m > kStreamRows) return kColumnsPerTask;
  const int64_t panel = quant_layout::panel_bytes(w.format, quant_layout::blocks(w.cols));
  const int64_t panels = std::max<int64_t>(kColumnsPerTask / quant_layout::kPanelRows, (kStreamBytes + panel - 1) / panel);
  return panels * quant_layout::kPanelRows;
}

int64_t tasks_of(int64_t m, const WeightView& w) {
  const int64_t per_task = columns_per_task(m, w);
  return (w.rows + per_task - 1) / per_task;
}

// The outputs share one format, dtype and k: x is rounded or quantised once, and every output's
// column tasks go to the pool as one job.
void matmul_same_kind(ThreadPool& pool, MatmulScratch& scratch, const float* x, int64_t m,
                      std::span<const Backend::MatmulOutput> outputs) {
  const WeightView& w = outputs.front().w;
  const int64_t k = w.cols;
  const bool quant = w.format == WeightFormat::Q8 || w.format == WeightFormat::Q4;
  const bool packed = w.format == WeightFormat::BF16Packed;
  const bool vnni = has_avx512_vnni();
  const bool fast_bf16 = has_avx512_bf16() && (packed || w.dtype == DType::BF16);
  const uint16_t* x_bf16 = nullptr;
  if (quant) {
    size_quantized_rows(m, k, scratch.quant);
    split_rows(pool, m, [&](int64_t r0, int64_t r1) { quantize_row_range(x, k, r0, r1, scratch.quant); });
  } else if (fast_bf16) {
    x_bf16 = round_rows_to_bf16(pool, scratch.bf16, x, m, k, packed ? 2 * packed_bf16_pairs(k) : k);
  }
  int64_t tasks = 0;
  for (const Backend::MatmulOutput& o : outputs) tasks += tasks_of(m, o.w);
  pool.run(tasks, [&](int64_t task, int) {
    size_t i = 0;  // the output that holds this task (a few outputs: a scan)
    for (; task >= tasks_of(m, outputs[i].w); ++i) task -= tasks_of(m, outputs[i].w);
    const Backend::MatmulOutput& o = outputs[i];
    const int64_t per_task = columns_per_task(m, o.w), n0 = task * per_task, n1 = std::min(o.w.rows, n0 + per_task);
    if (quant) {
      const QuantMatmulArgs a{&scratch.quant, o.w, o.bias, o.y};
      if (vnni) quant_matmul_block_avx512_vnni(a, n0, n1);
      else quant_matmul_block_avx2(a, n0, n1);
      return;
    }
    const MatmulArgs a{x, x_bf16, m, k, o.w, o.bias, o.y};
    if (packed && fast_bf16) matmul_panels_avx512_bf16(a, n0 / kPanelWidth, packed_bf16_panels(n1));
    else if (packed) matmul_panels_avx2(a, n0 / kPanelWidth, packed_bf16_panels(n1));
    else if (fast_bf16) matmul_block_avx512_bf16(a, n0, n1);
    else matmul_block_avx2(a, n0, n1);
  });
}

}  // namespace

void matmul(ThreadPool& pool, MatmulScratch& scratch, const float* x, int64_t m, const WeightView& w,
            const WeightView& bias, float* y) {
  const Backend::MatmulOutput output{w, bias, y};
  matmul_same_kind(pool, scratch, x, m, {&output, 1});
}

void matmul_shared(ThreadPool& pool, MatmulScratch& scratch, const float* x, int64_t m,
                   std::span<const Backend::MatmulOutput> outputs) {
  if (outputs.empty()) return;
  const WeightView& w = outputs.front().w;
  const bool same_kind = std::all_of(outputs.begin(), outputs.end(), [&](const Backend::MatmulOutput& o) {
    return o.w.format == w.format && o.w.dtype == w.dtype && o.w.cols == w.cols;
  });
  if (same_kind) return matmul_same_kind(pool, scratch, x, m, outputs);
  for (const Backend::MatmulOutput& o : outputs) matmul(pool, scratch, x, m, o.w, o.bias, o.y);
}

}  // namespace pio::cpu
