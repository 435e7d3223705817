// Random checkpoints: every chunk of a tensor draws from its own random stream. The streams
// used to start at base + chunk * step, SplitMix64's own step, so each chunk repeated its
// neighbour's values one draw later: rows 46487 and 112022 of the tiny embedding were identical,
// and logits on that checkpoint had exact ties.
#define BOOST_TEST_MODULE checkpoint_maker
#include <boost/test/unit_test.hpp>

#include <cstring>
#include <filesystem>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "model/checkpoint_maker.h"
#include "model/errors.h"
#include "model/safetensors.h"
#include "tests/support/temp_dir.h"

using namespace pio;

namespace {

// The tiny preset exactly as `pio make-checkpoint --preset tiny --seed 3` writes it (bf16).
const SafetensorsFile& tiny_checkpoint() {
  static test::TempDir dir("tiny");
  static const std::shared_ptr<SafetensorsFile> file = [] {
    CheckpointRequest req;
    req.preset = "tiny";
    req.seed = 3;
    req.out = dir.path();
    make_checkpoint(req);
    return SafetensorsFile::open(dir.path() / "model.safetensors");
  }();
  return *file;
}

constexpr int64_t kRun = 8;  // 8 bf16 values: 2^-60 odds that two random runs are equal

// The run of kRun values at v + i as one hash key (its two 64-bit halves, mixed).
uint64_t run_key(const uint16_t* v, int64_t i) {
  uint64_t half[2];
  std::memcpy(half, v + i, sizeof(half));
  return (half[0] * 0x9e3779b97f4a7c15ull) ^ half[1];
}

// Number of places where the run of kRun values starting there also starts somewhere else.
// Any copy, at any shift, of a stretch at least 2 * kRun long contains a run starting at a
// multiple of kRun, so those runs alone are indexed and every position is looked up.
int64_t repeated_runs(const uint16_t* v, int64_t n) {
  std::unordered_multimap<uint64_t, int64_t> sampled;
  for (int64_t i = 0; i + kRun <= n; i += kRun) sampled.emplace(run_key(v, i), i);
  int64_t repeats = 0;
  for (int64_t i = 0; i + kRun <= n; ++i) {
    const auto [first, last] = sampled.equal_range(run_key(v, i));
    for (auto it = first; it != last; ++it)
      repeats += it->second != i && std::memcmp(v + i, v + it->second, kRun * sizeof(uint16_t)) == 0;
  }
  return repeats;
}

}  // namespace

BOOST_AUTO_TEST_CASE(no_two_rows_of_any_matrix_are_equal) {
  int64_t matrices = 0;
  for (const auto& [name, t] : tiny_checkpoint().tensors()) {
    if (t.shape.size() != 2) continue;
    ++matrices;
    const auto row_bytes = static_cast<size_t>(t.shape[1]) * dtype_size(t.dtype);
    std::unordered_set<std::string_view> rows;
    for (int64_t r = 0; r < t.shape[0]; ++r)
      rows.emplace(static_cast<const char*>(t.data) + static_cast<size_t>(r) * row_bytes, row_bytes);
    BOOST_TEST(static_cast<int64_t>(rows.size()) == t.shape[0], name << " has repeated rows");
  }
  BOOST_TEST(matrices > 40);  // every projection of the text and vision towers was looked at
}

// Runs shared between chunks at any offset, not only whole rows; checked on the tensors that
// span more than one 65536-value chunk.
BOOST_AUTO_TEST_CASE(no_two_chunks_share_a_run_of_values) {
  int64_t checked = 0;
  for (const auto& [name, t] : tiny_checkpoint().tensors()) {
    if (t.numel() <= 65536) continue;
    BOOST_REQUIRE(t.dtype == DType::BF16);
    ++checked;
    BOOST_TEST(repeated_runs(static_cast<const uint16_t*>(t.data), t.numel()) == 0, name);
  }
  BOOST_TEST(checked >= 1);  // the 151936 x 32 embedding
}

// The search itself finds a copy at an offset that is no multiple of the run length.
BOOST_AUTO_TEST_CASE(a_shifted_copy_is_found) {
  std::vector<uint16_t> v(4096);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<uint16_t>(i * 2654435761u >> 7);
  BOOST_TEST(repeated_runs(v.data(), 4096) == 0);
  std::copy(v.begin() + 100, v.begin() + 140, v.begin() + 3001);
  BOOST_TEST(repeated_runs(v.data(), 4096) > 0);
}

// A tokenizer source without its files is refused before anything is written: no half-made
// checkpoint (weights and config but no tokenizer) is left behind.
BOOST_AUTO_TEST_CASE(a_missing_tokenizer_source_writes_nothing) {
  test::TempDir dir("no-tokenizer");
  CheckpointRequest req;
  req.preset = "tiny";
  req.out = dir.path() / "ckpt";
  req.tokenizer_source = dir.path() / "nowhere";
  BOOST_CHECK_THROW(make_checkpoint(req), ModelError);
  BOOST_TEST(!std::filesystem::exists(req.out));
}

// A checkpoint written again over one that a process maps (a serving pio-node) replaces its files
// by renaming: the old mapping keeps the old values, where a rewrite in place changed them under
// it (and killed the node with SIGBUS while the file was shorter than the mapping).
BOOST_AUTO_TEST_CASE(writing_over_a_mapped_checkpoint_leaves_the_mapping_as_it_was) {
  test::TempDir dir("rewrite");
  CheckpointRequest req;
  req.out = dir.path();
  req.seed = 1;
  make_checkpoint(req);
  const auto old_file = SafetensorsFile::open(dir.path() / "model.safetensors");
  const TensorInfo& old_embed = old_file->tensors().at("model.language_model.embed_tokens.weight");
  const std::string before(static_cast<const char*>(old_embed.data), old_embed.bytes);
  req.seed = 2;
  make_checkpoint(req);
  BOOST_TEST((std::string(static_cast<const char*>(old_embed.data), old_embed.bytes) == before));
  const auto new_file = SafetensorsFile::open(dir.path() / "model.safetensors");
  const TensorInfo& new_embed = new_file->tensors().at("model.language_model.embed_tokens.weight");
  BOOST_TEST((std::string(static_cast<const char*>(new_embed.data), new_embed.bytes) != before));
  for (const auto& entry : std::filesystem::directory_iterator(dir.path()))
    BOOST_TEST(entry.path().string().find(".partial-") == std::string::npos, entry.path());
}
