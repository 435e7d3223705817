// A bounds-checked view of encoded image bytes for the header probes: every read past the end
// is a header cut short, refused with a ModelError that says so.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include "model/errors.h"

namespace pio {

class ByteReader {
 public:
  // `format` names the format in error messages ("PNG").
  ByteReader(std::span<const uint8_t> data, const char* format) : d_(data), format_(format) {}

  size_t size() const { return d_.size(); }
  std::span<const uint8_t> data() const { return d_; }
  const char* format() const { return format_; }

  uint8_t u8(size_t at) const {
    need(at, 1);
    return d_[at];
  }
  uint32_t be16(size_t at) const { return (uint32_t(u8(at)) << 8) | u8(at + 1); }
  uint32_t be32(size_t at) const { return (be16(at) << 16) | be16(at + 2); }
  uint32_t le16(size_t at) const { return u8(at) | (uint32_t(u8(at + 1)) << 8); }
  uint32_t le24(size_t at) const { return le16(at) | (uint32_t(u8(at + 2)) << 16); }
  uint32_t le32(size_t at) const { return le16(at) | (le16(at + 2) << 16); }
  bool starts_with(size_t at, std::string_view magic) const {
    return has(at, magic.size()) && std::memcmp(d_.data() + at, magic.data(), magic.size()) == 0;
  }
  // The `n` bytes at `at`; throws when they run past the end.
  std::span<const uint8_t> bytes(size_t at, size_t n) const {
    need(at, n);
    return d_.subspan(at, n);
  }
  // Whether `n` bytes at `at` lie inside the data (no overflow for any n).
  bool has(size_t at, size_t n) const { return at <= d_.size() && n <= d_.size() - at; }
  void need(size_t at, size_t n) const {
    if (!has(at, n)) throw ModelError(std::string("truncated ") + format_ + " header");
  }

 private:
  std::span<const uint8_t> d_;
  const char* format_;
};

}  // namespace pio
