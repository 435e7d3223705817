// The runners on a backend whose memory is apart from the host's (DeviceMemoryBackend: the CPU
// kernels, but every pointer they are given must be memory the backend allocated). This is what
// the CUDA backend needs of the model, proven where there is no GPU: the weights are uploaded
// once, activations stay in backend memory, inputs go up and logits and image features come
// down through upload/download. Every result has the bits of the same runner on the CPU
// backend reading the weights in place, and nothing stays allocated once the runners go.
#define BOOST_TEST_MODULE device_memory
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/errors.h"
#include "model/kv_cache.h"
#include "model/model_weights.h"
#include "model/rope.h"
#include "model/text_model.h"
#include "model/vision_model.h"
#include "tests/support/decode_beside.h"
#include "tests/support/device_memory_backend.h"
#include "tests/vision/vision_support.h"

using namespace pio;

namespace {

using Rows = std::vector<float>;

// The tiny checkpoint loaded as runners on a device read it (ModelOptions::bf16_panels off):
// f32, bf16, q8 and q4.
struct Loaded {
  Loaded(const char* label, const std::filesystem::path& dir, WeightScheme scheme = WeightScheme::Auto)
      : name(label), weights(dir, device_options(scheme)) {}
  static ModelOptions device_options(WeightScheme scheme) {
    ModelOptions o;
    o.weights = scheme;
    o.bf16_panels = false;
    return o;
  }
  const char* name;
  ModelWeights weights;
};
const std::vector<std::unique_ptr<Loaded>>& all_weights() {
  static const auto loaded = [] {
    std::vector<std::unique_ptr<Loaded>> v;
    const auto bf16 = vtest::tiny(DType::BF16).dir.path();
    v.push_back(std::make_unique<Loaded>("f32", vtest::tiny(DType::F32).dir.path()));
    v.push_back(std::make_unique<Loaded>("bf16", bf16));
    v.push_back(std::make_unique<Loaded>("q8", bf16, WeightScheme::Q8));
    v.push_back(std::make_unique<Loaded>("q4", bf16, WeightScheme::Q4));
    return v;
  }();
  return loaded;
}

int32_t token(int s, int64_t i) { return static_cast<int32_t>((s * 131 + i * 17 + 3) % 500); }

// Two sequences batched call by call (prefill pieces, then decode, every row's logits), then a
// third whose prompt comes as embeddings with DeepStack features, as an image prompt does:
// all the logits, in order.
Rows text_run(TextModel& text) {
  const int64_t hidden = text.config().hidden_size;
  PagedKvCache cache(text.kv_layers(), text.kv_shape(), 1 << 22, 4);
  const std::vector<SequenceId> seqs{cache.pool().add_sequence(), cache.pool().add_sequence()};
  const std::vector<std::vector<int64_t>> calls{{5, 11}, {8, 2}, {1, 1}, {1, 1}};
  std::vector<int64_t> done(2, 0);
  Rows out;
  for (const auto& call : calls) {
    ForwardBatch batch;
    std::vector<int32_t> ids;
    std::vector<Pos3> positions;
    for (int s = 0; s < 2; ++s) {
      const int64_t n = call[static_cast<size_t>(s)];
      for (int64_t i = 0; i < n; ++i) ids.push_back(token(s, done[static_cast<size_t>(s)] + i));
      std::vector<Pos3> p;
      text_positions(static_cast<int32_t>(done[static_cast<size_t>(s)]), n, p);
      positions.insert(positions.end(), p.begin(), p.end());
      batch.steps.push_back({n, true, {}, 0});
      done[static_cast<size_t>(s)] += n;
    }
    batch.ids = ids;
    batch.positions = positions;
    const auto logits = cache.forward(text, batch, seqs);
    out.insert(out.end(), logits.begin(), logits.end());
  }

  // Embeddings from TextModel::embed (host memory), two of them carrying DeepStack features.
  const std::vector<int32_t> ids{7, 8, 9, 10, 11, 12};
  Rows embeddings(ids.size() * static_cast<size_t>(hidden));
  text.embed(ids, embeddings.data());
  out.insert(out.end(), embeddings.begin(), embeddings.end());
  const std::vector<int64_t> visual_rows{2, 3};
  std::vector<Rows> features(2, Rows(visual_rows.size() * static_cast<size_t>(hidden)));
  for (size_t k = 0; k < features.size(); ++k)
    for (size_t i = 0; i < features[k].size(); ++i) features[k][i] = 0.01f * static_cast<float>((i * 7 + k) % 13);
  DeepstackInput deepstack{visual_rows, {features[0].data(), features[1].data()}};
  std::vector<Pos3> positions;
  text_positions(0, static_cast<int64_t>(ids.size()), positions);
  ForwardBatch batch;
  batch.steps.push_back({static_cast<int64_t>(ids.size()), false, {}, 0});
  batch.embeddings = embeddings.data();
  batch.positions = positions;
  batch.deepstack = &deepstack;
  const SequenceId image_seq = cache.pool().add_sequence();
  const auto logits = cache.forward(text, batch, {&image_seq, 1});
  out.insert(out.end(), logits.begin(), logits.end());
  return out;
}

// Two images encoded at once, then again staged in pieces of 5 rows: the outputs, in order.
Rows vision_run(const ModelWeights& weights, Backend& backend) {
  const VisionConfig& cfg = *weights.config().vision;
  const std::vector<PixelValues> images{vtest::random_image(cfg, 1, 4, 6, 1), vtest::random_image(cfg, 2, 8, 4, 2)};
  VisionModel vision(weights, backend);
  Rows out;
  const auto keep = [&out](const VisionOutput& o) {
    out.insert(out.end(), o.image_embeds.begin(), o.image_embeds.end());
    for (const auto& d : o.deepstack) out.insert(out.end(), d.begin(), d.end());
  };
  keep(vision.encode(images));
  vision.begin(images);
  while (!vision.finished()) vision.advance(5);
  keep(vision.finish());
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(device_memory)

// The backend this suite relies on refuses host memory and ranges past an allocation's end.
BOOST_AUTO_TEST_CASE(the_device_memory_backend_refuses_host_pointers) {
  test::DeviceMemoryBackend device(1);
  std::vector<float> host(64, 1.0f);
  void* memory = device.allocate(64 * sizeof(float));
  auto* x = static_cast<float*>(memory);
  BOOST_CHECK_THROW(device.add(host.data(), host.data(), 64), std::logic_error);
  BOOST_CHECK_THROW(device.add(x, host.data(), 64), std::logic_error);
  BOOST_CHECK_THROW(device.add(x, x, 65), std::logic_error);
  BOOST_CHECK_THROW(device.upload(host.data(), x, 4), std::logic_error);
  device.upload(x, host.data(), 64 * sizeof(float));
  device.add(x, x, 64);
  device.download(host.data(), x, 64 * sizeof(float));
  BOOST_TEST(host[63] == 2.0f);
  device.release(memory);
  BOOST_TEST(device.allocated_bytes() == 0u);
}

BOOST_AUTO_TEST_CASE(text_runner_in_device_memory_equals_the_cpu) {
  for (const auto& loaded : all_weights()) {
    const auto cpu = make_cpu_backend(2);
    test::DeviceMemoryBackend device(2);
    TextModel on_cpu(loaded->weights, *cpu);
    const Rows expected = text_run(on_cpu);
    {
      TextModel on_device(loaded->weights, device);
      BOOST_TEST((text_run(on_device) == expected), loaded->name);
    }
    BOOST_TEST(device.allocated_bytes() == 0u, "nothing stays allocated, " << loaded->name);
  }
}

BOOST_AUTO_TEST_CASE(vision_runner_in_device_memory_equals_the_cpu) {
  for (const auto& loaded : all_weights()) {
    const auto cpu = make_cpu_backend(2);
    test::DeviceMemoryBackend device(2);
    const Rows expected = vision_run(loaded->weights, *cpu);
    BOOST_TEST((vision_run(loaded->weights, device) == expected), loaded->name);
    BOOST_TEST(device.allocated_bytes() == 0u, "nothing stays allocated, " << loaded->name);
  }
}

// Partial offload (--gpu-layers N): the first N layers on the device, the rest with the
// embedding and lm_head on the CPU, the hidden state crossing once; the KV cache of each layer
// where it computes. Every N gives the bits of the whole runner on the CPU, and the device holds
// exactly its layers' weights.
BOOST_AUTO_TEST_CASE(layers_split_between_device_and_cpu_equal_the_cpu) {
  for (const auto& loaded : all_weights()) {
    const auto cpu = make_cpu_backend(2);
    TextModel on_cpu(loaded->weights, *cpu);
    const Rows expected = text_run(on_cpu);
    const int layers = loaded->weights.config().text.num_hidden_layers;
    BOOST_REQUIRE(layers >= 2);
    for (const int n : {0, 1, layers - 1, layers}) {
      test::DeviceMemoryBackend device(2);
      {
        TextModel split(loaded->weights, LayerSplit{&device, cpu.get(), n});
        const auto ranges = split.kv_layers();
        // The host's share of a KV block: the layers left on the CPU.
        const KvStorage storage(ranges, split.kv_shape(), 1 << 20, 4);
        BOOST_TEST(storage.host_bytes_per_block() * layers == storage.bytes_per_block() * (layers - n));
        BOOST_TEST(ranges.front().backend == (n > 0 ? static_cast<Backend*>(&device) : cpu.get()));
        BOOST_TEST(ranges.size() == (n == 0 || n == layers ? 1u : 2u));
        BOOST_TEST(&split.backend() == (n == layers ? static_cast<Backend*>(&device) : cpu.get()));
        BOOST_TEST((text_run(split) == expected), loaded->name << ", " << n << " layers on the device");
        size_t layer_bytes = 0;
        for (int l = 0; l < n; ++l) {
          const TextLayerWeights& w = loaded->weights.text().layers[static_cast<size_t>(l)];
          for (const WeightView* v : {&w.input_norm, &w.q_proj, &w.k_proj, &w.v_proj, &w.o_proj, &w.q_norm, &w.k_norm,
                                      &w.post_attention_norm, &w.gate_proj, &w.up_proj, &w.down_proj})
            layer_bytes += weight_bytes(*v);
        }
        if (n < layers) BOOST_TEST(split.device_weight_bytes() == layer_bytes);
      }
      BOOST_TEST(device.allocated_bytes() == 0u);
    }
  }
}

// A KV storage whose layers live elsewhere than the runner computes them is refused, not read.
BOOST_AUTO_TEST_CASE(kv_storage_on_the_wrong_backend_is_refused) {
  const ModelWeights& weights = all_weights()[0]->weights;
  const auto cpu = make_cpu_backend(1);
  test::DeviceMemoryBackend device(1);
  TextModel split(weights, LayerSplit{&device, cpu.get(), 1});
  PagedKvCache on_cpu_only(*cpu, split.kv_shape(), 1 << 20, 4);
  const SequenceId seq = on_cpu_only.pool().add_sequence();
  const std::vector<int32_t> ids{1, 2, 3};
  std::vector<Pos3> positions;
  text_positions(0, 3, positions);
  ForwardBatch batch;
  batch.steps.push_back({3, false, {}, 0});
  batch.ids = ids;
  batch.positions = positions;
  BOOST_CHECK_EXCEPTION(on_cpu_only.forward(split, batch, {&seq, 1}), ModelError, [](const ModelError& e) {
    return std::string(e.what()).find("another backend") != std::string::npos;
  });
  BOOST_CHECK_THROW(TextModel(weights, LayerSplit{&device, cpu.get(), weights.config().text.num_hidden_layers + 1}),
                    ModelError);
}

// On a device every weight is uploaded once per runner (a tied lm_head once with the
// embedding); on the CPU nothing is.
BOOST_AUTO_TEST_CASE(weights_are_uploaded_once_on_a_device_only) {
  const ModelWeights& weights = all_weights()[2]->weights;  // q8
  const auto cpu = make_cpu_backend(1);
  test::DeviceMemoryBackend device(1);
  BOOST_TEST(TextModel(weights, *cpu).device_weight_bytes() == 0u);
  const TextModel text(weights, device);
  size_t expected = 0;
  const TextWeights& w = weights.text();
  for (const WeightView* v : {&w.embed_tokens, &w.final_norm}) expected += weight_bytes(*v);
  if (w.lm_head.data != w.embed_tokens.data) expected += weight_bytes(w.lm_head);
  for (const TextLayerWeights& l : w.layers)
    for (const WeightView* v : {&l.input_norm, &l.q_proj, &l.k_proj, &l.v_proj, &l.o_proj, &l.q_norm, &l.k_norm,
                                &l.post_attention_norm, &l.gate_proj, &l.up_proj, &l.down_proj})
      expected += weight_bytes(*v);
  BOOST_TEST(text.device_weight_bytes() == expected);
  BOOST_TEST(device.allocated_bytes() >= expected);
}

// Weights loaded for a device keep bf16 as stored (the CUDA kernels do not read the CPU's
// panels); for the CPU they are packed.
BOOST_AUTO_TEST_CASE(options_for_a_device_leave_bf16_unpacked) {
  const auto cpu = make_cpu_backend(1);
  test::DeviceMemoryBackend device(1);
  BOOST_TEST(options_for(ModelOptions{}, *cpu).bf16_panels);
  BOOST_TEST(!options_for(ModelOptions{}, device).bf16_panels);
  const ModelWeights for_cpu(vtest::tiny(DType::BF16).dir.path(), options_for(ModelOptions{}, *cpu));
  BOOST_TEST((for_cpu.text().layers[0].q_proj.format == WeightFormat::BF16Packed));
  BOOST_TEST((all_weights()[1]->weights.text().layers[0].q_proj.format == WeightFormat::Plain));
  TextModel reading_panels(for_cpu, device);
  BOOST_CHECK_THROW(text_run(reading_panels), std::logic_error);  // the device cannot read the panels
}

// Batch invariance for decode on a device whose prefill GEMM sums in an order of its own (cuBLAS,
// emulated: the rows cuda::fixed_order_rows leaves to it take x rounded to bf16): the runner names
// a step's decode rows (Backend::matmul_shared's fixed_rows), so a decode step beside a 20-token
// prefill chunk, among 18 decode steps, or both, has the logits it has alone. The emulation does
// change what it is given: a decode row among rows it took would differ.
BOOST_AUTO_TEST_CASE(decode_rows_keep_their_bits_beside_a_device_prefill_gemm) {
  // f32 weights: the CPU kernels then read x unrounded, so the emulated GEMM's rounding shows
  // (with bf16 weights the AVX-512 BF16 kernels round x to bf16 themselves).
  const ModelWeights& weights = all_weights()[0]->weights;
  test::DeviceMemoryBackend device(2);
  device.emulate_free_order_rows();
  TextModel text(weights, device);
  const Rows alone = test::decode_beside(text, 0, 0).decode;
  BOOST_TEST((test::decode_beside(text, 0, 20).decode == alone));
  BOOST_TEST((test::decode_beside(text, 17, 0).decode == alone));
  BOOST_TEST((test::decode_beside(text, 17, 20).decode == alone));

  test::DeviceMemoryBackend plain(2);
  TextModel exact(weights, plain);
  const test::StepLogits both = test::decode_beside(exact, 0, 20);
  BOOST_TEST((both.decode == alone));
  BOOST_TEST((test::decode_beside(text, 0, 20).last != both.last), "the emulated GEMM changes nothing");
}

BOOST_AUTO_TEST_SUITE_END()
