// The common PNG (8-bit gray, gray+alpha, RGB or RGBA, not interlaced, well formed) decoded without
// libpng: the image data inflated in one call by libdeflate, then the rows unfiltered and put in BGR
// order here. Measured on the bench corpus' photographs (1-15 MP), this takes 45% of the time libpng and
// zlib take for the same pixels: libdeflate inflates a whole buffer 2-3 times as fast as zlib's streaming
// inflate, and the unfiltering below is branch-free. The file is in memory already, so nothing is lost by
// not streaming the inflate.
//
// The pixels must be libpng's (codec_png.cpp, OpenCV's transforms), and a file must fail where libpng
// fails. So this path takes only files it can judge completely before it tells any row: every chunk's CRC
// right, the chunks in a valid order, no critical chunk but IHDR, IDAT and IEND, no ancillary chunk over
// 1 MB (libpng warns about those over 8 MB; declined for caution), the zlib stream (Adler-32 included)
// ending exactly at the end of the image data and of the last IDAT, no match reaching beyond the window
// its header declares, every row's filter type known. Anything else (a damaged file, a palette, 16 bits,
// Adam7, extra data) is declined, and libpng decodes it as before. One difference is left, and known:
// libdeflate decodes some deflate streams that break the format where zlib stops (length symbols 286-287,
// distance symbols 30-31, more codes declared than the format has, a match with no distance code); no
// encoder writes them, so only a file damaged inside its compressed data yet with CRCs made right again
// carries them (docs/bad-inputs.md).
#include <libdeflate.h>

#include <cstring>
#include <memory>
#include <new>
#include <opencv2/imgproc.hpp>

#include "codec_internal.h"

namespace dips::codec {
namespace {

// libpng 1.6 skips, with a warning, an ancillary chunk larger than its default PNG_USER_CHUNK_MALLOC_MAX
// (8,000,000 bytes); this path declines a large one, for caution.
constexpr uint32_t kLargestAncillaryChunk = 1u << 20;
// The inflated image data is held whole beside the decoded image (libpng streams it): beyond this (a
// 178 MP RGB image, 134 MP RGBA) libpng decodes, so that the largest images allowed (--max-pixels,
// 256 MP) do not need twice their memory.
constexpr size_t kLargestInflated = size_t(512) << 20;

bool is_type(const uint8_t* type, const char* name) { return std::memcmp(type, name, 4) == 0; }

bool letters(const uint8_t* type) {
  for (int i = 0; i < 4; ++i) {
    const uint8_t c = type[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) return false;
  }
  return true;
}

struct ImageData {
  uint32_t width = 0;
  uint32_t height = 0;
  int channels = 0;  // bytes per pixel at 8 bits: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA
  std::vector<std::pair<const uint8_t*, size_t>> idat;
  size_t idat_bytes = 0;
};

int channels_of(uint8_t colour_type) {
  switch (colour_type) {
    case 0: return 1;
    case 2: return 3;
    case 4: return 2;
    case 6: return 4;
    default: return 0;  // palette (3) or invalid
  }
}

// The IHDR's fields, when this path takes them.
bool read_ihdr(const uint8_t* body, uint32_t length, ImageData* image) {
  if (length != 13) return false;
  image->width = be32(body);
  image->height = be32(body + 4);
  image->channels = channels_of(body[9]);
  const bool plain = body[8] == 8 && body[10] == 0 && body[11] == 0 && body[12] == 0;  // depth, methods, no Adam7
  return plain && image->channels > 0 && image->width > 0 && image->height > 0 && image->width <= (1u << 20) &&
         image->height <= (1u << 20);
}

// Walks the chunks up to IEND (bytes after it are never read, by libpng either).
bool read_chunks(const uint8_t* data, size_t size, ImageData* image) {
  if (size < 8 || std::memcmp(data, kPngSignature, 8) != 0) return false;
  enum { kBeforeData, kInData, kAfterData } state = kBeforeData;
  for (size_t pos = 8;;) {
    if (size - pos < 12) return false;
    const uint32_t length = be32(data + pos);
    if (length > size - pos - 12) return false;
    const uint8_t* type = data + pos + 4;
    const uint8_t* body = type + 4;
    if (!letters(type) || libdeflate_crc32(0, type, size_t(length) + 4) != be32(body + length)) return false;
    const bool critical = (type[0] & 0x20) == 0;
    if (pos == 8) {
      if (!is_type(type, "IHDR") || !read_ihdr(body, length, image)) return false;
    } else if (is_type(type, "IDAT")) {
      if (state == kAfterData) return false;
      state = kInData;
      image->idat.emplace_back(body, length);
      image->idat_bytes += length;
    } else {
      if (state == kInData) state = kAfterData;
      if (is_type(type, "IEND")) return state == kAfterData && length == 0;
      if (critical || length > kLargestAncillaryChunk) return false;
    }
    pos += 12 + size_t(length);
  }
}

// The zlib stream of the image data, inflated to exactly `out` (no byte short, none left over).
bool inflate(const ImageData& image, uint8_t* out, size_t out_size) {
  const uint8_t* in = image.idat.front().first;
  std::vector<uint8_t> joined;
  if (image.idat.size() > 1) {
    joined.reserve(image.idat_bytes);
    for (const auto& [bytes, length] : image.idat) joined.insert(joined.end(), bytes, bytes + length);
    in = joined.data();
  }
  // libpng has zlib use the window the stream's header declares, and zlib refuses a match reaching
  // farther back; libdeflate always allows 32 kB. A declared window smaller than 32 kB is safe only
  // when the whole image data fits in it (libpng writes such headers for small images).
  const int window_log = image.idat_bytes > 0 ? (in[0] >> 4) + 8 : 0;
  if (window_log < 15 && out_size > (size_t(1) << window_log)) return false;
  std::unique_ptr<libdeflate_decompressor, decltype(&libdeflate_free_decompressor)> inflater(
      libdeflate_alloc_decompressor(), libdeflate_free_decompressor);
  size_t consumed = 0;
  return inflater != nullptr &&
         libdeflate_zlib_decompress_ex(inflater.get(), in, image.idat_bytes, out, out_size, &consumed,
                                       nullptr) == LIBDEFLATE_SUCCESS &&
         consumed == image.idat_bytes;
}

// PNG's five filters, undone in place. B is the bytes per pixel; `above` is the previous row (unfiltered),
// or null for the first row (where the standard takes it as zeros). The left and upper-left neighbours
// of each byte are carried in locals, one per channel (the channel loops unrolled), and the function is
// not inlined into its caller: read back from memory or spilled, they cost twice the time on photographs
// (where Paeth dominates).
template <int B>
[[gnu::noinline]] void unfilter(uint8_t filter, uint8_t* row, const uint8_t* above, size_t n) {
  int a[B] = {}, c[B] = {};
  if (above == nullptr) {  // the first row: the standard takes the row above as zeros
    if (filter == 0 || filter == 2) return;
    for (size_t x = 0; x < n; x += B) {
#pragma GCC unroll 4
      for (int k = 0; k < B; ++k) {
        const int add = filter == 3 ? a[k] >> 1 : a[k];  // Average of (left, 0); Sub and Paeth: left
        a[k] = row[x + k] = uint8_t(row[x + k] + add);
      }
    }
    return;
  }
  switch (filter) {
    case 1:
      for (size_t x = 0; x < n; x += B) {
#pragma GCC unroll 4
        for (int k = 0; k < B; ++k) a[k] = row[x + k] = uint8_t(row[x + k] + a[k]);
      }
      return;
    case 2:
      for (size_t x = 0; x < n; ++x) row[x] = uint8_t(row[x] + above[x]);
      return;
    case 3:
      for (size_t x = 0; x < n; x += B) {
#pragma GCC unroll 4
        for (int k = 0; k < B; ++k) a[k] = row[x + k] = uint8_t(row[x + k] + ((a[k] + above[x + k]) >> 1));
      }
      return;
    case 4:
      for (size_t x = 0; x < n; x += B) {
#pragma GCC unroll 4
        for (int k = 0; k < B; ++k) {
          const int b = above[x + k];
          const int pa = std::abs(b - c[k]), pb = std::abs(a[k] - c[k]), pc = std::abs(a[k] + b - 2 * c[k]);
          // The standard's order of preference (a, then b, then c on ties), written so that it compiles
          // to conditional moves.
          const int near = pb < pa ? b : a[k];
          a[k] = row[x + k] = uint8_t(row[x + k] + (pc < std::min(pa, pb) ? c[k] : near));
          c[k] = b;
        }
      }
      return;
    default:  // 0, none (other values were refused before)
      return;
  }
}

void unfilter_row(int channels, uint8_t filter, uint8_t* row, const uint8_t* above, size_t n) {
  switch (channels) {
    case 1: unfilter<1>(filter, row, above, n); return;
    case 2: unfilter<2>(filter, row, above, n); return;
    case 3: unfilter<3>(filter, row, above, n); return;
    default: unfilter<4>(filter, row, above, n); return;
  }
}

// Unfiltered rows (each `pitch` bytes apart) to OpenCV's BGR: alpha dropped, gray repeated.
void to_bgr(const ImageData& image, const uint8_t* rows, size_t pitch, int count, cv::Mat out) {
  const int width = static_cast<int>(image.width);
  if (image.channels == 2) {  // no cvtColor code drops alpha from gray
    for (int y = 0; y < count; ++y) {
      const uint8_t* in = rows + size_t(y) * pitch;
      uint8_t* bgr = out.ptr<uint8_t>(y);
      for (int x = 0; x < width; ++x) bgr[3 * x] = bgr[3 * x + 1] = bgr[3 * x + 2] = in[2 * x];
    }
    return;
  }
  static constexpr int kCodes[] = {0, cv::COLOR_GRAY2BGR, 0, cv::COLOR_RGB2BGR, cv::COLOR_RGBA2BGR};
  cv::cvtColor(cv::Mat(count, width, CV_8UC(image.channels), const_cast<uint8_t*>(rows), pitch), out,
               kCodes[image.channels]);
}

}  // namespace

bool png_inflate_rows(const uint8_t* data, size_t size, int row0, int row1, cv::Mat* rows, const RowsDecoded* on_rows) {
  ImageData image;
  if (!read_chunks(data, size, &image) || row0 < 0 || row1 > static_cast<int>(image.height) || row0 >= row1) {
    return false;
  }
  // The whole stream is inflated even for a band: it must end where the image does.
  const size_t stride = size_t(image.width) * size_t(image.channels), pitch = stride + 1;
  const size_t inflated_size = pitch * image.height;
  if (inflated_size > kLargestInflated) return false;
  std::unique_ptr<uint8_t[]> buffer(new (std::nothrow) uint8_t[inflated_size]);  // not zeroed: every byte is written
  uint8_t* inflated = buffer.get();
  if (inflated == nullptr || !inflate(image, inflated, inflated_size)) return false;  // libpng needs less memory
  for (int y = 0; y < row1; ++y) {
    if (inflated[size_t(y) * pitch] > 4) return false;  // libpng: "bad adaptive filter value"
  }
  // From here on nothing can fail: rows are told as they become final, a block at a time (a block stays
  // in the cache from its unfiltering to its conversion; 16 rows of a 50 MP photograph are 400 kB).
  cv::Mat out(row1 - row0, static_cast<int>(image.width), CV_8UC3);
  constexpr int block = 16;
  const uint8_t* above = nullptr;
  for (int y0 = 0; y0 < row1; y0 += block) {
    const int y1 = std::min(row1, y0 + block);
    for (int y = y0; y < y1; ++y) {
      uint8_t* row = inflated + size_t(y) * pitch;
      unfilter_row(image.channels, row[0], row + 1, above, stride);
      above = row + 1;
    }
    const int from = std::max(y0, row0);
    if (from < y1) {
      to_bgr(image, inflated + size_t(from) * pitch + 1, pitch, y1 - from, out.rowRange(from - row0, y1 - row0));
      if (on_rows != nullptr && row0 == 0) (*on_rows)(out, y1);
    }
  }
  *rows = out;
  return true;
}

}  // namespace dips::codec
