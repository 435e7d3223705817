// The engine core on a CUDA device: eight requests of every kind (text, images, a long prompt,
// greedy and sampled) batched together each equal their answer alone on the same device, bit for
// bit, as test_engine_core proves on the CPU. The backend is --deterministic (prefill through the
// fixed-order GEMM too; cuBLAS's bits may depend on a step's row count), so any difference is a
// batch-invariance bug. The serving layers above the engine core compute nothing and are proven
// on the CPU (test_node). Without a usable device the case is skipped, saying why. Written and
// compiled without a device: it has never run.
#define BOOST_TEST_MODULE cuda_engine
#include <boost/test/unit_test.hpp>

#include "gpu/cuda/cuda_backend.h"
#include "model/model_weights.h"
#include "serving/engine_core.h"
#include "tests/gpu/cuda_backend_fixture.h"
#include "tests/serving/engine_scenario.h"
#include "tests/vision/vision_support.h"

using namespace pio;

BOOST_AUTO_TEST_CASE(eight_concurrent_requests_on_the_device_each_equal_their_answer_alone,
                     *boost::unit_test::precondition(pio::testing::has_cuda_backend)) {
  const auto device = make_cuda_backend(0, kCudaMinFreeBytes, true);
  ModelOptions o;
  o.bf16_panels = false;
  const ModelWeights weights(vtest::tiny(DType::BF16).dir.path(), o);
  test::EngineScenario s(weights, *device);
  KvStorage cache(s.text.backend(), s.text.kv_shape(), 1 << 24, 4);
  EngineCore engine(s.text, weights.config(), cache, {32, 8}, make_policy("fcfs"), 0);
  const auto rs = s.eight_requests();
  for (const auto& r : rs) engine.submit(r);
  int64_t max_sequences = 0;
  const auto out = s.run(engine, nullptr, &max_sequences);
  BOOST_TEST(max_sequences > 1);  // they really shared steps
  for (const auto& r : rs) BOOST_TEST(out.at(r.queue.id) == s.alone(r), "request " << r.queue.id);
  BOOST_TEST(engine.pool().free_blocks() == engine.pool().total_blocks());
}
