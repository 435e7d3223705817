// The weight bytes per decode step `pio bench` sets against the memory bandwidth, counted by hand
// for the tiny checkpoint in each stored format.
#define BOOST_TEST_MODULE decode_traffic
#include <boost/test/unit_test.hpp>

#include "model/decode_traffic.h"
#include "tests/model/test_support.h"

using namespace pio;

namespace {

// The tiny text tower (small_text_config): hidden 32, intermediate 64, 4 layers, 4 query heads and
// 2 KV heads of 16, vocabulary 512, lm_head tied to the embedding. Per layer, [rows, cols]:
// q [64, 32], k [32, 32], v [32, 32], o [32, 64], gate [64, 32], up [64, 32], down [32, 64]:
// 12,288 values; with lm_head [512, 32] 4 x 12,288 + 16,384 = 65,536 values.
constexpr int64_t kValues = 4 * 12288 + 16384;

int64_t step_bytes(const std::string& dtype, WeightScheme scheme) {
  test::TempDir dir{"traffic"};
  write_random_checkpoint(test::small_text_config(dtype), 3, dir.path());
  const ModelWeights weights(dir.path(), ModelOptions{scheme, {}, true});
  return decode_weight_bytes(weights.text());
}

}  // namespace

BOOST_AUTO_TEST_CASE(plain_and_bf16_panels_count_every_value_at_its_size) {
  BOOST_TEST(step_bytes("float32", WeightScheme::Auto) == kValues * 4);  // Plain f32
  // bf16 panels: every row count a multiple of 16 and every col count even, so no padding.
  BOOST_TEST(step_bytes("bfloat16", WeightScheme::Auto) == kValues * 2);
  BOOST_TEST(step_bytes("float32", WeightScheme::BF16) == kValues * 2);
}

BOOST_AUTO_TEST_CASE(quantised_formats_count_their_panels_with_padding) {
  // Q8: a 16-row panel takes ceil(KB / 2) x 1088 bytes, KB = cols / 32: 1088 for cols 32 and 64.
  // Per layer 4 + 2 + 2 + 2 + 4 + 4 + 2 = 20 panels; lm_head 32 panels.
  BOOST_TEST(step_bytes("bfloat16", WeightScheme::Q8) == (4 * 20 + 32) * 1088);
  // Q4: KB x 320 bytes per panel: 320 for cols 32 (q, k, v, gate, up: 16 panels a layer), 640
  // for cols 64 (o, down: 4 panels); lm_head 32 x 320.
  BOOST_TEST(step_bytes("bfloat16", WeightScheme::Q4) == 4 * (16 * 320 + 4 * 640) + 32 * 320);
}

BOOST_AUTO_TEST_CASE(stored_bytes_follow_format_and_dtype) {
  BOOST_TEST(stored_weight_bytes(WeightView{DType::F16, nullptr, 3, 5}) == 30);
  // A bf16 panel pads rows to 16 and cols to even: [17, 3] takes 2 panels x 2 pairs x 64 bytes.
  BOOST_TEST(stored_weight_bytes(WeightView{DType::BF16, nullptr, 17, 3, WeightFormat::BF16Packed}) == 256);
}

BOOST_AUTO_TEST_CASE(ranges_cover_the_counted_bytes_in_the_weights_memory) {
  test::TempDir dir{"traffic"};
  write_random_checkpoint(test::small_text_config("bfloat16"), 3, dir.path());
  const ModelWeights weights(dir.path(), ModelOptions{WeightScheme::Q4, {}, true});
  const auto ranges = decode_weight_ranges(weights.text());
  BOOST_TEST(ranges.size() == 1u + 4u * 7u);  // lm_head, then 7 matrices in each of 4 layers
  BOOST_TEST(ranges.front().data() == weights.text().lm_head.data);
  BOOST_TEST(ranges.back().data() == weights.text().layers.back().down_proj.data);
  int64_t bytes = 0;
  for (const auto r : ranges) bytes += static_cast<int64_t>(r.size());
  BOOST_TEST(bytes == decode_weight_bytes(weights.text()));
}
