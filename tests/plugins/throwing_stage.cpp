// Test plug-ins whose stage throws something that is not a std::exception: a request filter
// (PIO_TEST_FILTER) or an output processor (else), on its first call only (PIO_TEST_ONCE) or on
// every call. The node must end that request with an error naming the stage, start the stage
// again, and serve the next request; one that keeps failing is held down.
#include <atomic>

#include "actors/plugin.h"

namespace {

struct NotAnException {
  int code = 13;
};

bool fail_now() {
  static std::atomic<int> calls{0};
#ifdef PIO_TEST_ONCE
  return calls++ == 0;
#else
  ++calls;
  return true;
#endif
}

class Filter final : public pio::RequestFilter {
 public:
  void filter(pio::ChatRequest&) override {
    if (fail_now()) throw NotAnException{};
  }
};

class Output final : public pio::OutputProcessor {
 public:
  void process(pio::StreamEvent&) override {
    if (fail_now()) throw NotAnException{};
  }
};

}  // namespace

extern "C" void pio_plugin_register(pio::PluginRegistry& registry) {
#ifdef PIO_TEST_FILTER
  registry.add_request_filter(std::make_shared<Filter>());
#else
  registry.add_output_processor(std::make_shared<Output>());
#endif
}
