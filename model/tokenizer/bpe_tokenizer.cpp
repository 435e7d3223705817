#include "model/tokenizer/bpe_tokenizer.h"

#include <fstream>

#include <nlohmann/json.hpp>

#include "model/errors.h"
#include "model/tokenizer/nfc.h"
#include "model/tokenizer/utf8.h"

namespace pio {

namespace {

using nlohmann::json;

json read_json(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ModelError("tokenizer: cannot open " + path.string());
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    throw ModelError("tokenizer: " + path.string() + " is not valid JSON: " + e.what());
  }
}

// Merges are written either as "a b" strings or, since tokenizers 0.20, as [a, b] pairs.
std::vector<std::pair<std::string, std::string>> read_merges(const json& merges) {
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(merges.size());
  for (const json& m : merges) {
    if (m.is_array() && m.size() == 2) {
      out.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
      continue;
    }
    const std::string s = m.get<std::string>();
    const std::size_t space = s.find(' ');
    if (space == std::string::npos) throw ModelError("tokenizer: malformed merge '" + s + "'");
    out.emplace_back(s.substr(0, space), s.substr(space + 1));
  }
  return out;
}

// The regex of the Split pre-tokenizer, alone or inside a Sequence next to ByteLevel.
std::string read_split_regex(const json& pre) {
  if (pre.is_object() && pre.value("type", "") == "Split") {
    if (pre.value("behavior", "") != "Isolated" || pre.value("invert", false)) {
      throw ModelError("tokenizer: only an Isolated, non-inverted Split pre-tokenizer is supported");
    }
    return pre.at("pattern").at("Regex").get<std::string>();
  }
  if (pre.is_object() && pre.value("type", "") == "Sequence") {
    for (const json& p : pre.at("pretokenizers")) {
      if (p.value("type", "") == "Split") return read_split_regex(p);
    }
  }
  throw ModelError("tokenizer: unsupported pre_tokenizer (expected a Split regex, as Qwen's)");
}

bool read_nfc(const json& normalizer) {
  if (normalizer.is_null()) return false;
  if (normalizer.value("type", "") == "NFC") return true;
  throw ModelError("tokenizer: unsupported normalizer '" + normalizer.dump() + "'");
}

// A token in tokenizer_config.json is a string or an AddedToken object.
std::optional<std::string> read_config_token(const json& config, const char* key) {
  const auto it = config.find(key);
  if (it == config.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  return it->at("content").get<std::string>();
}

}  // namespace

std::unique_ptr<BpeTokenizer> BpeTokenizer::load(const std::filesystem::path& tokenizer_json,
                                                  const std::filesystem::path& tokenizer_config) {
  const json spec = read_json(tokenizer_json);
  try {
    const json& model = spec.at("model");
    if (model.value("type", "") != "BPE") throw ModelError("tokenizer: model type is not BPE");
    if (model.value("byte_fallback", false) || model.value("ignore_merges", false)) {
      throw ModelError("tokenizer: byte_fallback and ignore_merges are unsupported");
    }
    AddedTokens added;
    for (const json& t : spec.value("added_tokens", json::array())) {
      if (t.value("lstrip", false) || t.value("rstrip", false) || t.value("single_word", false)) {
        throw ModelError("tokenizer: added token options lstrip/rstrip/single_word are unsupported");
      }
      added.add({t.at("id").get<std::int32_t>(), t.at("content").get<std::string>(),
                 t.value("special", false)});
    }
    std::optional<std::string> eos;
    if (std::filesystem::exists(tokenizer_config)) {
      eos = read_config_token(read_json(tokenizer_config), "eos_token");
    }
    return std::make_unique<BpeTokenizer>(
        model.at("vocab").get<std::unordered_map<std::string, std::int32_t>>(),
        read_merges(model.at("merges")), std::move(added),
        read_split_regex(spec.at("pre_tokenizer")), read_nfc(spec.value("normalizer", json())),
        std::move(eos));
  } catch (const json::exception& e) {
    throw ModelError("tokenizer: " + tokenizer_json.string() + ": " + e.what());
  }
}

BpeTokenizer::BpeTokenizer(std::unordered_map<std::string, std::int32_t> vocab,
                           const std::vector<std::pair<std::string, std::string>>& merges,
                           AddedTokens added, std::string_view split_regex, bool nfc,
                           std::optional<std::string> eos_token)
    : vocab_(std::move(vocab)),
      model_(vocab_, merges),
      added_(std::move(added)),
      pre_tokenizer_(split_regex),
      nfc_(nfc) {
  if (eos_token) eos_id_ = token_id(*eos_token);
}

std::vector<std::int32_t> BpeTokenizer::encode(std::string_view text, bool parse_special) const {
  std::string repaired;
  if (!utf8::is_valid(text)) {
    repaired = utf8::sanitized(text);
    text = repaired;
  }
  std::vector<std::int32_t> ids;
  ids.reserve(text.size() / 3 + 1);
  added_.encode(text, parse_special, ids,
                [this](std::string_view piece, std::vector<std::int32_t>& out) { encode_ordinary(piece, out); });
  return ids;
}

void BpeTokenizer::encode_ordinary(std::string_view text, std::vector<std::int32_t>& ids) const {
  std::string normalized;
  if (nfc_) {
    normalized = nfc(text);
    text = normalized;
  }
  std::vector<std::string_view> words;
  pre_tokenizer_.split(text, words);
  for (const std::string_view word : words) model_.encode_word(word, ids);
}

std::string_view BpeTokenizer::token_bytes(std::int32_t id, bool /*at_start*/) const {
  if (const AddedToken* t = added_.by_id(id)) return t->content;
  const std::string& bytes = model_.token_bytes(id);
  if (bytes.empty()) throw ModelError("tokenizer: token id " + std::to_string(id) + " is not in the vocabulary");
  return bytes;
}

std::optional<std::int32_t> BpeTokenizer::token_id(std::string_view token) const {
  if (auto id = added_.find(token)) return id;
  const auto it = vocab_.find(std::string(token));
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

bool BpeTokenizer::is_special(std::int32_t id) const {
  const AddedToken* t = added_.by_id(id);
  return t != nullptr && t->special;
}

std::int32_t BpeTokenizer::vocab_size() const {
  std::int32_t size = model_.id_limit();
  for (const AddedToken& t : added_.all()) size = std::max(size, t.id + 1);
  return size;
}

}  // namespace pio
