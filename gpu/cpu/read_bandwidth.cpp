#include "gpu/cpu/read_bandwidth.h"

#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <vector>

namespace pio::cpu {
namespace {

constexpr int64_t kPieceBytes = int64_t{4} << 20;
constexpr int64_t kGroupBytes = 128;

// Sums the 64-bit words of [p, p + bytes) (bytes a multiple of 128, p any alignment, as weights
// in a checkpoint are) in four independent 256-bit chains, so the loads, not the adds, set the pace.
uint64_t sum_words(const uint8_t* p, int64_t bytes) {
  __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
  for (int64_t i = 0; i < bytes; i += kGroupBytes) {
    s0 = _mm256_add_epi64(s0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i)));
    s1 = _mm256_add_epi64(s1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
    s2 = _mm256_add_epi64(s2, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
    s3 = _mm256_add_epi64(s3, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
  }
  const __m256i s = _mm256_add_epi64(_mm256_add_epi64(s0, s1), _mm256_add_epi64(s2, s3));
  // Unsigned: the sum wraps, as the vector adds do (a signed one would overflow).
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), s);
  return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}

}  // namespace

double probe_read_bandwidth(ThreadPool& pool, std::span<const std::span<const uint8_t>> ranges) {
  std::vector<std::span<const uint8_t>> pieces;
  int64_t total = 0;
  for (const std::span<const uint8_t> r : ranges) {
    const int64_t whole = static_cast<int64_t>(r.size()) / kGroupBytes * kGroupBytes;
    for (int64_t at = 0; at < whole; at += kPieceBytes) {
      const int64_t n = std::min(kPieceBytes, whole - at);
      pieces.push_back(r.subspan(static_cast<size_t>(at), static_cast<size_t>(n)));
      total += n;
    }
  }
  if (total == 0) throw std::invalid_argument("probe_read_bandwidth: no whole 128-byte group to read");
  std::atomic<uint64_t> sink{0};  // keeps the sums, so the reads cannot be left out
  const auto t0 = std::chrono::steady_clock::now();
  pool.run(static_cast<int64_t>(pieces.size()), [&](int64_t t, int) {
    const std::span<const uint8_t> piece = pieces[static_cast<size_t>(t)];
    sink.fetch_add(sum_words(piece.data(), static_cast<int64_t>(piece.size())), std::memory_order_relaxed);
  });
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return static_cast<double>(total) / s / 1e9;
}

}  // namespace pio::cpu
