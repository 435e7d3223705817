// generation_config.json read as the HTTP API's sampling defaults (model/generation_defaults.h):
// the checkpoint maker's file (Qwen3-VL-2B-Instruct's values), absent files and fields, vLLM's
// spellings, the override flag, and clear errors.
#define BOOST_TEST_MODULE generation_defaults
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include "model/generation_defaults.h"

using namespace pio;
namespace fs = std::filesystem;

namespace {

// A directory holding generation_config.json with `text`, removed at the end.
struct ConfigDir {
  fs::path dir = fs::temp_directory_path() / ("pio-gen-" + std::to_string(::getpid()));
  explicit ConfigDir(const std::string& text) {
    fs::create_directories(dir);
    std::ofstream(dir / "generation_config.json") << text;
  }
  ~ConfigDir() { fs::remove_all(dir); }
};

std::string error_of(const std::string& text) {
  const ConfigDir d(text);
  try {
    load_generation_defaults(d.dir);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

BOOST_AUTO_TEST_CASE(qwen3_vl_instruct_file_gives_its_sampling_fields) {
  // The file as Qwen3-VL-2B-Instruct ships it (and pio make-checkpoint writes it).
  const ConfigDir d(R"({"bos_token_id": 151643, "pad_token_id": 151643, "do_sample": true,
    "eos_token_id": [151645, 151643], "top_k": 20, "top_p": 0.8, "repetition_penalty": 1.0,
    "temperature": 0.7, "transformers_version": "4.56.0"})");
  const GenerationDefaults g = load_generation_defaults(d.dir);
  BOOST_TEST(g.temperature.value() == 0.7f);
  BOOST_TEST(g.top_p.value() == 0.8f);
  BOOST_TEST(g.top_k.value() == 20);
  BOOST_TEST(g.repetition_penalty.value() == 1.0f);
  BOOST_TEST(!g.min_p.has_value());
  BOOST_TEST(!g.max_tokens.has_value());
  BOOST_TEST(g.describe() == "temperature 0.7, top_p 0.8, top_k 20, repetition_penalty 1");
}

BOOST_AUTO_TEST_CASE(absent_file_and_fields_give_no_defaults) {
  BOOST_TEST(load_generation_defaults(fs::temp_directory_path() / "pio-no-such-dir").empty());
  const ConfigDir d(R"({"do_sample": false, "eos_token_id": 151645, "temperature": null})");
  const GenerationDefaults g = load_generation_defaults(d.dir);
  BOOST_TEST(g.empty());
  BOOST_TEST(g.describe() == "none");
}

BOOST_AUTO_TEST_CASE(max_new_tokens_and_no_limit_top_k_read_as_vllm_does) {
  const ConfigDir d(R"({"max_new_tokens": 300, "top_k": -1, "min_p": 0.05})");
  const GenerationDefaults g = load_generation_defaults(d.dir);
  BOOST_TEST(g.max_tokens.value() == 300);
  BOOST_TEST(g.top_k.value() == 0);
  BOOST_TEST(g.min_p.value() == 0.05f);
}

BOOST_AUTO_TEST_CASE(bad_files_and_fields_are_errors_naming_them) {
  BOOST_TEST(error_of("{not json").find("generation_config.json: not valid JSON") != std::string::npos);
  BOOST_TEST(error_of("[1, 2]").find("not a JSON object") != std::string::npos);
  const std::string temperature = error_of(R"({"temperature": "warm"})");
  BOOST_TEST(temperature.find("temperature must be a number in [0, 1e+06], not \"warm\"") != std::string::npos, temperature);
  BOOST_TEST(error_of(R"({"top_p": 0})").find("top_p must be a number in (0, 1]") != std::string::npos);
  BOOST_TEST(error_of(R"({"top_p": 1.5})").find("top_p") != std::string::npos);
  BOOST_TEST(error_of(R"({"top_k": 2.5})").find("top_k must be an integer") != std::string::npos);
  BOOST_TEST(error_of(R"({"max_new_tokens": 0})").find("max_new_tokens must be an integer in [1, ") != std::string::npos);
  BOOST_TEST(error_of(R"({"repetition_penalty": 0})").find("repetition_penalty") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(override_lays_its_fields_over_and_refuses_unknown_ones) {
  GenerationDefaults base;
  base.temperature = 0.7f;
  base.top_k = 20;
  const GenerationDefaults g = override_generation_defaults(base, R"({"temperature": 0.2, "top_p": 0.9})");
  BOOST_TEST(g.temperature.value() == 0.2f);
  BOOST_TEST(g.top_p.value() == 0.9f);
  BOOST_TEST(g.top_k.value() == 20);
  BOOST_CHECK_EXCEPTION(override_generation_defaults(base, R"({"temprature": 0.2})"), std::runtime_error,
                        [](const std::runtime_error& e) {
                          return std::string(e.what()).find("unknown field temprature") != std::string::npos;
                        });
  BOOST_CHECK_THROW(override_generation_defaults(base, "0.2"), std::runtime_error);
  BOOST_CHECK_THROW(override_generation_defaults(base, R"({"top_k": "many"})"), std::runtime_error);
}
