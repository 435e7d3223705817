#include "http/media.h"

#include <fstream>

#include <openssl/evp.h>

#include "http/api_error.h"
#include "model/errors.h"
#include "model/image/image_probe.h"

namespace pio::http {
namespace {

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// The canonical path of `name` (relative names are taken under `dir`) if it exists inside `dir`.
std::filesystem::path inside(const std::filesystem::path& dir, const std::string& name, const std::string& param) {
  std::error_code ec;
  const auto root = std::filesystem::canonical(dir, ec);
  if (ec) throw ApiError(400, "the allowed media directory cannot be read: " + ec.message(), param);
  const auto path = std::filesystem::canonical(root / name, ec);  // root / absolute = absolute
  if (ec) throw ApiError(400, "cannot read " + name + ": " + ec.message(), param);
  // Component by component, so that /media2 is not inside /media.
  const auto [r, p] = std::mismatch(root.begin(), root.end(), path.begin(), path.end());
  if (r != root.end()) throw ApiError(400, name + " is outside the allowed media directory", param);
  return path;
}

std::vector<uint8_t> read_file(const std::filesystem::path& path, const MediaPolicy& policy, const std::string& param) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw ApiError(400, path.string() + " is not a file", param);
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) throw ApiError(400, "cannot read " + path.string() + ": " + ec.message(), param);
  if (size > policy.max_image_bytes)
    throw ApiError(413, "the image is " + std::to_string(size) + " bytes, over the limit of " +
                            std::to_string(policy.max_image_bytes), param);
  std::vector<uint8_t> bytes(size);
  std::ifstream in(path, std::ios::binary);
  if (!in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size)))
    throw ApiError(400, "cannot read " + path.string(), param);
  return bytes;
}

std::vector<uint8_t> from_data_uri(std::string_view uri, const std::string& param) {
  const size_t comma = uri.find(',');
  if (comma == std::string_view::npos) throw ApiError(400, "a data: URI needs a ',' before its data", param);
  const std::string_view header = uri.substr(5, comma - 5);
  if (header.size() < 7 || header.substr(header.size() - 7) != ";base64")
    throw ApiError(400, "only base64 data: URIs are accepted (data:image/png;base64,...)", param);
  return decode_base64(uri.substr(comma + 1), param);
}

}  // namespace

std::vector<uint8_t> decode_base64(std::string_view text, const std::string& param) {
  std::string padded(text);
  if (padded.size() % 4 == 1) throw ApiError(400, "invalid base64: its length cannot be base64", param);
  while (padded.size() % 4) padded += '=';
  // EVP_DecodeBlock skips leading and trailing whitespace and reads '=' anywhere as zero bits:
  // allow neither, so that what is decoded is exactly what was sent.
  if (padded.find_first_of(" \t\r\n") != std::string::npos) throw ApiError(400, "invalid base64: whitespace", param);
  size_t pad = 0;
  for (size_t i = padded.size(); i > 0 && padded[i - 1] == '=' && pad < 2; --i) ++pad;
  if (padded.find('=') < padded.size() - pad) throw ApiError(400, "invalid base64: '=' before the end", param);
  std::vector<uint8_t> out(padded.size() / 4 * 3);
  const int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(padded.data()),
                                static_cast<int>(padded.size()));
  if (n < 0) throw ApiError(400, "invalid base64 data", param);
  // The count includes the bytes the padding stands for.
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

std::vector<uint8_t> load_image(const std::string& url, const MediaPolicy& policy, const std::string& param) {
  std::vector<uint8_t> bytes;
  if (starts_with(url, "data:")) {
    bytes = from_data_uri(url, param);
    if (bytes.size() > policy.max_image_bytes)
      throw ApiError(413, "the image is " + std::to_string(bytes.size()) + " bytes, over the limit of " +
                              std::to_string(policy.max_image_bytes), param);
  } else if (starts_with(url, "http://") || starts_with(url, "https://")) {
    throw ApiError(400, "the node fetches nothing from the network: send the image as a data: URI", param);
  } else {
    if (policy.allowed_dir.empty())
      throw ApiError(400, "file paths are refused: the node was started without --allowed-media-dir", param);
    const std::string name = starts_with(url, "file://") ? url.substr(7) : url;
    if (name.empty()) throw ApiError(400, "an empty image path", param);
    bytes = read_file(inside(policy.allowed_dir, name, param), policy, param);
  }
  try {
    const ImageHeader header = probe_image(bytes);
    if (header.width <= 0 || header.height <= 0 || header.width > policy.max_pixels / header.height)
      throw ApiError(422, "the image declares " + std::to_string(header.width) + "x" + std::to_string(header.height) +
                              " pixels, over the limit of " + std::to_string(policy.max_pixels), param);
  } catch (const ModelError& e) {
    throw ApiError(422, std::string("the image cannot be decoded: ") + e.what(), param);
  }
  return bytes;
}

}  // namespace pio::http
