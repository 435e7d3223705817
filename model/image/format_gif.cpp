// GIF: the first frame through giflib, on a canvas as Pillow's GifImageFile builds it for
// frame 0: the logical screen grown to hold the frame, the area outside the frame filled with
// the frame's transparent index (else index 0), every index through the frame's palette (its
// local one, else the global one; past its end, or with none, grey as Pillow's palette ramp).
// convert("RGB") ignores transparency, so the transparent index shows its palette colour.
#include <algorithm>
#include <array>
#include <cstring>
#include <string>
#include <vector>

#include <gif_lib.h>

#include "model/image/image_formats.h"

namespace pio {
namespace {

constexpr uint8_t kImage = 0x2C, kExtension = 0x21, kTrailer = 0x3B, kGraphicControl = 0xF9;

struct Reader {
  std::span<const uint8_t> data;
  size_t at = 0;
  bool past_end = false;
};

int read_gif(GifFileType* gif, GifByteType* out, int n) {
  auto* r = static_cast<Reader*>(gif->UserData);
  size_t count = n < 0 ? 0 : size_t(n);
  if (count > r->data.size() - r->at) {
    r->past_end = true;  // giflib fails the short read
    count = r->data.size() - r->at;
  }
  std::memcpy(out, r->data.data() + r->at, count);
  r->at += count;
  return int(count);
}

using Palette = std::array<std::array<uint8_t, 3>, 256>;

Palette palette_of(const ColorMapObject* map) {
  Palette p;
  for (size_t i = 0; i < p.size(); ++i) p[i] = {uint8_t(i), uint8_t(i), uint8_t(i)};
  if (map) {
    for (int i = 0; i < map->ColorCount && i < 256; ++i) {
      p[size_t(i)] = {map->Colors[i].Red, map->Colors[i].Green, map->Colors[i].Blue};
    }
  }
  return p;
}

// Rows of an interlaced frame in stored order: every 8th from 0, every 8th from 4, every 4th
// from 2, every 2nd from 1.
std::vector<int> row_order(int height, bool interlaced) {
  std::vector<int> rows;
  rows.reserve(size_t(height));
  if (!interlaced) {
    for (int y = 0; y < height; ++y) rows.push_back(y);
    return rows;
  }
  constexpr int kStart[] = {0, 4, 2, 1}, kStep[] = {8, 8, 4, 2};
  for (int pass = 0; pass < 4; ++pass) {
    for (int y = kStart[pass]; y < height; y += kStep[pass]) rows.push_back(y);
  }
  return rows;
}

}  // namespace

ImageHeader probe_gif(const ByteReader& b) {
  // Blocks up to the first image descriptor, as Pillow's GifImageFile._seek(0) reads them.
  const int64_t screen_w = b.le16(6), screen_h = b.le16(8);
  const uint8_t flags = b.u8(10);
  size_t at = 13 + ((flags & 0x80) ? size_t(3) << ((flags & 7) + 1) : 0);  // global palette
  for (;;) {
    const uint8_t tag = b.u8(at++);
    if (tag == kImage) {
      const int64_t right = b.le16(at) + int64_t(b.le16(at + 4));
      const int64_t bottom = b.le16(at + 2) + int64_t(b.le16(at + 6));
      return stored_header(ImageFormat::gif, std::max(screen_w, right), std::max(screen_h, bottom));
    }
    if (tag == kTrailer) throw ModelError("invalid GIF: no image");
    if (tag == kExtension) {  // a label, then sub-blocks up to an empty one
      ++at;
      for (uint8_t n; (n = b.u8(at)) != 0;) at += size_t(n) + 1;
      ++at;
    }
    // Any other byte Pillow skips.
  }
}

RgbImage decode_gif(std::span<const uint8_t> data, const ImageHeader& header) {
  Reader reader{data};
  int error = 0;
  GifFileType* gif = DGifOpen(&reader, read_gif, &error);
  struct Close {
    GifFileType* gif;
    ~Close() {
      if (gif) DGifCloseFile(gif, nullptr);
    }
  } close_on_exit{gif};
  const auto fail = [&](int code) {
    if (reader.past_end) return truncated_error(ImageFormat::gif);
    const char* why = GifErrorString(code);
    return ModelError(std::string("cannot decode GIF image: ") + (why ? why : "unknown error"));
  };
  if (!gif) throw fail(error);

  int transparency = -1;
  for (;;) {
    GifRecordType record;
    if (DGifGetRecordType(gif, &record) == GIF_ERROR) {
      if (gif->Error == D_GIF_ERR_WRONG_RECORD) continue;  // an unknown byte, skipped as Pillow does
      throw fail(gif->Error);
    }
    if (record == TERMINATE_RECORD_TYPE) throw ModelError("invalid GIF: no image");
    if (record == IMAGE_DESC_RECORD_TYPE) break;
    int code = 0;
    GifByteType* block = nullptr;
    if (DGifGetExtension(gif, &code, &block) == GIF_ERROR) throw fail(gif->Error);
    // Graphic control: the frame's transparent index; block[0] is the sub-block's length.
    if (code == kGraphicControl && block && block[0] >= 4 && (block[1] & 1)) transparency = block[4];
    while (block) {
      if (DGifGetExtensionNext(gif, &block) == GIF_ERROR) throw fail(gif->Error);
    }
  }
  if (DGifGetImageDesc(gif) == GIF_ERROR) throw fail(gif->Error);
  const GifImageDesc& frame = gif->Image;
  RgbImage out = allocate_stored(header, std::max<int64_t>(gif->SWidth, int64_t(frame.Left) + frame.Width),
                                 std::max<int64_t>(gif->SHeight, int64_t(frame.Top) + frame.Height));
  const auto fill = GifPixelType(transparency < 0 ? 0 : transparency);
  std::vector<GifPixelType> indices(size_t(out.width * out.height), fill);
  if (frame.Width > 0) {
    for (int y : row_order(frame.Height, frame.Interlace)) {
      GifPixelType* row = &indices[size_t((int64_t(frame.Top) + y) * out.width + frame.Left)];
      if (DGifGetLine(gif, row, frame.Width) == GIF_ERROR) throw fail(gif->Error);
    }
  }
  const Palette palette = palette_of(frame.ColorMap ? frame.ColorMap : gif->SColorMap);
  for (size_t i = 0; i < indices.size(); ++i) std::memcpy(&out.pixels[i * 3], palette[indices[i]].data(), 3);
  return out;
}

}  // namespace pio
