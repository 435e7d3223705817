// WebP, still or animated, through libwebp's demuxer and animation decoder, as Pillow 9.4 reads
// every WebP file (its WebPAnimDecoder in RGBA): the first frame on its canvas, alpha dropped.
#include <memory>
#include <string>

#include <webp/demux.h>

#include "model/image/exif_orientation.h"
#include "model/image/image_formats.h"

namespace pio {
namespace {

constexpr uint8_t kExifFlag = 0x08;  // VP8X feature flags

struct DemuxDeleter {
  void operator()(WebPDemuxer* d) const { WebPDemuxDelete(d); }
};
using Demuxer = std::unique_ptr<WebPDemuxer, DemuxDeleter>;
struct AnimDecoderDeleter {
  void operator()(WebPAnimDecoder* d) const { WebPAnimDecoderDelete(d); }
};

// The container parsed as far as the data goes; `state` says whether all of it was there.
Demuxer demux(std::span<const uint8_t> data, WebPDemuxState& state) {
  const WebPData webp{data.data(), data.size()};
  return Demuxer(WebPDemuxPartial(&webp, &state));
}

// The first EXIF chunk of an extended file whose flags announce one (libwebp's demuxer keeps
// it only then), as Pillow's get_chunk("EXIF") finds it; empty when there is none.
std::span<const uint8_t> exif_chunk(std::span<const uint8_t> data) {
  WebPDemuxState state;
  const Demuxer d = demux(data, state);
  WebPChunkIterator chunk;
  if (!d || !WebPDemuxGetChunk(d.get(), "EXIF", 1, &chunk)) return {};
  const std::span<const uint8_t> exif(chunk.chunk.bytes, chunk.chunk.size);  // inside `data`
  WebPDemuxReleaseChunkIterator(&chunk);
  return exif;
}

}  // namespace

ImageHeader probe_webp(const ByteReader& b) {
  // RIFF container; the first chunk at byte 12 is VP8 (lossy), VP8L (lossless) or VP8X (extended).
  b.need(12, 4);
  if (b.starts_with(12, "VP8 ")) {
    // Key-frame header: 3-byte tag, start code 9D 01 2A, then 14-bit width and height.
    if (b.u8(23) != 0x9D || b.u8(24) != 0x01 || b.u8(25) != 0x2A) {
      throw ModelError("invalid WebP: bad VP8 start code");
    }
    return stored_header(ImageFormat::webp, b.le16(26) & 0x3FFF, b.le16(28) & 0x3FFF);
  }
  if (b.starts_with(12, "VP8L")) {
    if (b.u8(20) != 0x2F) throw ModelError("invalid WebP: bad VP8L signature");
    const uint32_t bits = b.le32(21);  // 14 bits width-1, then 14 bits height-1
    return stored_header(ImageFormat::webp, int64_t(bits & 0x3FFF) + 1, int64_t((bits >> 14) & 0x3FFF) + 1);
  }
  if (b.starts_with(12, "VP8X")) {
    // The canvas, which holds every frame of an animation.
    const int64_t width = int64_t(b.le24(24)) + 1, height = int64_t(b.le24(27)) + 1;
    const int orientation = (b.u8(20) & kExifFlag)
                                ? exif_orientation(strip_exif_marker(exif_chunk(b.data())))
                                : 1;
    return stored_header(ImageFormat::webp, width, height, orientation);
  }
  throw ModelError("invalid WebP: unknown first chunk");
}

RgbImage decode_webp(std::span<const uint8_t> data, const ImageHeader& header) {
  WebPDemuxState state;
  const Demuxer container = demux(data, state);
  if (!container) {
    if (state == WEBP_DEMUX_PARSING_HEADER) throw truncated_error(ImageFormat::webp);
    throw ModelError("cannot decode WebP image: invalid container");
  }
  if (state != WEBP_DEMUX_DONE) throw truncated_error(ImageFormat::webp);
  // The canvas size, checked before the animation decoder allocates two canvases of it.
  RgbImage out = allocate_stored(header, WebPDemuxGetI(container.get(), WEBP_FF_CANVAS_WIDTH),
                                 WebPDemuxGetI(container.get(), WEBP_FF_CANVAS_HEIGHT));
  WebPAnimDecoderOptions options;
  if (!WebPAnimDecoderOptionsInit(&options)) {
    throw ModelError("cannot decode WebP image: libwebp version mismatch");
  }
  options.color_mode = MODE_RGBA;
  options.use_threads = 0;
  const WebPData webp{data.data(), data.size()};
  const std::unique_ptr<WebPAnimDecoder, AnimDecoderDeleter> decoder(WebPAnimDecoderNew(&webp, &options));
  if (!decoder) throw ModelError("cannot decode WebP image: invalid data");
  uint8_t* rgba = nullptr;
  int timestamp = 0;
  if (!WebPAnimDecoderGetNext(decoder.get(), &rgba, &timestamp)) {
    throw ModelError("cannot decode WebP image: corrupt frame data");
  }
  const size_t pixels = size_t(out.width * out.height);
  for (size_t i = 0; i < pixels; ++i) {
    for (size_t c = 0; c < 3; ++c) out.pixels[i * 3 + c] = rgba[i * 4 + c];
  }
  return out;
}

}  // namespace pio
