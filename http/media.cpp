#include "http/media.h"

#include <algorithm>
#include <cctype>
#include <fstream>

#include <openssl/evp.h>

#include "http/api_error.h"
#include "http/percent_decode.h"
#include "model/errors.h"
#include "model/image/image_probe.h"

namespace pio::http {
namespace {

// Whether `s` starts with `prefix`, ignoring ASCII case (URL schemes are case-insensitive).
bool starts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), s.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
         });
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The path of a file:// URL: file:///abs/path or file://localhost/abs/path, percent-decoded.
std::string file_url_path(std::string_view url, const std::string& param) {
  std::string_view rest = url.substr(7);
  if (starts_with(rest, "localhost/")) rest.remove_prefix(9);
  if (rest.empty() || rest.front() != '/')
    throw ApiError(400, "a file:// URL names a file on this machine: file:///path or file://localhost/path", param);
  auto path = percent_decoded(rest);
  if (!path)
    throw ApiError(400, "the file:// URL has a bad escape: a '%' not followed by two hex digits, or an encoded NUL byte",
                   param);
  return std::move(*path);
}

// Whether `path` is `root` or under it, component by component (so /media2 is not in /media).
bool within(const std::filesystem::path& root, const std::filesystem::path& path) {
  auto r = root.begin();
  for (auto p = path.begin(); r != root.end() && p != path.end(); ++r, ++p)
    if (*r != *p) return false;
  return r == root.end();
}

// The canonical path of `name` (relative names are taken under `dir`) if it is a file inside
// `dir`, and how errors name it (relative to `dir`: no server path is ever printed). A name
// outside `dir` gets one error whether or not it exists: it is refused before the file system
// is asked.
std::filesystem::path inside(const std::filesystem::path& dir, const std::string& name, const std::string& param,
                             std::string& shown) {
  const std::string outside = "the image path is outside the allowed media directory (--allowed-media-dir)";
  std::error_code ec;
  const auto root = std::filesystem::canonical(dir, ec);
  if (ec) throw ApiError(500, "the node's allowed media directory cannot be read", param);
  const auto lexical = (root / name).lexically_normal();  // root / absolute = absolute
  if (!within(root, lexical)) throw ApiError(400, outside, param);
  shown = excerpt(lexical.lexically_relative(root).string());
  const auto path = std::filesystem::canonical(lexical, ec);
  if (ec) throw ApiError(400, "no image " + shown + " in the allowed media directory", param);
  if (!within(root, path)) throw ApiError(400, outside, param);  // a link out of it
  return path;
}

std::vector<uint8_t> read_file(const std::filesystem::path& path, const std::string& shown, const MediaPolicy& policy,
                               const std::string& param) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw ApiError(400, shown + " is not a file", param);
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) throw ApiError(400, "cannot read " + shown, param);
  if (size > policy.max_image_bytes)
    throw ApiError(413, "the image is " + std::to_string(size) + " bytes, over the limit of " +
                            std::to_string(policy.max_image_bytes), param);
  std::vector<uint8_t> bytes(size);
  std::ifstream in(path, std::ios::binary);
  if (!in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size)))
    throw ApiError(400, "cannot read " + shown, param);
  return bytes;
}

// data:[<media type>][;<parameter>]*;base64,<data> (RFC 2397; the scheme and "base64" in any
// case). A media type other than image/*, application/octet-stream or none is refused (415).
std::vector<uint8_t> from_data_uri(std::string_view uri, const std::string& param) {
  const size_t comma = uri.find(',');
  if (comma == std::string_view::npos) throw ApiError(400, "a data: URI needs a ',' before its data", param);
  const std::string header = lower(uri.substr(5, comma - 5));
  if (header.size() < 7 || header.substr(header.size() - 7) != ";base64")
    throw ApiError(400, "only base64 data: URIs are accepted (data:image/png;base64,...)", param);
  std::string type = header.substr(0, header.find(';'));
  type.erase(0, type.find_first_not_of(' '));
  type.erase(type.find_last_not_of(' ') + 1);
  if (!type.empty() && type.rfind("image/", 0) != 0 && type != "application/octet-stream")
    throw ApiError(415, "the data: URI declares " + excerpt(type) + ", not an image (image/png, image/jpeg, ...)", param);
  return decode_base64(uri.substr(comma + 1), param);
}

}  // namespace

std::vector<uint8_t> decode_base64(std::string_view text, const std::string& param) {
  std::string padded;
  padded.reserve(text.size() + 3);
  for (const char c : text) {  // line breaks and spaces dropped; URL-safe letters read as standard ones
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    padded += c == '-' ? '+' : c == '_' ? '/' : c;
  }
  if (padded.size() % 4 == 1) throw ApiError(400, "invalid base64: its length cannot be base64", param);
  while (padded.size() % 4) padded += '=';
  // EVP_DecodeBlock reads '=' anywhere as zero bits: only at the end, so that what is decoded
  // is exactly what was sent.
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
  if (url.empty()) throw ApiError(400, "the image's url is empty (send a data: URI)", param);
  std::vector<uint8_t> bytes;
  if (starts_with(url, "data:")) {
    bytes = from_data_uri(url, param);
    if (bytes.size() > policy.max_image_bytes)
      throw ApiError(413, "the image is " + std::to_string(bytes.size()) + " bytes, over the limit of " +
                              std::to_string(policy.max_image_bytes), param);
  } else if (url.find("://") != std::string::npos && !starts_with(url, "file://")) {
    throw ApiError(400, "the node fetches nothing from the network: send the image as a data: URI", param);
  } else {
    if (policy.allowed_dir.empty())
      throw ApiError(400, "file paths are refused: the node was started without --allowed-media-dir", param);
    const std::string name = starts_with(url, "file://") ? file_url_path(url, param) : url;
    if (name.empty()) throw ApiError(400, "an empty image path", param);
    std::string shown;
    const auto path = inside(policy.allowed_dir, name, param, shown);
    bytes = read_file(path, shown, policy, param);
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
