// The text decoder against numbers Hugging Face transformers 4.57 itself computed (float32, CPU)
// for a tiny Qwen3-VL text tower: a multimodal prefill with visual rows and DeepStack
// features, then two KV-cached greedy decode steps (tests/data/hf-goldens).
#define BOOST_TEST_MODULE hf_goldens
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "gpu/cpu/kv_rows.h"
#include "model/kv_cache.h"
#include "model/model_weights.h"
#include "model/text_model.h"

using namespace pio;
using nlohmann::json;

namespace {

const std::filesystem::path kDir = std::filesystem::path(PIO_TEST_DATA_DIR) / "hf-goldens";

json load(const std::string& name) {
  std::ifstream in(kDir / name / "expected.json");
  return json::parse(in);
}

// Every number of a nested JSON array, in row-major order.
std::vector<float> flat(const json& j) {
  std::vector<float> out;
  if (j.is_array()) {
    for (const auto& e : j) {
      const auto part = flat(e);
      out.insert(out.end(), part.begin(), part.end());
    }
  } else {
    out.push_back(j.get<float>());
  }
  return out;
}

// The fixture's own criterion: ‖a − b‖ ≤ max(atol, rtol · max(‖a‖, ‖b‖)), on whole tensors.
// The fixture's tolerance, 1e-6, holds for pio too (measured: about 1e-7).
void check_close(std::span<const float> got, const std::vector<float>& want, const std::string& what) {
  BOOST_REQUIRE_EQUAL(got.size(), want.size());
  double diff = 0, na = 0, nb = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    diff += (double(got[i]) - want[i]) * (double(got[i]) - want[i]);
    na += double(got[i]) * got[i];
    nb += double(want[i]) * want[i];
  }
  const double rel = std::sqrt(diff) / std::max(std::sqrt(na), std::sqrt(nb));
  BOOST_TEST_MESSAGE(what << ": relative L2 error " << rel);
  BOOST_TEST(rel <= 1e-6, what << ": relative L2 error " << rel);
}

struct GoldenModel {
  std::unique_ptr<Backend> backend = make_cpu_backend(2);
  ModelWeights weights{kDir / "qwen3vl_tiny_text_prefill"};
  TextModel text{weights, *backend};
  PagedKvCache cache{*backend, text.kv_shape(), 1 << 20, 4};
  SequenceId seq = cache.pool().add_sequence();

  // Runs the fixture's prefill: given input embeddings, 3D positions and DeepStack rows.
  std::span<const float> prefill(const json& inputs) {
    const auto embeds = flat(inputs["inputs_embeds"]["data"]);
    const auto& pid = inputs["position_ids"];
    positions.clear();
    for (size_t i = 0; i < pid[0][0].size(); ++i)
      positions.push_back({pid[0][0][i].get<int32_t>(), pid[1][0][i].get<int32_t>(), pid[2][0][i].get<int32_t>()});
    const auto mask = flat(inputs["visual_pos_masks"]);
    for (size_t i = 0; i < mask.size(); ++i)
      if (mask[i] != 0) visual_rows.push_back(static_cast<int64_t>(i));
    for (const auto& ds : inputs["deepstack_visual_embeds"]) features.push_back(flat(ds["data"]));
    for (const auto& f : features) deepstack.per_layer.push_back(f.data());
    deepstack.rows = visual_rows;
    ForwardBatch batch;
    batch.steps.push_back({static_cast<int64_t>(positions.size()), true, {}, 0});
    batch.embeddings = embeds.data();
    batch.positions = positions;
    batch.deepstack = &deepstack;
    return cache.forward(text, batch, {&seq, 1});
  }

  std::span<const float> decode(int32_t id, int32_t position) {
    ids = {id};
    positions = {{position, position, position}};
    ForwardBatch batch;
    batch.steps.push_back({1, false, {}, 0});
    batch.ids = ids;
    batch.positions = positions;
    return cache.forward(text, batch, {&seq, 1});
  }

  // The cache of one layer as HF lays it out: [kv_heads, tokens, head_dim].
  std::vector<float> cached(int layer, bool keys) const {
    const PagedKvLayer kv = cache.storage().layer(layer);
    const int64_t n = cache.pool().length(seq);
    std::vector<float> out;
    for (int h = 0; h < kv.kv_heads; ++h)
      for (int64_t t = 0; t < n; ++t) {
        const int64_t row = int64_t{cache.pool().block_table(seq)[static_cast<size_t>(t / kv.block_size)]} * kv.block_size + t % kv.block_size;
        const char* base = static_cast<const char*>(keys ? kv.k : kv.v) + kv.row_offset(row, h);
        out.resize(out.size() + static_cast<size_t>(kv.head_dim));
        cpu::load_kv_row(kv.dtype, base, kv.head_dim, out.data() + out.size() - kv.head_dim);
      }
    return out;
  }

  std::vector<Pos3> positions;
  std::vector<int32_t> ids;
  std::vector<int64_t> visual_rows;
  std::vector<std::vector<float>> features;
  DeepstackInput deepstack;
};

}  // namespace

BOOST_AUTO_TEST_CASE(multimodal_prefill_with_deepstack_matches_hf) {
  const json g = load("qwen3vl_tiny_text_prefill");
  GoldenModel m;
  const auto logits = m.prefill(g["inputs"]);
  check_close(logits, flat(g["expected"]["logits"]["data"]), "prefill logits");
  const auto argmax_want = g["expected_semantics"]["argmax_per_position_0_based"].get<std::vector<int>>();
  for (size_t r = 0; r < argmax_want.size(); ++r) {
    const auto row = logits.subspan(r * 32, 32);
    const auto best = std::max_element(row.begin(), row.end()) - row.begin();
    BOOST_TEST(best == argmax_want[r], "position " << r);
  }
}

BOOST_AUTO_TEST_CASE(kv_cached_decode_matches_hf_cache_and_logits) {
  const json g = load("qwen3vl_tiny_text_dynamic_decode");
  const json& want = g["expected"];
  GoldenModel m;
  m.prefill(g["inputs"]["prefill"]);
  for (int l = 0; l < 4; ++l) {
    const std::string p = "cache.prefill.layer." + std::to_string(l);
    check_close(m.cached(l, true), flat(want[p + ".key"]["data"]), p + ".key");
    check_close(m.cached(l, false), flat(want[p + ".value"]["data"]), p + ".value");
  }
  int step = 0;
  for (const auto& s : g["inputs"]["decode_steps"]) {
    const std::string name = "decode." + std::to_string(step++);
    const auto logits = m.decode(s["input_ids"][0][0].get<int32_t>(), s["position_ids"][0][0][0].get<int32_t>());
    check_close(logits, flat(want[name + ".logits"]["data"]), name + ".logits");
    for (int l = 0; l < 4; ++l) {
      const std::string p = "cache." + name + ".layer." + std::to_string(l);
      check_close(m.cached(l, true), flat(want[p + ".key"]["data"]), p + ".key");
    }
    // Greedy keeps choosing token 7 by a margin of ~5e-4: the logits are right to far better than that.
    std::vector<float> row(logits.begin(), logits.end());
    std::vector<int> order(row.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
    std::partial_sort(order.begin(), order.begin() + 2, order.end(), [&](int a, int b) { return row[a] > row[b]; });
    BOOST_TEST(order[0] == 7);
    const json& phase = g["expected_semantics"]["phases"][step];
    BOOST_TEST(std::abs((row[order[0]] - row[order[1]]) - phase["top_two"]["margin_f32"].get<double>()) < 2e-6);
  }
}
