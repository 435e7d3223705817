#include "model/tokenizer/sentencepiece_tokenizer.h"

#include <sentencepiece_processor.h>

#include "model/errors.h"
#include "model/tokenizer/utf8.h"

namespace pio {

namespace {

constexpr std::string_view kSpaceMark = "\xE2\x96\x81";    // U+2581, SentencePiece's space
constexpr std::string_view kUnknownSurface = " \xE2\x81\x87 ";  // what spm decodes <unk> to

std::string piece_to_bytes(std::string piece) {
  std::string out;
  for (std::size_t pos = 0;;) {
    const std::size_t hit = piece.find(kSpaceMark, pos);
    out.append(piece, pos, hit == std::string::npos ? std::string::npos : hit - pos);
    if (hit == std::string::npos) return out;
    out += ' ';
    pos = hit + kSpaceMark.size();
  }
}

}  // namespace

SentencePieceTokenizer::SentencePieceTokenizer(const std::filesystem::path& model_file)
    : sp_(std::make_unique<sentencepiece::SentencePieceProcessor>()) {
  const auto status = sp_->Load(model_file.string());
  if (!status.ok()) throw ModelError("tokenizer: cannot load " + model_file.string() + ": " + status.ToString());
  const int n = sp_->GetPieceSize();
  bytes_of_id_.resize(static_cast<std::size_t>(n));
  for (int id = 0; id < n; ++id) {
    std::string& bytes = bytes_of_id_[static_cast<std::size_t>(id)];
    if (sp_->IsControl(id)) {
      control_.add({id, sp_->IdToPiece(id), true});  // decodes to nothing, as spm does
    } else if (sp_->IsUnknown(id)) {
      bytes = kUnknownSurface;
    } else if (sp_->IsByte(id)) {  // <0xAB>
      bytes = static_cast<char>(std::stoi(sp_->IdToPiece(id).substr(3, 2), nullptr, 16));
    } else {
      bytes = piece_to_bytes(sp_->IdToPiece(id));
    }
  }
  // Whether the model prefixes a space to the text is only in its protobuf; one encode shows it.
  std::vector<int> probe;
  dummy_prefix_ = sp_->Encode("a", &probe).ok() && !probe.empty() &&
                  sp_->IdToPiece(probe[0]).starts_with(kSpaceMark);
}

SentencePieceTokenizer::~SentencePieceTokenizer() = default;

std::vector<std::int32_t> SentencePieceTokenizer::encode(std::string_view text,
                                                         bool parse_special) const {
  const std::string valid = utf8::sanitized(text);
  std::vector<std::int32_t> ids;
  control_.encode(valid, parse_special, ids,
                  [this](std::string_view piece, std::vector<std::int32_t>& out) { encode_ordinary(piece, out); });
  return ids;
}

void SentencePieceTokenizer::encode_ordinary(std::string_view text,
                                             std::vector<std::int32_t>& ids) const {
  std::vector<int> out;
  const auto status = sp_->Encode(absl::string_view(text.data(), text.size()), &out);
  if (!status.ok()) throw ModelError("tokenizer: SentencePiece encode failed: " + status.ToString());
  ids.insert(ids.end(), out.begin(), out.end());
}

std::string_view SentencePieceTokenizer::token_bytes(std::int32_t id, bool at_start) const {
  if (id < 0 || id >= vocab_size()) {
    throw ModelError("tokenizer: token id " + std::to_string(id) + " is not in the vocabulary");
  }
  std::string_view bytes = bytes_of_id_[static_cast<std::size_t>(id)];
  if (at_start && dummy_prefix_ && bytes.starts_with(' ')) bytes.remove_prefix(1);
  return bytes;
}

std::optional<std::int32_t> SentencePieceTokenizer::token_id(std::string_view token) const {
  const int id = sp_->PieceToId(absl::string_view(token.data(), token.size()));
  // PieceToId answers unk_id for any unknown piece; only "<unk>" itself may map there.
  if (id == sp_->unk_id() && token != sp_->IdToPiece(id)) return std::nullopt;
  return id;
}

std::int32_t SentencePieceTokenizer::vocab_size() const { return sp_->GetPieceSize(); }

bool SentencePieceTokenizer::is_special(std::int32_t id) const {
  return id >= 0 && id < vocab_size() && (sp_->IsControl(id) || sp_->IsUnknown(id));
}

std::optional<std::int32_t> SentencePieceTokenizer::eos_id() const {
  const int id = sp_->eos_id();
  return id >= 0 ? std::optional<std::int32_t>(id) : std::nullopt;
}

}  // namespace pio
