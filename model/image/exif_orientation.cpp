// A small bounds-checked reader of IFD0 rather than libexif: load_image's answer is Pillow's, and
// libexif's differs where it matters here. It requires 42 in the declared byte order (Pillow
// takes both), rewrites by default entries whose type breaks the specification, keeps the first
// of duplicate tags, and parses every directory, thumbnail and vendor maker note of the untrusted
// data to answer one tag.
#include "model/image/exif_orientation.h"

#include <array>
#include <cstring>
#include <optional>
#include <vector>

#include "model/errors.h"

namespace pio {
namespace {

// TIFF field types Pillow decodes (TiffImagePlugin's _load_dispatch), with their unit sizes.
// BYTE, ASCII and UNDEFINED decode to bytes or text, which never equal an orientation number.
enum class Kind { unsigned_int, signed_int, rational, signed_rational, float32, float64, other };
struct FieldType {
  Kind kind;
  uint32_t unit;
};
std::optional<FieldType> field_type(uint32_t type) {
  switch (type) {
    case 1: case 2: case 7: return FieldType{Kind::other, 1};  // BYTE, ASCII, UNDEFINED
    case 3: return FieldType{Kind::unsigned_int, 2};           // SHORT
    case 4: case 13: return FieldType{Kind::unsigned_int, 4};  // LONG, IFD
    case 16: return FieldType{Kind::unsigned_int, 8};          // LONG8
    case 6: return FieldType{Kind::signed_int, 1};             // SBYTE
    case 8: return FieldType{Kind::signed_int, 2};             // SSHORT
    case 9: return FieldType{Kind::signed_int, 4};             // SLONG
    case 5: return FieldType{Kind::rational, 8};
    case 10: return FieldType{Kind::signed_rational, 8};
    case 11: return FieldType{Kind::float32, 4};
    case 12: return FieldType{Kind::float64, 8};
    default: return std::nullopt;  // Pillow skips the entry
  }
}

class Tiff {
 public:
  Tiff(std::span<const uint8_t> d, bool little_endian) : d_(d), le_(little_endian) {}
  bool has(uint64_t at, uint64_t n) const { return at <= d_.size() && n <= d_.size() - at; }
  // `bytes` bytes at `at` (callers check has()), in the file's byte order.
  uint64_t uint(uint64_t at, int bytes) const {
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) {
      const uint64_t byte = d_[size_t(at) + size_t(le_ ? bytes - 1 - i : i)];
      v = (v << 8) | byte;
    }
    return v;
  }

 private:
  std::span<const uint8_t> d_;
  bool le_;
};

// The orientation a tag's first value gives, or 1 when it is not an integer in 2..8.
int orientation_of(const Tiff& t, uint64_t at, Kind kind, uint32_t unit) {
  int64_t value = 0;
  switch (kind) {
    case Kind::unsigned_int: {
      const uint64_t v = t.uint(at, int(unit));
      value = v > 8 ? 0 : int64_t(v);
      break;
    }
    case Kind::signed_int: {
      const uint64_t v = t.uint(at, int(unit));
      const uint64_t sign = uint64_t(1) << (8 * unit - 1);
      value = (v & sign) ? -1 : int64_t(v);
      break;
    }
    case Kind::rational:
    case Kind::signed_rational: {  // a Fraction in Pillow: equal to n only when exact
      int64_t num = int64_t(t.uint(at, 4)), den = int64_t(t.uint(at + 4, 4));
      if (kind == Kind::signed_rational) {
        num = int32_t(uint32_t(num));
        den = int32_t(uint32_t(den));
      }
      value = (den != 0 && num % den == 0) ? num / den : 0;
      break;
    }
    case Kind::float32: {
      const auto bits = uint32_t(t.uint(at, 4));
      float f;
      std::memcpy(&f, &bits, sizeof f);
      value = (f >= 2 && f <= 8 && f == float(int(f))) ? int(f) : 0;
      break;
    }
    case Kind::float64: {
      const uint64_t bits = t.uint(at, 8);
      double f;
      std::memcpy(&f, &bits, sizeof f);
      value = (f >= 2 && f <= 8 && f == double(int(f))) ? int(f) : 0;
      break;
    }
    case Kind::other: break;
  }
  return value >= 2 && value <= 8 ? int(value) : 1;
}

}  // namespace

std::span<const uint8_t> strip_exif_marker(std::span<const uint8_t> exif) {
  static constexpr uint8_t kMarker[6] = {'E', 'x', 'i', 'f', 0, 0};
  if (exif.size() >= 6 && std::memcmp(exif.data(), kMarker, 6) == 0) return exif.subspan(6);
  return exif;
}

int exif_orientation(std::span<const uint8_t> tiff) {
  if (tiff.empty()) return 1;
  // Pillow's TIFF prefixes: "II" or "MM", then 42 in either byte order, or BigTIFF's 43 in the
  // declared one (which its 8-byte EXIF header reader cannot then parse).
  const auto prefix = [&](const char* p) { return tiff.size() >= 4 && std::memcmp(tiff.data(), p, 4) == 0; };
  const bool le = prefix("II*\0") || prefix("II\0*"), be = prefix("MM\0*") || prefix("MM*\0");
  if (!le && !be && !prefix("II+\0") && !prefix("MM\0+")) {
    throw NotTiffError("invalid EXIF data: not a TIFF header");
  }
  if ((!le && !be) || tiff.size() < 8) {
    throw ModelError("invalid EXIF data: BigTIFF or cut-short TIFF header");
  }
  const Tiff t(tiff, le);
  const uint64_t ifd = t.uint(4, 4);
  if (!t.has(ifd, 2)) return 1;
  const uint64_t count = t.uint(ifd, 2);
  int orientation = 1;
  for (uint64_t i = 0; i < count; ++i) {
    const uint64_t entry = ifd + 2 + 12 * i;
    if (!t.has(entry, 12)) break;  // Pillow keeps what it read before the end
    const auto type = field_type(uint32_t(t.uint(entry + 2, 2)));
    if (!type) continue;
    const uint64_t bytes = t.uint(entry + 4, 4) * type->unit;
    uint64_t value_at = entry + 8;
    if (bytes > 4) {
      value_at = t.uint(entry + 8, 4);
      if (!t.has(value_at, bytes)) break;  // Pillow stops at a value past the end
    }
    if (bytes == 0 || t.uint(entry, 2) != 0x0112) continue;
    orientation = orientation_of(t, value_at, type->kind, type->unit);
  }
  return orientation;
}

RgbImage apply_exif_orientation(RgbImage img, int orientation) {
  if (orientation < 2 || orientation > 8) return img;
  const int64_t w = img.width, h = img.height;
  // Each output pixel (x, y) reads source pixel start + x * dx + y * dy (in pixels).
  struct Walk {
    int64_t start, dx, dy;
  };
  const std::array<Walk, 7> walks{{
      {w - 1, -1, w},                  // 2: mirror left-right
      {w * h - 1, -1, -w},             // 3: rotate 180
      {(h - 1) * w, 1, -w},            // 4: mirror top-bottom
      {0, w, 1},                       // 5: transpose
      {(h - 1) * w, -w, 1},            // 6: rotate 90 clockwise
      {w * h - 1, -w, -1},             // 7: transverse
      {w - 1, w, -1},                  // 8: rotate 90 counter-clockwise
  }};
  const Walk& walk = walks[size_t(orientation - 2)];
  const bool swap = orientation >= 5;
  RgbImage out{swap ? h : w, swap ? w : h, std::vector<uint8_t>(img.pixels.size())};
  uint8_t* o = out.pixels.data();
  for (int64_t y = 0; y < out.height; ++y) {
    int64_t src = walk.start + y * walk.dy;
    for (int64_t x = 0; x < out.width; ++x, src += walk.dx, o += 3) {
      std::memcpy(o, &img.pixels[size_t(src) * 3], 3);
    }
  }
  return out;
}

}  // namespace pio
