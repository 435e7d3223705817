// Batch invariance: a sequence's logits are bit-identical whatever else shares its forward
// passes, however its prompt is split into prefill chunks (down to token-by-token decode), and
// whatever the compute thread count. Registered twice: on this CPU's fastest matmul path and with
// PIO_CPU_ISA=avx2; invariance holds within each path.
#define BOOST_TEST_MODULE batch_invariance
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstring>
#include <optional>
#include <random>

#include "model/kv_cache.h"
#include "model/prompt.h"
#include "test_support.h"

using namespace pio;

namespace {

// Special-token ids inside the cut-down vocabulary, so image prompts embed their text rows.
constexpr int32_t VS = 500, IMG = 501, VE = 502;
constexpr int kDeepstackLayers = 3;

ModelConfig config(const std::string& dtype, bool odd_shapes) {
  ModelConfig c = test::small_text_config(dtype);
  c.vision_start_token_id = VS;
  c.image_token_id = IMG;
  c.vision_end_token_id = VE;
  if (odd_shapes) {  // widths that leave remainders in every vector loop (k % 8, k % 32, head_dim % 8)
    c.text.vocab_size = 509;
    c.text.hidden_size = 40;
    c.text.intermediate_size = 52;
    c.text.num_attention_heads = 6;
    c.text.num_key_value_heads = 2;
    c.text.head_dim = 14;
    c.text.mrope_section = {3, 2, 2};
  }
  return c;
}

std::vector<float> random_rows(int64_t rows, int64_t hidden, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(rows * hidden));
  for (float& x : v) x = dist(rng);
  return v;
}

// Random image features for two images of 4x4 and 4x6 patches (4 and 6 merged tokens).
ImageFeatures random_images(int64_t hidden) {
  ImageFeatures f;
  f.grids = {{1, 4, 4}, {1, 4, 6}};
  f.tokens = 10;
  f.hidden = hidden;
  f.embeds = random_rows(f.tokens, hidden, 1);
  for (int k = 0; k < kDeepstackLayers; ++k) f.deepstack.push_back(random_rows(f.tokens, hidden, 2 + k));
  return f;
}

// The prompts: prompt 0 has 37 tokens, prompt 1 two images, the others lengths from 1 to 40.
std::vector<PreparedPrompt> prompts(Model& model, const ImageFeatures& images) {
  const std::vector<int64_t> lengths{37, 0, 1, 3, 9, 16, 23, 40};
  std::vector<PreparedPrompt> out;
  for (size_t i = 0; i < lengths.size(); ++i) {
    std::vector<int32_t> ids(static_cast<size_t>(lengths[i]));
    for (size_t t = 0; t < ids.size(); ++t) ids[t] = static_cast<int32_t>((7 * i + 31 * t + 3) % 490);
    if (i == 1) ids = {1, 2, 3, VS, IMG, VE, 4, 5, VS, IMG, VE, 6, 7, 8};
    out.push_back(prepare_prompt(model.text(), model.config(), ids, i == 1 ? &images : nullptr));
  }
  return out;
}

// One forward pass holds pieces: the next n rows of a prompt.
struct Piece {
  size_t prompt;
  int64_t n;
};
using Pass = std::vector<Piece>;
using Schedule = std::vector<Pass>;

// Every row's logits of every prompt after running the schedule on a fresh cache.
class Runner {
 public:
  // The cache in kv_dtype (none: the weights' dtype, as --kv-dtype auto).
  Runner(TextModel& text, std::span<const PreparedPrompt> prompts, int block_size, std::optional<KvDType> kv_dtype)
      : text_(text), prompts_(prompts), cache_(text.backend(), shape(text, kv_dtype), 1 << 22, block_size),
        done_(prompts.size(), 0), logits_(prompts.size()) {
    for (size_t i = 0; i < prompts.size(); ++i) seqs_.push_back(cache_.pool().add_sequence());
  }

  std::vector<std::vector<float>> run(const Schedule& schedule) {
    for (const Pass& pass : schedule) forward(pass);
    return logits_;
  }

 private:
  static KvCacheShape shape(const TextModel& text, std::optional<KvDType> kv_dtype) {
    KvCacheShape s = text.kv_shape();
    if (kv_dtype) s.dtype = *kv_dtype;
    return s;
  }

  void forward(const Pass& pass) {
    const int64_t hidden = text_.config().hidden_size;
    const bool embed_rows = std::any_of(pass.begin(), pass.end(),
                                        [&](const Piece& p) { return !prompts_[p.prompt].embeddings.empty(); });
    ForwardBatch batch;
    std::vector<SequenceId> seqs;
    std::vector<int32_t> ids;
    std::vector<Pos3> positions;
    std::vector<float> embeddings;
    std::vector<int64_t> deepstack_rows;
    std::vector<std::vector<float>> deepstack(kDeepstackLayers);
    for (const Piece& piece : pass) {
      const PreparedPrompt& p = prompts_[piece.prompt];
      const auto b = static_cast<size_t>(done_[piece.prompt]), e = b + static_cast<size_t>(piece.n);
      BOOST_REQUIRE(e <= p.ids.size());
      const auto first_row = static_cast<int64_t>(ids.size());
      batch.steps.push_back({piece.n, true, {}, 0});
      seqs.push_back(seqs_[piece.prompt]);
      ids.insert(ids.end(), p.ids.begin() + b, p.ids.begin() + e);
      positions.insert(positions.end(), p.positions.begin() + b, p.positions.begin() + e);
      if (embed_rows && p.embeddings.empty()) {
        embeddings.resize(ids.size() * static_cast<size_t>(hidden));
        text_.embed(std::span(p.ids).subspan(b, e - b), embeddings.data() + first_row * hidden);
      } else if (embed_rows) {
        embeddings.insert(embeddings.end(), p.embeddings.begin() + b * hidden, p.embeddings.begin() + e * hidden);
      }
      for (size_t i = 0; i < p.visual_rows.size(); ++i) {
        const auto r = static_cast<size_t>(p.visual_rows[i]);
        if (r < b || r >= e) continue;
        deepstack_rows.push_back(first_row + static_cast<int64_t>(r - b));
        for (int k = 0; k < kDeepstackLayers; ++k) {
          const auto& f = p.images->deepstack[static_cast<size_t>(k)];
          deepstack[static_cast<size_t>(k)].insert(deepstack[static_cast<size_t>(k)].end(),
                                                   f.begin() + static_cast<int64_t>(i) * hidden,
                                                   f.begin() + static_cast<int64_t>(i + 1) * hidden);
        }
      }
      done_[piece.prompt] = static_cast<int64_t>(e);
    }
    batch.ids = ids;
    batch.positions = positions;
    DeepstackInput ds{deepstack_rows, {}};
    if (embed_rows) {
      batch.embeddings = embeddings.data();
      for (const auto& f : deepstack) ds.per_layer.push_back(f.data());
      batch.deepstack = &ds;
    }
    const auto logits = cache_.forward(text_, batch, seqs);
    const auto vocab = static_cast<size_t>(text_.config().vocab_size);
    size_t offset = 0;
    for (const Piece& piece : pass) {
      const size_t n = static_cast<size_t>(piece.n) * vocab;
      auto& out = logits_[piece.prompt];
      out.insert(out.end(), logits.begin() + static_cast<std::ptrdiff_t>(offset),
                 logits.begin() + static_cast<std::ptrdiff_t>(offset + n));
      offset += n;
    }
  }

  TextModel& text_;
  std::span<const PreparedPrompt> prompts_;
  PagedKvCache cache_;
  std::vector<SequenceId> seqs_;
  std::vector<int64_t> done_;
  std::vector<std::vector<float>> logits_;
};

// Chunk sizes that feed n rows one at a time, as decode steps do.
std::vector<int64_t> ones(int64_t n) { return std::vector<int64_t>(static_cast<size_t>(n), 1); }

// Prompt `prompt` alone, in chunks of the given sizes, one pass each.
Schedule chunked(size_t prompt, const std::vector<int64_t>& chunks) {
  Schedule s;
  for (int64_t n : chunks) s.push_back({{prompt, n}});
  return s;
}

int64_t length(const PreparedPrompt& p) { return static_cast<int64_t>(p.ids.size()); }

// Prints the first difference to help find the culprit; true when every bit matches.
bool same_bits(const std::vector<float>& got, const std::vector<float>& want, int64_t vocab) {
  if (got.size() != want.size()) {
    BOOST_TEST_MESSAGE("sizes differ: " << got.size() << " vs " << want.size());
    return false;
  }
  if (std::memcmp(got.data(), want.data(), sizeof(float) * got.size()) == 0) return true;
  size_t i = 0;
  while (std::memcmp(&got[i], &want[i], sizeof(float)) == 0) ++i;
  BOOST_TEST_MESSAGE("first difference at row " << static_cast<int64_t>(i) / vocab << ": " << got[i] << " vs "
                                                 << want[i]);
  return false;
}

void check_invariance(const std::string& dtype, bool odd_shapes, std::optional<KvDType> kv = std::nullopt) {
  const ModelConfig cfg = config(dtype, odd_shapes);
  test::RandomModel m(cfg, 11, 2);
  TextModel& text = m.model.text();
  const ImageFeatures images = random_images(cfg.text.hidden_size);
  const std::vector<PreparedPrompt> ps = prompts(m.model, images);
  const int64_t vocab = cfg.text.vocab_size;
  const size_t n = ps.size();

  // Reference: each prompt alone in one pass.
  std::vector<std::vector<float>> alone;
  for (size_t i = 0; i < n; ++i) alone.push_back(Runner(text, ps, 16, kv).run(chunked(i, {length(ps[i])}))[i]);

  const auto expect_alone = [&](const std::vector<std::vector<float>>& got, const std::string& what) {
    for (size_t i = 0; i < n; ++i)
      if (!got[i].empty()) BOOST_TEST(same_bits(got[i], alone[i], vocab), what << ", prompt " << i);
  };

  // Prompt splits: 5+32, token by token, 16+21; the image prompt cut inside each image and token by token.
  for (const auto& chunks : std::vector<std::vector<int64_t>>{{5, 32}, ones(37), {16, 21}})
    expect_alone(Runner(text, ps, 16, kv).run(chunked(0, chunks)), "prompt 0 chunked");
  // Its 22 rows: 3 text, <|vision_start|>, 4 image, <|vision_end|>, 2 text, start, 6 image, end, 3 text.
  BOOST_REQUIRE(length(ps[1]) == 22);
  expect_alone(Runner(text, ps, 4, kv).run(chunked(1, {5, 9, 8})), "image prompt chunked inside the images");
  expect_alone(Runner(text, ps, 16, kv).run(chunked(1, ones(length(ps[1])))), "image prompt token by token");

  // All 8 prompts in one pass, in order and reversed (each with rows before and after it).
  Pass all, reversed;
  for (size_t i = 0; i < n; ++i) all.push_back({i, length(ps[i])});
  reversed.assign(all.rbegin(), all.rend());
  expect_alone(Runner(text, ps, 16, kv).run({all}), "all in one pass");
  expect_alone(Runner(text, ps, 16, kv).run({reversed}), "all in one pass, reversed");

  // Mixed steps: prompts 0 and 1 in chunks next to other prompts' prefill, then their last
  // row decoded beside whole prefills of the rest.
  const Schedule mixed{
      {{2, 1}, {0, 16}, {3, 3}},
      {{1, 7}, {0, 20}, {4, 9}},
      {{5, 16}, {1, length(ps[1]) - 8}, {6, 23}},
      {{7, 40}, {0, 1}, {1, 1}},
  };
  expect_alone(Runner(text, ps, 4, kv).run(mixed), "mixed chunks, decode beside prefill");

  // Other thread counts give the same bits.
  for (int threads : {1, 3}) {
    const auto backend = make_cpu_backend(threads);
    Model other(m.dir.path(), *backend);
    const std::vector<PreparedPrompt> other_ps = prompts(other, images);
    expect_alone(Runner(other.text(), other_ps, 16, kv).run({all}), std::to_string(threads) + " threads");
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(f32_logits_are_batch_invariant) { check_invariance("float32", false); }
BOOST_AUTO_TEST_CASE(bf16_logits_are_batch_invariant) { check_invariance("bfloat16", false); }
BOOST_AUTO_TEST_CASE(odd_shape_f32_logits_are_batch_invariant) { check_invariance("float32", true); }
BOOST_AUTO_TEST_CASE(odd_shape_bf16_logits_are_batch_invariant) { check_invariance("bfloat16", true); }
// The KV cache in the other dtypes (bf16 is the bf16 weights' own above).
BOOST_AUTO_TEST_CASE(f16_kv_logits_are_batch_invariant) { check_invariance("float32", false, KvDType::F16); }
BOOST_AUTO_TEST_CASE(odd_shape_q8_kv_logits_are_batch_invariant) { check_invariance("float32", true, KvDType::Q8); }
BOOST_AUTO_TEST_CASE(q8_kv_logits_are_batch_invariant) { check_invariance("bfloat16", false, KvDType::Q8); }
