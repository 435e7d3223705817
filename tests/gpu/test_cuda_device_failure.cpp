// A device that fails for real: a kernel of this test traps, which leaves the process's CUDA
// context unusable, as a hardware fault does. Every later call of the CUDA backend, and a forward
// pass of a text runner already on the device, must then throw DeviceLost, the error on which a
// serving node moves its engine group's work to the CPU (what happens next is proven without a
// GPU in test_node, with a backend that fails the same way). Its own process: the trap ends the
// CUDA context for good. Without a usable device the case is skipped, saying why. Written and
// compiled without a device: it has never run.
#define BOOST_TEST_MODULE cuda_device_failure
#include <boost/test/unit_test.hpp>

#include <vector>

#include "gpu/backend_error.h"
#include "model/kv_cache.h"
#include "model/model_weights.h"
#include "model/rope.h"
#include "model/text_model.h"
#include "tests/gpu/cuda_backend_fixture.h"
#include "tests/gpu/trap_kernel.h"
#include "tests/vision/vision_support.h"

using namespace pio;

namespace {

// A 5-token prefill of a new sequence; returns its last position's logits.
std::vector<float> prefill(TextModel& text) {
  PagedKvCache cache(text.kv_layers(), text.kv_shape(), 1 << 22, 4);
  const SequenceId seq = cache.pool().add_sequence();
  const std::vector<int32_t> ids{3, 40, 77, 114, 151};
  std::vector<Pos3> positions;
  text_positions(0, static_cast<int64_t>(ids.size()), positions);
  ForwardBatch batch;
  batch.steps.push_back({static_cast<int32_t>(ids.size()), false, {}, 0});
  batch.ids = ids;
  batch.positions = positions;
  const auto logits = cache.forward(text, batch, {&seq, 1});
  return {logits.begin(), logits.end()};
}

}  // namespace

BOOST_AUTO_TEST_CASE(after_a_trap_every_call_throws_device_lost,
                     *boost::unit_test::precondition(pio::testing::has_cuda_backend)) {
  Backend& device = *pio::testing::cuda_test_backend().cuda;
  ModelOptions o;
  o.bf16_panels = false;
  const ModelWeights weights(vtest::tiny(DType::BF16).dir.path(), o);
  TextModel text(weights, device);
  BOOST_TEST(!prefill(text).empty());  // the device works before the trap
  BOOST_TEST(test::trap_device() != 0);
  BOOST_CHECK_THROW(prefill(text), DeviceLost);
  BOOST_CHECK_THROW(device.synchronize(), DeviceLost);
  std::vector<float> host(16, 1.0f);
  BOOST_CHECK_THROW(
      {
        void* p = device.allocate(host.size() * sizeof(float));
        device.upload(p, host.data(), host.size() * sizeof(float));
        device.synchronize();
      },
      DeviceLost);
}
