#include "storage/value_frame.h"

#include <cstring>

#include "storage/content_hash.h"

namespace pio {
namespace {

constexpr char kMagic[4] = {'P', 'I', 'O', 'C'};

// A NUL ends the key, so no split of the same bytes into key and payload checks.
uint64_t frame_checksum(std::string_view key, std::string_view payload) {
  std::string keyed(key);
  keyed.append(1, '\0');
  return checksum64(keyed, payload);
}

}  // namespace

std::string frame_value(std::string_view key, std::string_view payload) {
  std::string out(kValueFrameHeader, '\0');
  const uint32_t version = kCacheFormatVersion;
  const uint64_t length = payload.size();
  const uint64_t sum = frame_checksum(key, payload);
  std::memcpy(out.data(), kMagic, 4);
  std::memcpy(out.data() + 4, &version, 4);
  std::memcpy(out.data() + 8, &length, 8);
  std::memcpy(out.data() + 16, &sum, 8);
  out.append(payload);
  return out;
}

std::optional<std::string_view> unframe_value(std::string_view key, std::string_view framed) {
  if (framed.size() < kValueFrameHeader || std::memcmp(framed.data(), kMagic, 4) != 0) return std::nullopt;
  uint32_t version = 0;
  uint64_t length = 0, sum = 0;
  std::memcpy(&version, framed.data() + 4, 4);
  std::memcpy(&length, framed.data() + 8, 8);
  std::memcpy(&sum, framed.data() + 16, 8);
  if (version != kCacheFormatVersion || length != framed.size() - kValueFrameHeader) return std::nullopt;
  const std::string_view payload = framed.substr(kValueFrameHeader);
  if (frame_checksum(key, payload) != sum) return std::nullopt;
  return payload;
}

}  // namespace pio
