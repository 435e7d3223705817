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
  const ModelWeights& model = m.weights;
  BOOST_TEST(!model.has_vision());
  BOOST_TEST((model.stop_ids() == std::vector<int32_t>{151645, 151643}));
}

// The format lets a writer start tensor data anywhere. Here the data section starts at an odd
// address, so an F32 tensor at offset 0 and a BF16 one at offset 12 are both misaligned in the
// mapping: they must come back aligned, with the file's values (the typed reads below are what
// UBSan would flag on misaligned data).
BOOST_AUTO_TEST_CASE(misaligned_tensor_data_is_read_from_an_aligned_copy) {
  test::TempDir dir("misaligned");
  const auto p = dir.path() / "odd.safetensors";
  std::string header = R"({"f":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},)"
                       R"("h":{"dtype":"BF16","shape":[2],"data_offsets":[12,16]},)"
                       R"("i":{"dtype":"I64","shape":[1],"data_offsets":[16,24]}})";
  if (header.size() % 2 == 0) header += ' ';  // 8 + odd length: the data starts at an odd address
  const float f[3] = {1.5f, -2.25f, 3.0e-3f};
  const uint16_t h[2] = {0x3f80, 0xc040};  // bf16 1.0 and -3.0
  const int64_t i = -1234567890123;
  std::string data(24, '\0');
  std::memcpy(data.data(), f, 12);
  std::memcpy(data.data() + 12, h, 4);
  std::memcpy(data.data() + 16, &i, 8);
  {
    std::ofstream out(p, std::ios::binary);
    const uint64_t len = header.size();
    out.write(reinterpret_cast<const char*>(&len), 8);
    out << header << data;
  }
  const auto file = SafetensorsFile::open(p);
  const TensorInfo& tf = file->tensors().at("f");
  const TensorInfo& th = file->tensors().at("h");
  const TensorInfo& ti = file->tensors().at("i");
  BOOST_TEST(reinterpret_cast<uintptr_t>(tf.data) % 4 == 0);
  BOOST_TEST(reinterpret_cast<uintptr_t>(th.data) % 2 == 0);
  BOOST_TEST(reinterpret_cast<uintptr_t>(ti.data) % 8 == 0);
  for (int k = 0; k < 3; ++k) BOOST_TEST(static_cast<const float*>(tf.data)[k] == f[k]);
  BOOST_TEST(static_cast<const uint16_t*>(th.data)[0] == 0x3f80);
  BOOST_TEST(static_cast<const uint16_t*>(th.data)[1] == 0xc040);
  BOOST_TEST(static_cast<const int64_t*>(ti.data)[0] == i);
}

BOOST_AUTO_TEST_CASE(shapes_beyond_the_limits_are_refused) {
  test::TempDir dir("limits");
  const auto p = dir.path() / "big.safetensors";
  const auto open = [&] { SafetensorsFile::open(p); };
  write_raw(p, R"({"t":{"dtype":"F32","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,4]}})", 4);
  BOOST_TEST(error_says(open, "shape has 9 dimensions, at most 8 are supported"));
  write_raw(p, R"({"t":{"dtype":"F32","shape":[16777216,16777216,2],"data_offsets":[0,4]}})", 4);
  BOOST_TEST(error_says(open, "shape is absurdly large"));
  write_raw(p, R"({"t":{"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,4]}})", 4);
  BOOST_TEST(error_says(open, "shape is absurdly large"));
  write_raw(p, R"({"t":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}})", 4);
  BOOST_TEST(error_says(open, "bad dimension 1.0"));
  write_raw(p, R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[0,18446744073709551615]}})", 4);
  BOOST_TEST(error_says(open, "truncated?"));
}
