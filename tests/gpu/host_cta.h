// The CPU side of the phase model of gpu/cuda/attention_math.h and kv_math.h: one CTA's
// `threads` threads run each phase in turn, the end of a phase being the barrier. In order
// (thread 0 first) or reversed: a program whose threads race inside a phase (one writing what
// another reads before the barrier) gives different results in the two orders, which the tests
// check for.
#pragma once

namespace pio::cuda::testing {

struct HostCta {
  int threads;
  bool reversed = false;
  template <class F>
  void phase(F&& f) const {
    for (int i = 0; i < threads; ++i) f(reversed ? threads - 1 - i : i, threads);
  }
};

}  // namespace pio::cuda::testing
