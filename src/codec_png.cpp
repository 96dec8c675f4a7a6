// PNG through libpng and zlib, as OpenCV 4.6's grfmt_png.cpp drives them (the same libraries: Debian's
// imgcodecs links libpng16 and zlib), so that pixels and bytes are OpenCV's.
//
// Decoding (of the files codec_png_inflate.cpp does not take): OpenCV's transforms for an 8-bit, 3-channel result (16-bit stripped to the high byte, alpha
// stripped, palette expanded, low-bit gray expanded, BGR order, gray to BGR, interlace handled) and the
// EXIF orientation of the eXIf chunk libpng keeps before the image data. Declined (left to OpenCV):
// sizes OpenCV refuses, EXIF it cannot be predicted on, and an eXIf chunk after the image data without
// one before (OpenCV reads it after decoding; knowing it here would need the whole file decoded). Encoding: SUB filter, zlib level 1 (Z_BEST_SPEED), Z_RLE.
//
// Bands (codec.h) use the same settings. SUB filters each row on its own, so a band's rows deflate
// without any other band's: each band is a raw deflate stream cut with Z_SYNC_FLUSH (which ends on a
// byte boundary without closing the stream; the last band closes it with Z_FINISH), and the Adler-32 of
// the whole stream is combined from the bands' (adler32_combine).
//
// libpng reports errors through png_error, which must not return: it longjmps back to the setjmp of the
// function that made the call. Those functions keep no objects with destructors of their own.
#include <fmt/format.h>
#include <png.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>

#include "codec_internal.h"

namespace dips::codec {
namespace {

bool opencv_accepts_size(uint64_t width, uint64_t height) {  // as in codec_jpeg.cpp
  return width > 0 && height > 0 && width <= (1u << 20) && height <= (1u << 20) && width * height <= (1u << 30);
}

struct Reader {
  png_structp png = nullptr;
  png_infop info = nullptr;
  png_infop end_info = nullptr;  // as OpenCV: chunks after the image data go here
  const uint8_t* data = nullptr;
  size_t size = 0;
  size_t pos = 0;
  char message[200] = "";
  ~Reader() { png_destroy_read_struct(&png, &info, &end_info); }
};

[[noreturn]] void on_error(png_structp png, png_const_charp message) {
  auto* reader = static_cast<Reader*>(png_get_error_ptr(png));
  std::snprintf(reader->message, sizeof reader->message, "%s", message);
  png_longjmp(png, 1);
}

// Warnings change no pixel; OpenCV lets libpng print them, dips does not.
void on_warning(png_structp, png_const_charp) {}

void read_bytes(png_structp png, png_bytep out, png_size_t count) {
  auto* reader = static_cast<Reader*>(png_get_io_ptr(png));
  if (count > reader->size - reader->pos) png_error(png, "PNG input buffer is incomplete");  // OpenCV's words
  std::memcpy(out, reader->data + reader->pos, count);
  reader->pos += count;
}

bool open(Reader* r, const uint8_t* data, size_t size) {
  r->data = data;
  r->size = size;
  r->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, r, on_error, on_warning);
  if (r->png == nullptr) return false;
  r->info = png_create_info_struct(r->png);
  r->end_info = png_create_info_struct(r->png);
  if (r->info == nullptr || r->end_info == nullptr) return false;
  if (setjmp(png_jmpbuf(r->png)) != 0) return false;
  png_set_read_fn(r->png, r, read_bytes);
  png_read_info(r->png, r->info);
  return true;
}

// OpenCV's readData transforms for an 8-bit BGR image.
bool set_transforms(Reader* r) {
  if (setjmp(png_jmpbuf(r->png)) != 0) return false;
  const int depth = png_get_bit_depth(r->png, r->info), type = png_get_color_type(r->png, r->info);
  if (depth == 16) {
    png_set_strip_16(r->png);
  } else {
    png_set_swap(r->png);  // OpenCV's call for little-endian hosts; a no-op below 16 bits
  }
  png_set_strip_alpha(r->png);
  if (type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(r->png);
  if ((type & PNG_COLOR_MASK_COLOR) == 0 && depth < 8) png_set_expand_gray_1_2_4_to_8(r->png);
  if (type & PNG_COLOR_MASK_COLOR) {
    png_set_bgr(r->png);
  } else {
    png_set_gray_to_rgb(r->png);
  }
  png_set_interlace_handling(r->png);
  png_read_update_info(r->png, r->info);
  return true;
}

// Rows [0, discard + out->rows) of a non-interlaced image: the first `discard` into scratch; on_rows (if
// any) is told after each row of out. The end of the file is read (and judged, as OpenCV's png_read_end
// does) when the last row was.
bool read_rows(Reader* r, int discard, cv::Mat* scratch, cv::Mat* out, bool last, const RowsDecoded* on_rows) {
  if (setjmp(png_jmpbuf(r->png)) != 0) return false;
  for (int y = 0; y < discard + out->rows; ++y) {
    png_read_row(r->png, y < discard ? scratch->ptr<uint8_t>(0) : out->ptr<uint8_t>(y - discard), nullptr);
    if (on_rows != nullptr && y >= discard) (*on_rows)(*out, y + 1 - discard);
  }
  if (last) png_read_end(r->png, r->end_info);
  return true;
}

// The whole image, every pass (interlaced files).
bool read_image(Reader* r, std::vector<png_bytep>* row_pointers) {
  if (setjmp(png_jmpbuf(r->png)) != 0) return false;
  png_read_image(r->png, row_pointers->data());
  png_read_end(r->png, r->end_info);
  return true;
}

// True when a chunk named eXIf follows the first IDAT (whether or not libpng would accept it).
bool exif_after_image(const uint8_t* data, size_t size) {
  bool image_seen = false;
  for (size_t pos = 8; pos + 8 <= size;) {
    const uint32_t length = be32(data + pos);
    const uint8_t* type = data + pos + 4;
    if (std::memcmp(type, "IDAT", 4) == 0) image_seen = true;
    if (image_seen && std::memcmp(type, "eXIf", 4) == 0) return true;
    if (std::memcmp(type, "IEND", 4) == 0 || length > size) break;
    pos += 12 + size_t(length);
  }
  return false;
}

Status decode_error(const Reader& r) {
  return Status::Error(
      fmt::format("cannot decode image: corrupt, truncated or not a supported image format (libpng: {})", r.message));
}

// ------------------------------------------------------------------------------------------ encoding

struct Writer {
  png_structp png = nullptr;
  png_infop info = nullptr;
  std::vector<uint8_t>* out = nullptr;
  char message[200] = "";
  ~Writer() { png_destroy_write_struct(&png, &info); }
};

[[noreturn]] void on_write_error(png_structp png, png_const_charp message) {
  auto* writer = static_cast<Writer*>(png_get_error_ptr(png));
  std::snprintf(writer->message, sizeof writer->message, "%s", message);
  png_longjmp(png, 1);
}

void write_bytes(png_structp png, png_bytep data, png_size_t count) {
  auto* writer = static_cast<Writer*>(png_get_io_ptr(png));
  writer->out->insert(writer->out->end(), data, data + count);
}

void flush_nothing(png_structp) {}

int colour_type(int channels) {
  return channels == 1 ? PNG_COLOR_TYPE_GRAY : channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_RGB_ALPHA;
}

// OpenCV's PngEncoder::write with default parameters, for an 8-bit image of 1, 3 or 4 channels.
bool compress(Writer* w, const cv::Mat& image, std::vector<png_bytep>* row_pointers) {
  w->png = png_create_write_struct(PNG_LIBPNG_VER_STRING, w, on_write_error, on_warning);
  if (w->png == nullptr) return false;
  w->info = png_create_info_struct(w->png);
  if (w->info == nullptr) return false;
  if (setjmp(png_jmpbuf(w->png)) != 0) return false;
  png_set_write_fn(w->png, w, write_bytes, flush_nothing);
  png_set_filter(w->png, PNG_FILTER_TYPE_BASE, PNG_FILTER_SUB);
  png_set_compression_level(w->png, Z_BEST_SPEED);
  png_set_compression_strategy(w->png, Z_RLE);
  png_set_IHDR(w->png, w->info, static_cast<png_uint_32>(image.cols), static_cast<png_uint_32>(image.rows), 8,
               colour_type(image.channels()), PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(w->png, w->info);
  png_set_bgr(w->png);
  png_set_swap(w->png);
  png_write_image(w->png, row_pointers->data());
  png_write_end(w->png, w->info);
  return true;
}

// ------------------------------------------------------------------------------------------ bands

void put_be32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

void append_chunk(const char* type, const uint8_t* data, size_t size, std::vector<uint8_t>* out) {
  const size_t at = out->size();
  out->resize(at + 12 + size);
  uint8_t* p = out->data() + at;
  put_be32(p, static_cast<uint32_t>(size));
  std::memcpy(p + 4, type, 4);
  if (size > 0) std::memcpy(p + 8, data, size);
  put_be32(p + 8 + size, static_cast<uint32_t>(crc32(0, p + 4, static_cast<uInt>(4 + size))));
}

// Deflate output cut into IDAT chunks of at most kChunk bytes, each with its length and CRC.
class IdatStream {
 public:
  explicit IdatStream(std::vector<uint8_t>* out) : out_(out), scratch_(new uint8_t[kScratch]) {}
  ~IdatStream() {
    if (started_) deflateEnd(&z_);
  }
  IdatStream(const IdatStream&) = delete;
  IdatStream& operator=(const IdatStream&) = delete;

  bool init() {
    started_ = deflateInit2(&z_, Z_BEST_SPEED, Z_DEFLATED, -MAX_WBITS, 8, Z_RLE) == Z_OK;
    return started_;
  }
  // Compresses data; flush is Z_NO_FLUSH, Z_SYNC_FLUSH or Z_FINISH (which also close the open chunk).
  bool write(const uint8_t* data, size_t size, int flush) {
    z_.next_in = const_cast<uint8_t*>(data);
    z_.avail_in = static_cast<uInt>(size);
    do {  // until deflate leaves room in the output: all input taken and the flush complete
      z_.next_out = scratch_.get();
      z_.avail_out = kScratch;
      if (deflate(&z_, flush) == Z_STREAM_ERROR) return false;
      append(scratch_.get(), kScratch - z_.avail_out);
    } while (z_.avail_out == 0);
    if (flush != Z_NO_FLUSH) close_chunk();
    return true;
  }

 private:
  static constexpr size_t kChunk = 1 << 18;
  static constexpr uInt kScratch = 1 << 16;

  void append(const uint8_t* data, size_t size) {
    while (size > 0) {
      if (!open_) {
        start_ = out_->size();
        out_->resize(start_ + 8);
        open_ = true;
      }
      const size_t take = std::min(size, kChunk - (out_->size() - start_ - 8));
      out_->insert(out_->end(), data, data + take);
      data += take;
      size -= take;
      if (out_->size() - start_ - 8 == kChunk) close_chunk();
    }
  }
  void close_chunk() {
    if (!open_) return;
    const size_t length = out_->size() - start_ - 8;
    uint8_t* p = out_->data() + start_;
    put_be32(p, static_cast<uint32_t>(length));
    std::memcpy(p + 4, "IDAT", 4);
    const uint32_t crc = static_cast<uint32_t>(crc32(0, p + 4, static_cast<uInt>(4 + length)));
    out_->resize(out_->size() + 4);
    put_be32(out_->data() + out_->size() - 4, crc);
    open_ = false;
  }

  std::vector<uint8_t>* out_;
  std::unique_ptr<uint8_t[]> scratch_;
  z_stream z_{};
  bool started_ = false;
  bool open_ = false;  // a chunk's header is reserved at start_ and its data is being appended
  size_t start_ = 0;
};

// One row as libpng writes it with OpenCV's settings: filter type 1 (SUB) and the filtered bytes of the
// row in RGB(A) order: each byte minus the same channel's byte of the pixel to its left.
void filter_row(const uint8_t* bgr, int width, int channels, uint8_t* out) {
  out[0] = 1;
  uint8_t* f = out + 1;
  const auto at = [&](int x, int c) { return bgr[x * channels + (channels >= 3 && c < 3 ? 2 - c : c)]; };
  for (int c = 0; c < channels; ++c) f[c] = at(0, c);
  for (int x = 1; x < width; ++x) {
    for (int c = 0; c < channels; ++c) f[x * channels + c] = static_cast<uint8_t>(at(x, c) - at(x - 1, c));
  }
}

std::vector<uint8_t> file_header(int width, int height, int channels) {
  std::vector<uint8_t> out(kPngSignature, kPngSignature + 8);
  uint8_t ihdr[13] = {};
  put_be32(ihdr, static_cast<uint32_t>(width));
  put_be32(ihdr + 4, static_cast<uint32_t>(height));
  ihdr[8] = 8;
  ihdr[9] = static_cast<uint8_t>(colour_type(channels));  // compression, filter method, interlace: 0
  append_chunk("IHDR", ihdr, sizeof ihdr, &out);
  static const uint8_t kZlibHeader[2] = {0x78, 0x01};  // deflate, 32 KiB window, "fastest" level
  append_chunk("IDAT", kZlibHeader, 2, &out);
  return out;
}

}  // namespace

Status png_read_header(const uint8_t* data, size_t size, Header* header, bool* declined) {
  Reader r;
  if (!open(&r, data, size)) return decode_error(r);
  header->width = static_cast<int>(png_get_image_width(r.png, r.info));
  header->height = static_cast<int>(png_get_image_height(r.png, r.info));
  header->interlaced = png_get_interlace_type(r.png, r.info) != PNG_INTERLACE_NONE;
  header->orientation = 1;
  png_uint_32 exif_size = 0;
  png_bytep exif = nullptr;
  if (png_get_valid(r.png, r.info, PNG_INFO_eXIf) && png_get_eXIf_1(r.png, r.info, &exif_size, &exif) && exif_size > 0) {
    header->orientation = exif_orientation(exif, exif_size);
  } else if (exif_after_image(data, size)) {
    header->orientation = -1;
  }
  *declined = header->orientation < 0 ||
              !opencv_accepts_size(png_get_image_width(r.png, r.info), png_get_image_height(r.png, r.info));
  return Status();
}

Status png_decode_rows(const uint8_t* data, size_t size, const Header& header, int row0, int row1, cv::Mat* rows,
                       bool* declined, const RowsDecoded* on_rows) {
  *declined = false;
  if (png_inflate_rows(data, size, row0, row1, rows, on_rows)) return Status();
  Reader r;
  if (!open(&r, data, size) || !set_transforms(&r)) return decode_error(r);
  if (header.interlaced) {
    cv::Mat whole(header.height, header.width, CV_8UC3);
    std::vector<png_bytep> row_pointers(static_cast<size_t>(header.height));
    for (int y = 0; y < header.height; ++y) row_pointers[static_cast<size_t>(y)] = whole.ptr<uint8_t>(y);
    if (!read_image(&r, &row_pointers)) return decode_error(r);
    *rows = row0 == 0 && row1 == header.height ? whole : whole.rowRange(row0, row1).clone();
    return Status();
  }
  cv::Mat out(row1 - row0, header.width, CV_8UC3), scratch(1, header.width, CV_8UC3);
  if (!read_rows(&r, row0, &scratch, &out, row1 == header.height, row0 == 0 ? on_rows : nullptr)) return decode_error(r);
  *rows = out;
  return Status();
}

Status png_encode(const cv::Mat& image, std::vector<uint8_t>* bytes) {
  std::vector<png_bytep> row_pointers(static_cast<size_t>(image.rows));
  for (int y = 0; y < image.rows; ++y) row_pointers[static_cast<size_t>(y)] = const_cast<uint8_t*>(image.ptr<uint8_t>(y));
  Writer w;
  bytes->clear();
  w.out = bytes;
  if (!compress(&w, image, &row_pointers)) return Status::Error(fmt::format("libpng: {}", w.message));
  return Status();
}

Status png_encode_band(const cv::Mat& rows, int height, int row0, EncodedBand* band) {
  const int width = rows.cols, channels = rows.channels();
  const bool last = row0 + rows.rows == height;
  band->bytes = row0 == 0 ? file_header(width, height, channels) : std::vector<uint8_t>();
  IdatStream stream(&band->bytes);
  if (!stream.init()) return Status::Error("cannot encode PNG band: zlib could not start");
  const size_t row_size = 1 + size_t(width) * channels;
  std::vector<uint8_t> filtered(row_size);
  uLong adler = adler32(0, nullptr, 0);
  for (int y = 0; y < rows.rows; ++y) {
    filter_row(rows.ptr<uint8_t>(y), width, channels, filtered.data());
    adler = adler32(adler, filtered.data(), static_cast<uInt>(row_size));
    const bool end = y + 1 == rows.rows;
    if (!stream.write(filtered.data(), row_size, end ? (last ? Z_FINISH : Z_SYNC_FLUSH) : Z_NO_FLUSH)) {
      return Status::Error("cannot encode PNG band: zlib failed");
    }
  }
  band->adler32 = static_cast<uint32_t>(adler);
  band->raw_size = row_size * static_cast<uint64_t>(rows.rows);
  return Status();
}

void png_band_trailer(const std::vector<const EncodedBand*>& bands, std::vector<uint8_t>* trailer) {
  uLong adler = bands.front()->adler32;
  for (size_t i = 1; i < bands.size(); ++i) {
    adler = adler32_combine(adler, bands[i]->adler32, static_cast<z_off_t>(bands[i]->raw_size));
  }
  uint8_t checksum[4];
  put_be32(checksum, static_cast<uint32_t>(adler));
  trailer->clear();
  append_chunk("IDAT", checksum, 4, trailer);
  append_chunk("IEND", nullptr, 0, trailer);
}

}  // namespace dips::codec
