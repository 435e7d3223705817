// PNG through libpng, with the samples mapped to RGB as Pillow's PNG modes convert("RGB"):
// low-depth grey scaled to 8 bits, 16-bit grey clipped to 255 (mode "I"), other 16-bit samples
// keep their high byte, palettes looked up (indices past the palette give grey, as Pillow's
// palette starts as a ramp), alpha and tRNS ignored.
//
// libpng reports errors through a handler that must not return: it longjmps back to the setjmp
// of the step that called libpng. Those step functions hold no C++ object with a destructor.
#include <algorithm>
#include <array>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <png.h>

#include "model/image/exif_orientation.h"
#include "model/image/image_formats.h"

namespace pio {
namespace {

struct Reader {
  std::span<const uint8_t> data;
  size_t at = 0;
  bool past_end = false;
  char message[128] = "";
};

void on_error(png_structp png, png_const_charp message) {
  auto* r = static_cast<Reader*>(png_get_error_ptr(png));
  std::snprintf(r->message, sizeof r->message, "%s", message);
  png_longjmp(png, 1);
}
void on_warning(png_structp, png_const_charp) {}

void read_data(png_structp png, png_bytep out, size_t n) {
  auto* r = static_cast<Reader*>(png_get_io_ptr(png));
  if (n > r->data.size() - r->at) {
    r->past_end = true;
    png_error(png, "read past the end");
  }
  std::memcpy(out, r->data.data() + r->at, n);
  r->at += n;
}

struct Layout {
  png_uint_32 width = 0, height = 0;
  int depth = 0, color_type = 0, interlace = 0, passes = 1;
};

// png_read_info, then unpack samples below 8 bits to one byte each, without scaling.
bool read_info(png_structp png, png_infop info, Layout& l) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_read_info(png, info);
  png_get_IHDR(png, info, &l.width, &l.height, &l.depth, &l.color_type, &l.interlace, nullptr, nullptr);
  if (l.depth < 8) png_set_packing(png);
  l.passes = png_set_interlace_handling(png);
  png_read_update_info(png, info);
  return true;
}

using Palette = std::array<std::array<uint8_t, 3>, 256>;

void convert_row(const Layout& l, const Palette& palette, const uint8_t* in, uint8_t* out) {
  const bool wide = l.depth == 16;
  const size_t sample = wide ? 2 : 1;
  for (png_uint_32 x = 0; x < l.width; ++x, out += 3) {
    switch (l.color_type) {
      case PNG_COLOR_TYPE_GRAY: {
        // Pillow: "1" and "L;2"/"L;4" scale to 0..255, "I;16B" clips when converted.
        const int v = wide ? std::min((in[2 * x] << 8) | in[2 * x + 1], 255)
                           : in[x] * (255 / ((1 << l.depth) - 1));
        out[0] = out[1] = out[2] = uint8_t(v);
        break;
      }
      case PNG_COLOR_TYPE_GRAY_ALPHA:
        out[0] = out[1] = out[2] = in[2 * sample * x];
        break;
      case PNG_COLOR_TYPE_PALETTE:
        std::memcpy(out, palette[in[x]].data(), 3);
        break;
      default: {  // RGB, RGBA: the high byte of 16-bit samples
        const size_t channels = l.color_type == PNG_COLOR_TYPE_RGB ? 3 : 4;
        for (size_t c = 0; c < 3; ++c) out[c] = in[(channels * x + c) * sample];
      }
    }
  }
}

// Non-interlaced: row by row into `row`, converted straight into `out`.
bool read_rows(png_structp png, const Layout& l, const Palette& palette, uint8_t* row, uint8_t* out) {
  if (setjmp(png_jmpbuf(png))) return false;
  for (png_uint_32 y = 0; y < l.height; ++y) {
    png_read_row(png, row, nullptr);
    convert_row(l, palette, row, out + size_t(y) * l.width * 3);
  }
  return true;
}

// Interlaced: the passes fill the whole image in `rows` first.
bool read_image(png_structp png, png_bytepp rows) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_read_image(png, rows);
  return true;
}

Palette read_palette(png_structp png, png_infop info) {
  Palette p;
  for (size_t i = 0; i < p.size(); ++i) p[i] = {uint8_t(i), uint8_t(i), uint8_t(i)};
  png_colorp entries = nullptr;
  int count = 0;
  if (png_get_PLTE(png, info, &entries, &count) != 0) {
    for (int i = 0; i < count && i < 256; ++i) {
      p[size_t(i)] = {entries[i].red, entries[i].green, entries[i].blue};
    }
  }
  return p;
}

bool is_chunk_type(std::span<const uint8_t> t) {
  for (uint8_t c : t) {
    const bool word = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    if (!word) return false;
  }
  return true;
}

}  // namespace

ImageHeader probe_png(const ByteReader& b) {
  // The first chunk must be IHDR: width and height as big-endian u32 at bytes 16 and 20.
  b.need(12, 4);
  if (!b.starts_with(12, "IHDR")) throw ModelError("invalid PNG: first chunk is not IHDR");
  const int64_t width = b.be32(16), height = b.be32(20);
  // The chunks as Pillow reads them, up to IEND or a name that is not one. A chunk whose data
  // runs past the end is truncated (Pillow: "Truncated File Read"); a cut CRC or chunk header
  // after the image data Pillow accepts. Its getexif takes the last eXIf before the image data,
  // or when there is none, the last one after it.
  std::span<const uint8_t> exif_before, exif_after;
  bool before_found = false, after_found = false, seen_idat = false;
  for (size_t at = 8; b.has(at, 8);) {
    const uint32_t length = b.be32(at);
    const auto type = b.bytes(at + 4, 4);
    if (!is_chunk_type(type) || b.starts_with(at + 4, "IEND")) break;
    if (!b.has(at + 8, length)) throw truncated_error(ImageFormat::png);
    if (b.starts_with(at + 4, "IDAT")) seen_idat = true;
    if (b.starts_with(at + 4, "eXIf")) {
      (seen_idat ? exif_after : exif_before) = b.bytes(at + 8, length);
      (seen_idat ? after_found : before_found) = true;
    }
    at += size_t(length) + 12;
  }
  const int orientation = before_found  ? exif_orientation(exif_before)
                          : after_found ? exif_orientation(exif_after)
                                        : 1;
  return stored_header(ImageFormat::png, width, height, orientation);
}

RgbImage decode_png(std::span<const uint8_t> data, const ImageHeader& header) {
  Reader reader{data};
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &reader, on_error, on_warning);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  struct Destroy {
    png_structp& png;
    png_infop& info;
    ~Destroy() { png_destroy_read_struct(&png, &info, nullptr); }
  } destroy_on_exit{png, info};
  if (!info) throw ModelError("cannot decode PNG image: out of memory");
  png_set_read_fn(png, &reader, read_data);
  // The caller bounded the size already; libpng's own default cap is 1,000,000 per side.
  png_set_user_limits(png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);

  const auto fail = [&]() {
    if (reader.past_end) return truncated_error(ImageFormat::png);
    return ModelError(std::string("cannot decode PNG image: ") + reader.message);
  };
  Layout l;
  if (!read_info(png, info, l)) throw fail();
  RgbImage out = allocate_stored(header, l.width, l.height);
  const Palette palette = read_palette(png, info);
  const size_t row_bytes = png_get_rowbytes(png, info);
  if (l.passes == 1) {
    std::vector<uint8_t> row(row_bytes);
    if (!read_rows(png, l, palette, row.data(), out.pixels.data())) throw fail();
    return out;
  }
  std::vector<uint8_t> image(row_bytes * l.height);
  std::vector<png_bytep> rows(l.height);
  for (size_t y = 0; y < rows.size(); ++y) rows[y] = image.data() + y * row_bytes;
  if (!read_image(png, rows.data())) throw fail();
  for (size_t y = 0; y < rows.size(); ++y) {
    convert_row(l, palette, rows[y], out.pixels.data() + y * l.width * 3);
  }
  return out;
}

}  // namespace pio
