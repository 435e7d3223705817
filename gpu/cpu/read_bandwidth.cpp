#include "gpu/cpu/read_bandwidth.h"

#include <immintrin.h>

#include <atomic>
#include <chrono>
#include <stdexcept>

namespace pio::cpu {
namespace {

constexpr int64_t kTaskBytes = int64_t{4} << 20;

// Sums the 64-bit words of [p, p + bytes) in four independent 256-bit chains, so the loads, not
// the adds, set the pace.
uint64_t sum_words(const uint8_t* p, int64_t bytes) {
  __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
  for (int64_t i = 0; i < bytes; i += 128) {
    s0 = _mm256_add_epi64(s0, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i)));
    s1 = _mm256_add_epi64(s1, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
    s2 = _mm256_add_epi64(s2, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
    s3 = _mm256_add_epi64(s3, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
  }
  const __m256i s = _mm256_add_epi64(_mm256_add_epi64(s0, s1), _mm256_add_epi64(s2, s3));
  return static_cast<uint64_t>(_mm256_extract_epi64(s, 0) + _mm256_extract_epi64(s, 1) + _mm256_extract_epi64(s, 2) +
                               _mm256_extract_epi64(s, 3));
}

}  // namespace

std::vector<double> probe_read_bandwidth(ThreadPool& pool, int64_t bytes, int passes) {
  if (bytes < 1 || passes < 1) throw std::invalid_argument("probe_read_bandwidth: bytes and passes must be positive");
  const int64_t tasks = (bytes + kTaskBytes - 1) / kTaskBytes;
  struct alignas(64) Line {
    uint8_t b[64];
  };
  std::vector<Line> buffer(static_cast<size_t>(tasks * kTaskBytes / 64));
  auto* data = reinterpret_cast<uint8_t*>(buffer.data());
  pool.run(tasks, [&](int64_t t, int) {
    for (int64_t i = 0; i < kTaskBytes; ++i) data[t * kTaskBytes + i] = static_cast<uint8_t>(i * 31 + t);
  });
  std::atomic<uint64_t> sink{0};  // keeps the sums, so the reads cannot be left out
  std::vector<double> gb_s;
  for (int p = 0; p < passes; ++p) {
    const auto t0 = std::chrono::steady_clock::now();
    pool.run(tasks, [&](int64_t t, int) {
      sink.fetch_add(sum_words(data + t * kTaskBytes, kTaskBytes), std::memory_order_relaxed);
    });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    gb_s.push_back(static_cast<double>(tasks * kTaskBytes) / s / 1e9);
  }
  return gb_s;
}

}  // namespace pio::cpu
