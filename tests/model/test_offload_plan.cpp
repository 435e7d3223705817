// --gpu-layers and --gpu-vision decided from sizes and free device memory (model/offload_plan.h),
// and the sizes measured from loaded weights as WeightPlacement would upload them.
#define BOOST_TEST_MODULE offload_plan
#include <boost/test/unit_test.hpp>

#include <string>

#include "model/errors.h"
#include "model/offload_plan.h"
#include "model/weight_placement.h"
#include "tests/support/device_memory_backend.h"
#include "tests/vision/vision_support.h"

using namespace pio;

namespace {

// Four layers of 100 bytes, a head of 50, a tower of 70.
OffloadSizes sizes() { return OffloadSizes{{100, 100, 100, 100}, 50, 70}; }

}  // namespace

BOOST_AUTO_TEST_SUITE(offload_plan)

BOOST_AUTO_TEST_CASE(auto_takes_everything_that_fits) {
  const OffloadPlan all = plan_offload(sizes(), 520, "auto", "auto");
  BOOST_TEST(all.gpu_layers == 4);
  BOOST_TEST(all.vision_on_device);
  BOOST_TEST(all.device_bytes == 520);
  // The decoder and head fit, the tower does not.
  const OffloadPlan no_tower = plan_offload(sizes(), 519, "auto", "auto");
  BOOST_TEST(no_tower.gpu_layers == 4);
  BOOST_TEST(!no_tower.vision_on_device);
  BOOST_TEST(no_tower.device_bytes == 450);
}

BOOST_AUTO_TEST_CASE(auto_leaves_the_last_layers_and_the_head_when_short) {
  // 449 bytes: not the whole decoder with its head, so layers while they fit and never the last.
  BOOST_TEST(plan_offload(sizes(), 449, "auto", "off").gpu_layers == 3);
  BOOST_TEST(plan_offload(sizes(), 250, "auto", "off").gpu_layers == 2);
  BOOST_TEST(plan_offload(sizes(), 99, "auto", "off").gpu_layers == 0);
  BOOST_TEST(plan_offload(sizes(), -5, "auto", "auto").gpu_layers == 0);
  BOOST_TEST(!plan_offload(sizes(), -5, "auto", "auto").vision_on_device);
  // What two layers leave holds the tower.
  const OffloadPlan p = plan_offload(sizes(), 270, "auto", "auto");
  BOOST_TEST(p.gpu_layers == 2);
  BOOST_TEST(p.vision_on_device);
  BOOST_TEST(p.device_bytes == 270);
}

BOOST_AUTO_TEST_CASE(counts_and_on_off_are_taken_as_given) {
  const OffloadPlan p = plan_offload(sizes(), 0, "3", "on");
  BOOST_TEST(p.gpu_layers == 3);
  BOOST_TEST(p.vision_on_device);
  BOOST_TEST(p.device_bytes == 370);
  BOOST_TEST(plan_offload(sizes(), 0, "4", "off").device_bytes == 450);  // all layers bring the head
  BOOST_TEST(!plan_offload(sizes(), 1 << 30, "0", "off").vision_on_device);
  BOOST_TEST(!plan_offload(OffloadSizes{{100}, 50, 0}, 1 << 30, "1", "on").vision_on_device);  // no tower
  for (const char* bad : {"5", "-1", "2x", ""})
    BOOST_CHECK_THROW(plan_offload(sizes(), 1 << 30, bad, "auto"), ModelError);
}

BOOST_AUTO_TEST_CASE(auto_always_fits_and_what_is_asked_for_may_not) {
  for (const int64_t free_bytes : {int64_t{-5}, int64_t{0}, int64_t{99}, int64_t{449}, int64_t{520}})
    for (const char* vision : {"auto", "off"})
      BOOST_TEST(fits(plan_offload(sizes(), free_bytes, "auto", vision), free_bytes), free_bytes << " " << vision);
  BOOST_TEST(fits(plan_offload(sizes(), 300, "3", "off"), 300));
  BOOST_TEST(!fits(plan_offload(sizes(), 299, "3", "off"), 299));
  BOOST_TEST(!fits(plan_offload(sizes(), 369, "3", "on"), 369));  // the tower asked for does not fit beside them
  BOOST_TEST(fits(plan_offload(sizes(), -5, "0", "off"), -5));     // nothing on the device
  // A tower asked for with auto layers: the layers fill what it leaves (3 layers, 370 bytes).
  const OffloadPlan tower_first = plan_offload(sizes(), 500, "auto", "on");
  BOOST_TEST(tower_first.gpu_layers == 3);
  BOOST_TEST(tower_first.vision_on_device);
  BOOST_TEST(fits(tower_first, 500));
  BOOST_TEST(!fits(plan_offload(sizes(), 60, "auto", "on"), 60));  // the tower alone does not fit
  BOOST_TEST(!fits(plan_offload(sizes(), 449, "4", "off"), 449));  // all layers bring the head
}

BOOST_AUTO_TEST_CASE(the_plan_says_what_it_chose) {
  const std::string text = describe(plan_offload(sizes(), 449, "auto", "off"), sizes(), 449);
  BOOST_TEST(text.find("3 of 4 decoder layers") == 0u, text);
  BOOST_TEST(text.find("vision tower on the CPU") != std::string::npos, text);
}

// The measured sizes are what runners on a device upload: layers (plus their KV share), the
// head (a tied lm_head once) and the tower (biases in f32).
BOOST_AUTO_TEST_CASE(sizes_are_what_a_device_takes) {
  ModelOptions options;
  options.weights = WeightScheme::Q8;
  options.bf16_panels = false;
  const ModelWeights weights(vtest::tiny(DType::BF16).dir.path(), options);
  const int layers = weights.config().text.num_hidden_layers;
  const OffloadSizes s = offload_sizes(weights, int64_t{layers} * 1000);
  test::DeviceMemoryBackend device(1);
  int64_t layer_total = 0;
  for (const TextLayerWeights& l : weights.text().layers) {
    WeightPlacement placement(device);
    placement.place(l);
    layer_total += static_cast<int64_t>(placement.uploaded_bytes()) + 1000;
  }
  int64_t sum = 0;
  for (const int64_t b : s.layer_bytes) sum += b;
  BOOST_TEST(s.layers() == layers);
  BOOST_TEST(sum == layer_total);
  WeightPlacement head(device), vision(device);
  head.place_head(weights.text());
  vision.place(weights.vision());
  BOOST_TEST(s.head_bytes == static_cast<int64_t>(head.uploaded_bytes()));
  BOOST_TEST(s.vision_bytes == static_cast<int64_t>(vision.uploaded_bytes()));
  BOOST_TEST(s.vision_bytes > 0);
}

BOOST_AUTO_TEST_SUITE_END()
