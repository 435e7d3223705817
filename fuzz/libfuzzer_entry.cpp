// libFuzzer's entry point (the fuzzer binaries only; libFuzzer supplies main).
#include "fuzz/harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pio::fuzz::run_one({data, size});
  return 0;
}
