// Row strips for the register-tiled kernels, whose tile height is a template parameter.
#pragma once

#include <cstdint>

namespace pio::cpu {

// Calls f.template operator()<MaxRows>(m0) for each full strip of MaxRows rows of [0, m), then
// f.template operator()<R>(m0) once for the R rows left (1 <= R < MaxRows <= 6).
template <int MaxRows, class F>
void for_row_strips(int64_t m, F&& f) {
  static_assert(MaxRows >= 1 && MaxRows <= 6);
  int64_t m0 = 0;
  for (; m0 + MaxRows <= m; m0 += MaxRows) f.template operator()<MaxRows>(m0);
  switch (m - m0) {
    case 5: if constexpr (MaxRows > 5) f.template operator()<5>(m0); break;
    case 4: if constexpr (MaxRows > 4) f.template operator()<4>(m0); break;
    case 3: if constexpr (MaxRows > 3) f.template operator()<3>(m0); break;
    case 2: if constexpr (MaxRows > 2) f.template operator()<2>(m0); break;
    case 1: if constexpr (MaxRows > 1) f.template operator()<1>(m0); break;
    default: break;
  }
}

}  // namespace pio::cpu
