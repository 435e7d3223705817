// Images named by a request's image_url: a data: URI (base64; DATA: in any case), or a file
// under the directory the node was started with (--allowed-media-dir), as a plain path or a
// file:///path or file://localhost/path URL (percent-encoded). No outbound fetches. Errors name
// files relative to the directory, never by their server path. Each image's header is probed before anything decodes it, so undecodable data and
// decompression bombs are refused cheaply.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace pio::http {

struct MediaPolicy {
  std::filesystem::path allowed_dir;   // empty: no file access
  uint64_t max_image_bytes = 20 << 20; // per encoded image
  int64_t max_pixels = int64_t(1) << 26;  // declared width x height, from the header
};

// The bytes of one image as the decoder takes them. Throws ApiError: 400 for a URL form that is
// not allowed (a network URL, a path without --allowed-media-dir, a path outside it (one error
// whether or not it exists), a missing file, a data: URI that is not base64 or not valid
// base64), 415 for a data: URI whose media type is not an image (image/*, application/octet-stream
// or none are taken), 413 for more than max_image_bytes, 422 for
// data that is not a PNG/JPEG/WebP/GIF/BMP image (probe_image refuses it) or whose declared
// size is over max_pixels. `param` names the field in the errors.
std::vector<uint8_t> load_image(const std::string& url, const MediaPolicy& policy, const std::string& param);

// Base64 (RFC 4648, padding optional) decoded with OpenSSL's EVP_DecodeBlock: line breaks and
// spaces anywhere are dropped (the base64 tool wraps at 76 columns), the URL-safe alphabet's
// '-' and '_' are read as '+' and '/'. Throws ApiError 400 for other characters, '=' before the
// end, or a length that cannot be base64.
std::vector<uint8_t> decode_base64(std::string_view text, const std::string& param);

}  // namespace pio::http
