// Row strips for the register-tiled kernels, whose tile height is a template parameter.
#pragma once

#include <cstdint>

namespace pio::cpu {

namespace detail {
// f.template operator()<R>(m0) for a run-time R in [1, MaxRows].
template <int MaxRows, class F>
void strip_of(int64_t rows, int64_t m0, F& f) {
  switch (rows) {
    case 6: if constexpr (MaxRows >= 6) f.template operator()<6>(m0); break;
    case 5: if constexpr (MaxRows >= 5) f.template operator()<5>(m0); break;
    case 4: if constexpr (MaxRows >= 4) f.template operator()<4>(m0); break;
    case 3: if constexpr (MaxRows >= 3) f.template operator()<3>(m0); break;
    case 2: if constexpr (MaxRows >= 2) f.template operator()<2>(m0); break;
    case 1: f.template operator()<1>(m0); break;
    default: break;
  }
}
}  // namespace detail

// Calls f.template operator()<MaxRows>(m0) for each full strip of MaxRows rows of [0, m), then
// f.template operator()<R>(m0) once for the R rows left (1 <= R < MaxRows <= 6).
// Balanced (for the many-row prompt paths): a remainder under half a strip shares the last full
// strip's rows instead (6 + 2 rows as 4 + 4, 6 + 1 as 4 + 3), so no strip is too short to keep
// the FMA pipes busy. Rows are independent, so no result changes.
template <int MaxRows, bool Balanced = false, class F>
void for_row_strips(int64_t m, F&& f) {
  static_assert(MaxRows >= 1 && MaxRows <= 6);
  const int64_t left = m % MaxRows, full = m / MaxRows;
  const bool share = Balanced && full > 0 && left > 0 && 2 * left < MaxRows;
  const int64_t plain = share ? full - 1 : full;
  int64_t m0 = 0;
  for (int64_t s = 0; s < plain; ++s, m0 += MaxRows) f.template operator()<MaxRows>(m0);
  const int64_t rest = m - m0;  // share: MaxRows + left rows, split in two near halves
  if (share) {
    detail::strip_of<MaxRows>((rest + 1) / 2, m0, f);
    detail::strip_of<MaxRows>(rest / 2, m0 + (rest + 1) / 2, f);
  } else if (rest > 0) {
    detail::strip_of<MaxRows>(rest, m0, f);
  }
}

}  // namespace pio::cpu
