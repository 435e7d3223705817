// JPEG through libjpeg(-turbo) directly, as Pillow's JpegDecode.c drives it: the same colour
// spaces (greyscale, RGB, and CMYK/YCCK as CMYK samples), a source that suspends at the end of
// the data (so a short file is "truncated" exactly where Pillow finds it so), and Pillow's
// Adobe-inverted CMYK to RGB conversion.
//
// libjpeg reports errors through error_exit, which must not return: it longjmps back to the
// setjmp of the step that called libjpeg. Those step functions hold no C++ object with a
// destructor, so the jump skips none; everything they touch is allocated before the step.
#include <algorithm>
#include <csetjmp>
#include <cstdio>  // jpeglib.h uses FILE
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <jpeglib.h>

#include "model/image/exif_orientation.h"
#include "model/image/image_formats.h"

namespace pio {
namespace {

// libjpeg-turbo's own limit for untrusted input (TurboJPEG's TJFLAG_LIMITSCANS): a progressive
// file may repeat scans without end, each pass over the whole coefficient buffer.
constexpr int kMaxScans = 500;

struct ErrorManager {
  jpeg_error_mgr pub;  // first: libjpeg sees a jpeg_error_mgr*
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void on_error(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

void ignore_message(j_common_ptr) {}  // warnings: Pillow's decoder drops them too

void limit_scans(j_common_ptr cinfo) {
  if (reinterpret_cast<j_decompress_ptr>(cinfo)->input_scan_number <= kMaxScans) return;
  auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
  std::snprintf(err->message, sizeof err->message, "more than %d progressive scans", kMaxScans);
  std::longjmp(err->jump, 1);
}

// The whole file is in the buffer; asking for more means it ended early: suspend, as Pillow's
// source does when its file has no more bytes.
void init_source(j_decompress_ptr) {}
boolean fill_input_buffer(j_decompress_ptr) { return FALSE; }
void skip_input_data(j_decompress_ptr cinfo, long n) {
  jpeg_source_mgr* src = cinfo->src;
  const size_t skip = n <= 0 ? 0 : std::min(size_t(n), src->bytes_in_buffer);
  src->next_input_byte += skip;
  src->bytes_in_buffer -= skip;
}
void term_source(j_decompress_ptr) {}

struct Decoder {
  jpeg_decompress_struct cinfo;
  ErrorManager err;
  jpeg_source_mgr source;
  jpeg_progress_mgr progress;
  bool created = false;
};

enum class Step { done, suspended, failed };

Step create(Decoder& d, std::span<const uint8_t> data) {
  d.cinfo.err = jpeg_std_error(&d.err.pub);
  d.err.pub.error_exit = on_error;
  d.err.pub.output_message = ignore_message;
  if (setjmp(d.err.jump)) return Step::failed;
  jpeg_create_decompress(&d.cinfo);
  d.created = true;
  d.source.next_input_byte = data.data();
  d.source.bytes_in_buffer = data.size();
  d.source.init_source = init_source;
  d.source.fill_input_buffer = fill_input_buffer;
  d.source.skip_input_data = skip_input_data;
  d.source.resync_to_restart = jpeg_resync_to_restart;
  d.source.term_source = term_source;
  d.cinfo.src = &d.source;
  d.progress.progress_monitor = limit_scans;
  d.cinfo.progress = &d.progress;
  return Step::done;
}

Step read_header(Decoder& d) {
  if (setjmp(d.err.jump)) return Step::failed;
  int status;
  do {
    status = jpeg_read_header(&d.cinfo, FALSE);
  } while (status == JPEG_HEADER_TABLES_ONLY);
  return status == JPEG_SUSPENDED ? Step::suspended : Step::done;
}

// Pillow opens 1, 3 and 4 components as L, RGB and CMYK; libjpeg converts YCbCr to RGB and YCCK
// to (Adobe-inverted) CMYK.
std::optional<J_COLOR_SPACE> output_space(int components) {
  switch (components) {
    case 1: return JCS_GRAYSCALE;
    case 3: return JCS_RGB;
    case 4: return JCS_CMYK;
    default: return std::nullopt;
  }
}

// Pillow's MULDIV255: a * b / 255, rounded, in integers.
inline int muldiv255(int a, int b) {
  const int t = a * b + 128;
  return ((t >> 8) + t) >> 8;
}

void grey_to_rgb(const uint8_t* in, uint8_t* out, JDIMENSION width) {
  for (JDIMENSION x = 0; x < width; ++x, out += 3) out[0] = out[1] = out[2] = in[x];
}
void copy_rgb(const uint8_t* in, uint8_t* out, JDIMENSION width) {
  for (JDIMENSION i = 0; i < width * 3; ++i) out[i] = in[i];
}
// Pillow reads every CMYK JPEG with rawmode "CMYK;I" (Adobe's inverted samples, whatever the
// file says), then converts with Convert.c's cmyk2rgb.
void cmyk_to_rgb(const uint8_t* in, uint8_t* out, JDIMENSION width) {
  for (JDIMENSION x = 0; x < width; ++x, in += 4, out += 3) {
    const int nk = in[3];  // 255 - (255 - K)
    for (int c = 0; c < 3; ++c) {
      const int v = nk - muldiv255(255 - in[c], nk);
      out[c] = uint8_t(v < 0 ? 0 : v);
    }
  }
}

using RowConverter = void (*)(const uint8_t*, uint8_t*, JDIMENSION);

Step read_pixels(Decoder& d, uint8_t* row, uint8_t* out, RowConverter convert) {
  if (setjmp(d.err.jump)) return Step::failed;
  if (!jpeg_start_decompress(&d.cinfo)) return Step::suspended;
  const size_t out_stride = size_t(d.cinfo.output_width) * 3;
  while (d.cinfo.output_scanline < d.cinfo.output_height) {
    const size_t y = d.cinfo.output_scanline;
    JSAMPROW rows[1] = {row};
    if (jpeg_read_scanlines(&d.cinfo, rows, 1) != 1) return Step::suspended;
    convert(row, out + y * out_stride, d.cinfo.output_width);
  }
  // Suspending here (no EOI after the last row) is accepted, as Pillow does.
  jpeg_finish_decompress(&d.cinfo);
  return Step::done;
}

void destroy(Decoder& d) {
  if (d.created) jpeg_destroy_decompress(&d.cinfo);
}

// Throws for a failed or suspended step.
void check(Step step, const Decoder& d) {
  if (step == Step::suspended) throw truncated_error(ImageFormat::jpeg);
  if (step == Step::failed) throw ModelError(std::string("cannot decode JPEG image: ") + d.err.message);
}

bool is_sof(uint8_t m) {
  // SOF0..SOF15 carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but do not.
  return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
}

}  // namespace

ImageHeader probe_jpeg(const ByteReader& b) {
  // Segments up to the first scan, as Pillow's JpegImageFile reads them: the first SOF gives
  // the size, the first APP1 that starts with "Exif\0" the EXIF data.
  std::optional<ImageHeader> frame;
  std::span<const uint8_t> exif;
  bool have_exif = false, dpi_before_exif = false;
  size_t at = 2;  // after SOI
  for (;;) {
    // Data that ends after the frame header: the size is known, the decoder reports the rest.
    if (frame && !b.has(at, 4)) break;
    if (b.u8(at) != 0xFF) throw ModelError("invalid JPEG: expected a marker");
    while (b.u8(at) == 0xFF) ++at;  // fill bytes
    const uint8_t marker = b.u8(at++);
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) continue;  // no length field
    if (marker == 0xD9 || marker == 0xDA) {
      if (!frame) throw ModelError("invalid JPEG: no frame header");
      break;
    }
    const uint32_t length = b.be16(at);
    if (length < 2) throw ModelError("invalid JPEG: bad segment length");
    if (is_sof(marker) && !frame) frame = stored_header(ImageFormat::jpeg, b.be16(at + 5), b.be16(at + 3));
    if ((marker == 0xE0 || marker == 0xE1) && !have_exif && b.has(at + 2, length - 2)) {
      const ByteReader segment(b.bytes(at + 2, length - 2), "JPEG");
      // JFIF density in dots per inch: Pillow's info["dpi"].
      if (marker == 0xE0 && segment.starts_with(0, "JFIF") && segment.has(0, 12) && segment.u8(7) == 1) {
        dpi_before_exif = true;
      }
      if (marker == 0xE1 && segment.starts_with(0, std::string_view("Exif\0", 5))) {
        exif = segment.data();
        have_exif = true;
      }
    }
    at += length;
  }
  if (!have_exif) return *frame;
  int orientation = 1;
  try {
    orientation = exif_orientation(strip_exif_marker(exif));
  } catch (const NotTiffError&) {
    // Without a JFIF dpi, Pillow reads the EXIF for one as it opens the file, and drops this
    // error; exif_transpose then finds no EXIF. With one, exif_transpose raises it.
    if (dpi_before_exif) throw;
  }
  return stored_header(ImageFormat::jpeg, frame->width, frame->height, orientation);
}

RgbImage decode_jpeg(std::span<const uint8_t> data, const ImageHeader& header) {
  Decoder d;
  struct Destroy {
    Decoder& d;
    ~Destroy() { destroy(d); }
  } destroy_on_exit{d};
  check(create(d, data), d);
  check(read_header(d), d);
  const auto space = output_space(d.cinfo.num_components);
  if (!space) {
    throw ModelError("cannot decode JPEG image with " + std::to_string(d.cinfo.num_components) +
                     " components");
  }
  d.cinfo.out_color_space = *space;
  RgbImage out = allocate_stored(header, d.cinfo.image_width, d.cinfo.image_height);
  std::vector<uint8_t> row(size_t(d.cinfo.image_width) * size_t(d.cinfo.num_components));
  const RowConverter convert = *space == JCS_GRAYSCALE ? grey_to_rgb
                               : *space == JCS_RGB     ? copy_rgb
                                                       : cmyk_to_rgb;
  check(read_pixels(d, row.data(), out.pixels.data(), convert), d);
  return out;
}

}  // namespace pio
