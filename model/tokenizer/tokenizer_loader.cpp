// load_tokenizer: picks the backend from the files a model directory holds.
#include <filesystem>

#include "model/errors.h"
#include "model/tokenizer/bpe_tokenizer.h"
#include "model/tokenizer/sentencepiece_tokenizer.h"
#include "model/tokenizer/tokenizer.h"

namespace pio {

std::unique_ptr<Tokenizer> load_tokenizer(const std::filesystem::path& model_dir) {
  if (std::filesystem::exists(model_dir / "tokenizer.json")) {
    return BpeTokenizer::load(model_dir / "tokenizer.json", model_dir / "tokenizer_config.json");
  }
  if (std::filesystem::exists(model_dir / "tokenizer.model")) {
    return std::make_unique<SentencePieceTokenizer>(model_dir / "tokenizer.model");
  }
  throw ModelError("tokenizer: " + model_dir.string() +
                   " has neither tokenizer.json nor tokenizer.model");
}

}  // namespace pio
