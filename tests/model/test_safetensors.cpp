// The safetensors reader and the checkpoint loader: valid, sharded, corrupt and truncated
// files, and checkpoints that disagree with their config.
#define BOOST_TEST_MODULE safetensors
#include <boost/test/unit_test.hpp>

#include <cstring>
#include <fstream>

#include "model/checkpoint.h"
#include "model/errors.h"
#include "model/safetensors.h"
#include "model/safetensors_writer.h"
#include "model/text_weights.h"
#include "test_support.h"

using namespace pio;
namespace fs = std::filesystem;

namespace {

// Writes tensors whose bytes count up (byte i of the data section holds i mod 251).
void write_counting(const fs::path& path, const std::vector<TensorSpec>& specs) {
  size_t offset = 0;
  write_safetensors(path, specs, [&](const TensorSpec&, std::vector<unsigned char>& out) {
    for (auto& b : out) b = static_cast<unsigned char>(offset++ % 251);
  });
}

// A file made of a raw header string and `data_bytes` zero bytes.
void write_raw(const fs::path& path, const std::string& header, size_t data_bytes, uint64_t declared_len = 0) {
  std::ofstream out(path, std::ios::binary);
  const uint64_t len = declared_len ? declared_len : header.size();
  out.write(reinterpret_cast<const char*>(&len), 8);
  out << header << std::string(data_bytes, '\0');
}

bool error_says(const std::function<void()>& fn, const std::string& needle) {
  try {
    fn();
  } catch (const ModelError& e) {
    BOOST_TEST_MESSAGE("error: " << e.what());
    return std::string(e.what()).find(needle) != std::string::npos;
  }
  return false;
}

}  // namespace

BOOST_AUTO_TEST_CASE(reads_tensors_zero_copy_with_dtypes_and_shapes) {
  test::TempDir dir("st");
  const auto path = dir.path() / "a.safetensors";
  write_counting(path, {{"a", DType::BF16, {2, 3}}, {"b", DType::F32, {5}}, {"c", DType::F16, {}}});
  const auto f = SafetensorsFile::open(path);
  BOOST_REQUIRE_EQUAL(f->tensors().size(), 3u);
  const TensorInfo& a = f->tensors().at("a");
  BOOST_TEST((a.dtype == DType::BF16));
  BOOST_TEST((a.shape == std::vector<int64_t>{2, 3}));
  BOOST_TEST(a.bytes == 12u);
  BOOST_TEST(static_cast<const unsigned char*>(f->tensors().at("b").data)[0] == 12);  // right after a
  BOOST_TEST(reinterpret_cast<uintptr_t>(f->tensors().at("b").data) % 4 == 0);         // header padded
  BOOST_TEST(f->tensors().at("c").numel() == 1);
  BOOST_TEST(f->metadata().at("format") == "pt");
}

BOOST_AUTO_TEST_CASE(corrupt_and_truncated_files_get_clear_errors) {
  test::TempDir dir("bad");
  const auto p = dir.path() / "bad.safetensors";
  const auto open = [&] { SafetensorsFile::open(p); };
  const std::string ok = R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";

  write_raw(p, ok, 4);
  BOOST_TEST(error_says(open, "truncated?"));  // data cut short
  BOOST_TEST(error_says(open, p.string()));    // the message names the file
  {
    std::ofstream(p, std::ios::binary) << "abc";
  }
  BOOST_TEST(error_says(open, "truncated"));
  write_raw(p, ok, 8, 1000);
  BOOST_TEST(error_says(open, "truncated: header needs"));
  write_raw(p, ok, 8, uint64_t{1} << 40);
  BOOST_TEST(error_says(open, "implausible"));
  write_raw(p, R"({"t":{"dtype":"F32",)", 8);
  BOOST_TEST(error_says(open, "not valid JSON"));
  write_raw(p, R"([1,2])", 8);
  BOOST_TEST(error_says(open, "not a JSON object"));
  write_raw(p, R"({"t":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}})", 8);
  BOOST_TEST(error_says(open, "unsupported dtype"));
  write_raw(p, R"({"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8);
  BOOST_TEST(error_says(open, "shape needs 12 bytes"));
  write_raw(p, R"({"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8);
  BOOST_TEST(error_says(open, "bad dimension"));
  write_raw(p, R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8);
  BOOST_TEST(error_says(open, "reversed"));
  write_raw(p, R"({"t":{"dtype":"F32","shape":[2]}})", 8);
  BOOST_TEST(error_says(open, "needs dtype, shape and data_offsets"));
  write_raw(p,
            R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
            12);
  BOOST_TEST(error_says(open, "overlap"));
  BOOST_TEST(error_says([&] { SafetensorsFile::open(dir.path() / "missing.safetensors"); }, "cannot open"));
}

BOOST_AUTO_TEST_CASE(sharded_checkpoints_load_through_the_index) {
  test::TempDir dir("shard");
  std::vector<TensorSpec> specs;
  for (int i = 0; i < 6; ++i) specs.push_back({"t" + std::to_string(i), DType::F32, {100}});
  size_t offset = 0;
  write_checkpoint_tensors(dir.path(), specs, 900, [&](const TensorSpec&, std::vector<unsigned char>& out) {
    for (auto& b : out) b = static_cast<unsigned char>(offset++ % 251);
  });
  BOOST_TEST(fs::exists(dir.path() / "model.safetensors.index.json"));
  BOOST_TEST(fs::exists(dir.path() / "model-00003-of-00003.safetensors"));
  const Checkpoint ckpt(dir.path());
  BOOST_TEST(ckpt.tensor_count() == 6u);
  const auto* t5 = ckpt.find("t5");
  BOOST_REQUIRE(t5);
  BOOST_TEST(static_cast<const unsigned char*>(t5->data)[0] == (5 * 400) % 251);
  fs::remove(dir.path() / "model-00002-of-00003.safetensors");
  BOOST_TEST(error_says([&] { Checkpoint c(dir.path()); }, "model-00002-of-00003.safetensors"));
}

BOOST_AUTO_TEST_CASE(checkpoint_that_disagrees_with_config_is_refused) {
  test::TempDir dir("mismatch");
  const ModelConfig cfg = test::small_text_config("float32");
  write_random_checkpoint(cfg, 1, dir.path());
  const Checkpoint ckpt(dir.path());
  TextConfig wider = cfg.text;
  wider.intermediate_size += 1;
  BOOST_TEST(error_says([&] { load_text_weights(ckpt, wider); }, "mlp.gate_proj.weight' has shape [64, 32]"));
  TextConfig deeper = cfg.text;
  deeper.num_hidden_layers += 1;
  BOOST_TEST(error_says([&] { load_text_weights(ckpt, deeper); }, "lacks tensor 'model.language_model.layers.4."));
  TextConfig shallower = cfg.text;
  shallower.num_hidden_layers -= 1;
  BOOST_TEST(error_says([&] { load_text_weights(ckpt, shallower); }, "more decoder layers"));
  TextConfig untied = cfg.text;
  untied.tie_word_embeddings = false;
  BOOST_TEST(error_says([&] { load_text_weights(ckpt, untied); }, "no lm_head.weight"));
  BOOST_TEST(error_says([&] { Checkpoint c(dir.path() / "nowhere"); }, "no .safetensors"));
}

BOOST_AUTO_TEST_CASE(text_only_checkpoint_loads_without_vision) {
  test::RandomModel m(test::small_text_config("bfloat16"), 2, 1);
  const Model& model = m.model;
  BOOST_TEST(!model.has_vision());
  BOOST_TEST((model.stop_ids() == std::vector<int32_t>{151645, 151643}));
}
