// The codec module (include/dips/codec.h) against OpenCV 4.6 itself: every decode is compared pixel for
// pixel with cv::imdecode(IMREAD_COLOR), every PNG/JPEG encode byte for byte with cv::imencode, band
// decodes with the rows of the whole decode, and band-encoded files with imencode's whole-image file.
// Test files are made here with libpng/libjpeg directly, to reach what OpenCV's encoders never write
// (palettes, low bit depths, interlacing, 4:2:2, CMYK, arithmetic coding, EXIF).
#include <catch2/catch.hpp>
#include <png.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>
#include <string>
#include <vector>

#include <jpeglib.h>

#include "dips/codec.h"
#include "dips/image_io.h"
#include "dips/job.h"
#include "codec_internal.h"  // png_inflate_rows: which files its fast path takes
#include "hostile_bytes.h"
#include "test_images.h"

namespace fs = std::filesystem;
using Catch::Contains;
using dips::Status;
using Bytes = std::vector<uint8_t>;

namespace {

constexpr int64_t kMaxPixels = 268435456;  // dips' --max-pixels default

Bytes opencv_encode(const cv::Mat& image, const std::string& ext, const std::vector<int>& params = {}) {
  Bytes bytes;
  REQUIRE(cv::imencode(ext, image, bytes, params));
  return bytes;
}

cv::Mat random_image(int rows, int cols, int type, unsigned seed) {
  cv::Mat image(rows, cols, type);
  cv::RNG rng(seed);
  rng.fill(image, cv::RNG::UNIFORM, 0, CV_MAT_DEPTH(type) == CV_16U ? 65536 : 256);
  return image;
}

void put_be32(Bytes& b, uint32_t v) {
  for (int i = 3; i >= 0; --i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

Bytes concat(const std::vector<dips::ByteRange>& parts) {
  Bytes out;
  for (const dips::ByteRange& part : parts) out.insert(out.end(), part.data, part.data + part.size);
  return out;
}

// decode_image telling its rows as they come: every row it tells is final when told (imdecode's), the
// rows are told in runs from the top, into the buffer it returns. Returns how many rows it told in all:
// the image's rows or 0 (codec.h: only a non-interlaced PNG without rotation is told).
int rows_told_while_decoding(const Bytes& bytes, const cv::Mat& expected) {
  int told = 0;
  bool final_when_told = true;
  const uint8_t* buffer = nullptr;
  cv::Mat image;
  const Status status = dips::decode_image(bytes.data(), bytes.size(), kMaxPixels, &image, [&](const cv::Mat& whole, int rows) {
    final_when_told = final_when_told && rows > told && rows <= expected.rows && whole.size() == expected.size() &&
                      dips::testing::identical(whole.rowRange(told, rows), expected.rowRange(told, rows));
    buffer = whole.data;
    told = rows;
  });
  REQUIRE(status.ok());
  REQUIRE(dips::testing::identical(image, expected));
  CHECK(final_when_told);
  if (told > 0) CHECK(buffer == image.data);
  CHECK((told == 0 || told == expected.rows));
  return told;
}

bool png_top_down(const Bytes& bytes) { return dips::decodes_top_down(bytes.data(), bytes.size()); }

// decode_image gives imdecode's pixels, and decode_rows gives the rows of that, holding nothing more, for
// the bands listed (default: a spread of starts and lengths). Returns the decoded image.
cv::Mat require_decodes_as_opencv(const Bytes& bytes, std::vector<std::pair<int, int>> bands = {}) {
  const cv::Mat expected = cv::imdecode(bytes, cv::IMREAD_COLOR);
  REQUIRE_FALSE(expected.empty());
  cv::Mat image;
  const Status status = dips::decode_image(bytes, kMaxPixels, &image);
  INFO(status.message());
  REQUIRE(status.ok());
  REQUIRE(dips::testing::identical(image, expected));
  if (!png_top_down(bytes)) CHECK(rows_told_while_decoding(bytes, expected) == 0);
  const int h = expected.rows;
  if (bands.empty()) {
    for (int row0 : {0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 48, 63, 64, h / 2, h - 17, h - 16, h - 2, h - 1}) {
      if (row0 < 0 || row0 >= h) continue;
      for (int length : {1, 2, 16, 17, 40, h}) bands.emplace_back(row0, std::min(h, row0 + length));
    }
  }
  for (auto [row0, row1] : bands) {
    INFO("rows [" << row0 << ", " << row1 << ") of " << h);
    cv::Mat rows;
    const Status band = dips::decode_rows(bytes.data(), bytes.size(), kMaxPixels, row0, row1, &rows);
    INFO(band.message());
    REQUIRE(band.ok());
    REQUIRE(dips::testing::identical(rows, expected.rowRange(row0, row1)));
    // The band holds its rows alone: no view into a larger decoded image (an interlaced PNG or a rotated
    // image is decoded whole first), which a worker would keep alive for as long as the band lives.
    CHECK(rows.datastart == rows.data);
    CHECK(static_cast<size_t>(rows.dataend - rows.datastart) == rows.total() * rows.elemSize());
  }
  return image;
}

// ------------------------------------------------------------------------------------- PNG files by hand

struct PngSpec {
  int width = 1, height = 1, colour_type = PNG_COLOR_TYPE_RGB, bit_depth = 8;
  bool interlaced = false, transparency = false;
  int filters = 0;       // libpng's PNG_FILTER_* mask; 0: libpng's default choice
  int sample_range = 256;  // 8-bit samples are drawn from [0, sample_range): small ranges make ties in Paeth
};

void png_write_to_vector(png_structp png, png_bytep data, png_size_t size) {
  auto* out = static_cast<Bytes*>(png_get_io_ptr(png));
  out->insert(out->end(), data, data + size);
}

Bytes make_png(const PngSpec& spec, unsigned seed) {
  Bytes out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  REQUIRE((png && info));
  std::mt19937 rng(seed);
  const int channels = spec.colour_type == PNG_COLOR_TYPE_GRAY ? 1 : spec.colour_type == PNG_COLOR_TYPE_GRAY_ALPHA ? 2
                       : spec.colour_type == PNG_COLOR_TYPE_RGB ? 3 : spec.colour_type == PNG_COLOR_TYPE_RGB_ALPHA ? 4 : 1;
  const size_t row_bytes = (size_t(spec.width) * channels * spec.bit_depth + 7) / 8;
  std::vector<Bytes> rows(static_cast<size_t>(spec.height), Bytes(row_bytes));
  const int palette_size = 1 << std::min(spec.bit_depth, 8);
  for (Bytes& row : rows) {
    for (uint8_t& b : row) b = static_cast<uint8_t>(rng() % (spec.bit_depth == 8 ? spec.sample_range : 256));
    if (spec.colour_type == PNG_COLOR_TYPE_PALETTE && spec.bit_depth == 8) {
      for (uint8_t& b : row) b = static_cast<uint8_t>(b % palette_size);
    }
  }
  std::vector<png_bytep> pointers;
  for (Bytes& row : rows) pointers.push_back(row.data());
  if (setjmp(png_jmpbuf(png)) != 0) FAIL("libpng failed writing a test PNG");
  png_set_write_fn(png, &out, png_write_to_vector, nullptr);
  if (spec.filters != 0) png_set_filter(png, PNG_FILTER_TYPE_BASE, spec.filters);
  png_set_IHDR(png, info, static_cast<png_uint_32>(spec.width), static_cast<png_uint_32>(spec.height), spec.bit_depth,
               spec.colour_type, spec.interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  std::vector<png_color> palette(static_cast<size_t>(palette_size));
  std::vector<png_byte> alpha(static_cast<size_t>(palette_size));
  if (spec.colour_type == PNG_COLOR_TYPE_PALETTE) {
    for (png_color& c : palette) c = png_color{uint8_t(rng()), uint8_t(rng()), uint8_t(rng())};
    png_set_PLTE(png, info, palette.data(), palette_size);
  }
  if (spec.transparency) {
    png_color_16 colour{};
    const int max = (1 << spec.bit_depth) - 1;
    colour.gray = colour.red = colour.green = colour.blue = static_cast<png_uint_16>(rng() % (max + 1));
    for (png_byte& a : alpha) a = static_cast<png_byte>(rng());
    png_set_tRNS(png, info, alpha.data(), spec.colour_type == PNG_COLOR_TYPE_PALETTE ? palette_size : 0, &colour);
  }
  png_write_info(png, info);
  png_write_image(png, pointers.data());
  png_write_end(png, info);
  png_destroy_write_struct(&png, &info);
  return out;
}

Bytes png_chunk(const char* type, const Bytes& data) {
  Bytes chunk;
  put_be32(chunk, static_cast<uint32_t>(data.size()));
  Bytes body(type, type + 4);
  body.insert(body.end(), data.begin(), data.end());
  chunk.insert(chunk.end(), body.begin(), body.end());
  put_be32(chunk, dips::testing::crc32(body.data(), body.size()));
  return chunk;
}

// Inserts a chunk right after IHDR (before_image) or right before IEND.
Bytes with_png_chunk(Bytes png, const Bytes& chunk, bool before_image) {
  const size_t at = before_image ? 33 : png.size() - 12;
  png.insert(png.begin() + static_cast<long>(at), chunk.begin(), chunk.end());
  return png;
}

// --------------------------------------------------------------------------------- EXIF data by hand

struct ExifEntry {
  uint16_t tag, type;
  uint32_t count, value;  // value: the 4-byte field, as a number in the file's byte order (SHORTs left-justified)
};

// A TIFF header and IFD0 with the given entries, then `extra` zero bytes (room for values at offsets).
Bytes exif_tiff(bool little, const std::vector<ExifEntry>& entries, size_t extra = 0) {
  Bytes b;
  const auto u16 = [&](uint32_t v) {
    little ? b.insert(b.end(), {uint8_t(v), uint8_t(v >> 8)}) : b.insert(b.end(), {uint8_t(v >> 8), uint8_t(v)});
  };
  const auto u32 = [&](uint32_t v) {
    if (little) b.insert(b.end(), {uint8_t(v), uint8_t(v >> 8), uint8_t(v >> 16), uint8_t(v >> 24)});
    else b.insert(b.end(), {uint8_t(v >> 24), uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v)});
  };
  b.insert(b.end(), little ? std::initializer_list<uint8_t>{'I', 'I'} : std::initializer_list<uint8_t>{'M', 'M'});
  u16(42);
  u32(8);
  u16(static_cast<uint32_t>(entries.size()));
  for (const ExifEntry& e : entries) {
    u16(e.tag);
    u16(e.type);
    u32(e.count);
    if (e.type == 3 && e.count == 1) {
      u16(e.value);
      u16(0);
    } else {
      u32(e.value);
    }
  }
  u32(0);
  b.resize(b.size() + extra, 0);
  return b;
}

ExifEntry orientation_entry(uint32_t value) { return ExifEntry{0x0112, 3, 1, value}; }

Bytes jpeg_app1(const Bytes& payload) {
  Bytes segment = {0xFF, 0xE1, uint8_t((payload.size() + 2) >> 8), uint8_t((payload.size() + 2) & 0xFF)};
  segment.insert(segment.end(), payload.begin(), payload.end());
  return segment;
}

Bytes exif_app1(const Bytes& tiff) {
  Bytes payload = {'E', 'x', 'i', 'f', 0, 0};
  payload.insert(payload.end(), tiff.begin(), tiff.end());
  return jpeg_app1(payload);
}

// The JPEG with segments inserted right after SOI.
Bytes with_segments(const Bytes& jpeg, const std::vector<Bytes>& segments) {
  Bytes out(jpeg.begin(), jpeg.begin() + 2);
  for (const Bytes& s : segments) out.insert(out.end(), s.begin(), s.end());
  out.insert(out.end(), jpeg.begin() + 2, jpeg.end());
  return out;
}

// An uncompressed 8-bit gray TIFF of width x height (pixels 0, 40, 80, ...) with extra SHORT tags.
Bytes gray_tiff(uint32_t width, uint32_t height, const std::vector<std::pair<uint32_t, uint32_t>>& extra_tags) {
  std::vector<std::array<uint32_t, 4>> entries = {{256, 3, 1, width}, {257, 3, 1, height}, {258, 3, 1, 8},
                                                  {259, 3, 1, 1},     {262, 3, 1, 1},      {273, 4, 1, 0},
                                                  {277, 3, 1, 1},     {278, 3, 1, height}, {279, 4, 1, width * height}};
  for (auto [tag, value] : extra_tags) entries.push_back({tag, 3, 1, value});
  std::sort(entries.begin(), entries.end());
  const uint32_t pixels = 8 + 2 + 12 * static_cast<uint32_t>(entries.size()) + 4;
  Bytes b = {'I', 'I', 42, 0, 8, 0, 0, 0};
  const auto u16 = [&](uint32_t v) { b.insert(b.end(), {uint8_t(v), uint8_t(v >> 8)}); };
  const auto u32 = [&](uint32_t v) { b.insert(b.end(), {uint8_t(v), uint8_t(v >> 8), uint8_t(v >> 16), uint8_t(v >> 24)}); };
  u16(static_cast<uint32_t>(entries.size()));
  for (auto e : entries) {
    if (e[0] == 273) e[3] = pixels;
    u16(e[0]);
    u16(e[1]);
    u32(e[2]);
    if (e[1] == 3) {
      u16(e[3]);
      u16(0);
    } else {
      u32(e[3]);
    }
  }
  u32(0);
  for (uint32_t i = 0; i < width * height; ++i) b.push_back(static_cast<uint8_t>(i * 40));
  return b;
}

// ------------------------------------------------------------------------------- JPEG files by hand

struct JpegSpec {
  int luma_h = 2, luma_v = 2;  // sampling factors of the first component (others 1x1)
  J_COLOR_SPACE colour_space = JCS_YCbCr;  // of the file
  bool progressive = false, arithmetic = false, optimize = false;
  int restart_rows = 0;
  int quality = 95;
};

struct JpegErrorTrap {
  jpeg_error_mgr pub;
  jmp_buf jump;
};

[[noreturn]] void jpeg_trap(j_common_ptr cinfo) { longjmp(reinterpret_cast<JpegErrorTrap*>(cinfo->err)->jump, 1); }

// Encodes image (8-bit BGR, gray, or 4 channels taken as CMYK) with libjpeg.
Bytes make_jpeg(const cv::Mat& image, const JpegSpec& spec) {
  jpeg_compress_struct cinfo{};
  JpegErrorTrap err{};
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = jpeg_trap;
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  if (setjmp(err.jump) != 0) {
    jpeg_destroy_compress(&cinfo);
    FAIL("libjpeg failed writing a test JPEG");
  }
  jpeg_create_compress(&cinfo);
  jpeg_mem_dest(&cinfo, &buffer, &size);
  cinfo.image_width = static_cast<JDIMENSION>(image.cols);
  cinfo.image_height = static_cast<JDIMENSION>(image.rows);
  cinfo.input_components = image.channels();
  cinfo.in_color_space = image.channels() == 1 ? JCS_GRAYSCALE : image.channels() == 3 ? JCS_EXT_BGR : JCS_CMYK;
  jpeg_set_defaults(&cinfo);
  if (image.channels() != 1) jpeg_set_colorspace(&cinfo, spec.colour_space);
  jpeg_set_quality(&cinfo, spec.quality, TRUE);
  cinfo.comp_info[0].h_samp_factor = image.channels() == 1 ? 1 : spec.luma_h;
  cinfo.comp_info[0].v_samp_factor = image.channels() == 1 ? 1 : spec.luma_v;
  cinfo.arith_code = spec.arithmetic ? TRUE : FALSE;
  cinfo.optimize_coding = spec.optimize ? TRUE : FALSE;
  cinfo.restart_in_rows = spec.restart_rows;
  if (spec.progressive) jpeg_simple_progression(&cinfo);
  jpeg_start_compress(&cinfo, TRUE);
  for (int y = 0; y < image.rows; ++y) {
    JSAMPROW row = const_cast<uint8_t*>(image.ptr<uint8_t>(y));
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  Bytes out(buffer, buffer + size);
  std::free(buffer);
  return out;
}

// OpenCV's default JPEG of image (quality 95, 4:2:0) with a restart marker after every MCU row.
Bytes opencv_jpeg_with_restarts(const cv::Mat& image) {
  JpegSpec spec;
  spec.restart_rows = 1;
  return make_jpeg(image, spec);
}

// Warnings libjpeg counts while decoding a whole file (0 for a clean file); -1 if it fails.
long libjpeg_warnings(const Bytes& bytes) {
  jpeg_decompress_struct cinfo{};
  JpegErrorTrap err{};
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = jpeg_trap;
  err.pub.output_message = [](j_common_ptr) {};
  if (setjmp(err.jump) != 0) {
    jpeg_destroy_decompress(&cinfo);
    return -1;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, bytes.data(), bytes.size());
  jpeg_read_header(&cinfo, TRUE);
  jpeg_start_decompress(&cinfo);
  Bytes row(size_t(cinfo.output_width) * cinfo.output_components);
  JSAMPROW pointer = row.data();
  while (cinfo.output_scanline < cinfo.output_height) jpeg_read_scanlines(&cinfo, &pointer, 1);
  jpeg_finish_decompress(&cinfo);
  const long warnings = err.pub.num_warnings;
  jpeg_destroy_decompress(&cinfo);
  return warnings;
}

// Warnings libpng reports while decoding a whole file (0 for a clean file); -1 if it fails.
struct PngWarnings {
  int count = 0;
  const Bytes* bytes = nullptr;
  size_t pos = 0;
};

long libpng_warnings(const Bytes& bytes) {
  PngWarnings state;
  state.bytes = &bytes;
  png_structp png = png_create_read_struct(
      PNG_LIBPNG_VER_STRING, &state, [](png_structp p, png_const_charp) { png_longjmp(p, 1); },
      [](png_structp p, png_const_charp) { ++static_cast<PngWarnings*>(png_get_error_ptr(p))->count; });
  png_infop info = png_create_info_struct(png);
  png_infop end = png_create_info_struct(png);
  std::vector<Bytes> rows;
  std::vector<png_bytep> pointers;
  if (setjmp(png_jmpbuf(png)) != 0) {
    png_destroy_read_struct(&png, &info, &end);
    return -1;
  }
  png_set_read_fn(png, &state, [](png_structp p, png_bytep out, png_size_t n) {
    auto* s = static_cast<PngWarnings*>(png_get_io_ptr(p));
    if (s->pos + n > s->bytes->size()) png_error(p, "read past the end");
    std::memcpy(out, s->bytes->data() + s->pos, n);
    s->pos += n;
  });
  png_read_info(png, info);
  rows.assign(png_get_image_height(png, info), Bytes(png_get_rowbytes(png, info)));
  for (Bytes& row : rows) pointers.push_back(row.data());
  png_read_image(png, pointers.data());
  png_read_end(png, end);
  png_destroy_read_struct(&png, &info, &end);
  return state.pos == bytes.size() ? state.count : -1;  // the whole file was read
}

}  // namespace

// ==================================================================================== decoding: PNG

TEST_CASE("PNG: every colour type, bit depth, palette, transparency and interlacing decode as imdecode", "[codec][png]") {
  struct Type {
    int colour_type;
    std::vector<int> depths;
  };
  const std::vector<Type> types = {{PNG_COLOR_TYPE_GRAY, {1, 2, 4, 8, 16}},
                                   {PNG_COLOR_TYPE_RGB, {8, 16}},
                                   {PNG_COLOR_TYPE_PALETTE, {1, 2, 4, 8}},
                                   {PNG_COLOR_TYPE_GRAY_ALPHA, {8, 16}},
                                   {PNG_COLOR_TYPE_RGB_ALPHA, {8, 16}}};
  unsigned seed = 1;
  for (const Type& type : types) {
    for (int depth : type.depths) {
      for (bool interlaced : {false, true}) {
        for (bool transparency : {false, true}) {
          if (transparency && (type.colour_type & PNG_COLOR_MASK_ALPHA)) continue;  // tRNS is not allowed there
          for (cv::Size size : {cv::Size(1, 1), cv::Size(7, 5), cv::Size(33, 70)}) {
            PngSpec spec;
            spec.width = size.width;
            spec.height = size.height;
            spec.colour_type = type.colour_type;
            spec.bit_depth = depth;
            spec.interlaced = interlaced;
            spec.transparency = transparency;
            INFO("colour type " << type.colour_type << ", " << depth << " bits, interlaced " << interlaced
                                << ", tRNS " << transparency << ", " << size);
            const Bytes png = make_png(spec, seed++);
            const cv::Mat image = require_decodes_as_opencv(png);
            CHECK(png_top_down(png) == !interlaced);
            CHECK(rows_told_while_decoding(png, image) == (interlaced ? 0 : size.height));
          }
        }
      }
    }
  }
}

// A PNG made by hand from rows already filtered: IHDR (8 bits, colour type), one zlib stream of `filtered`
// cut into IDAT chunks of `chunk` bytes, IEND.
Bytes png_from_filtered(int width, int height, int colour_type, const Bytes& filtered, size_t chunk = 1000) {
  Bytes ihdr;
  put_be32(ihdr, static_cast<uint32_t>(width));
  put_be32(ihdr, static_cast<uint32_t>(height));
  ihdr.insert(ihdr.end(), {8, static_cast<uint8_t>(colour_type), 0, 0, 0});
  uLongf deflated_size = compressBound(filtered.size());
  Bytes deflated(deflated_size);
  REQUIRE(compress2(deflated.data(), &deflated_size, filtered.data(), filtered.size(), 6) == Z_OK);
  deflated.resize(deflated_size);
  Bytes png = {137, 80, 78, 71, 13, 10, 26, 10};
  const Bytes head = png_chunk("IHDR", ihdr);
  png.insert(png.end(), head.begin(), head.end());
  for (size_t at = 0; at < deflated.size(); at += chunk) {
    const Bytes idat = png_chunk("IDAT", Bytes(deflated.begin() + long(at), deflated.begin() + long(std::min(deflated.size(), at + chunk))));
    png.insert(png.end(), idat.begin(), idat.end());
  }
  const Bytes end = png_chunk("IEND", {});
  png.insert(png.end(), end.begin(), end.end());
  return png;
}

// A gray PNG of `rows` copies of one row of `width` random bytes (filter none), its zlib stream written
// with a 32 kB window but its header declaring 2^window_log bytes: libpng's zlib then refuses any match
// reaching farther back than that.
Bytes png_declaring_window(int width, int rows, int window_log) {
  std::mt19937 rng(9);
  Bytes row(1, 0);
  for (int x = 0; x < width; ++x) row.push_back(static_cast<uint8_t>(rng()));
  Bytes filtered;
  for (int y = 0; y < rows; ++y) filtered.insert(filtered.end(), row.begin(), row.end());
  Bytes png = png_from_filtered(width, rows, PNG_COLOR_TYPE_GRAY, filtered, 1u << 20);
  const size_t zlib_at = 33 + 8;  // the one IDAT's data
  uint8_t cmf = static_cast<uint8_t>(((window_log - 8) << 4) | 8), flg = 0;
  while ((cmf * 256 + flg) % 31 != 0) ++flg;
  png[zlib_at] = cmf;
  png[zlib_at + 1] = flg;
  const uint32_t length = static_cast<uint32_t>(png.size() - 12 - 12 - 33);
  const Bytes idat = png_chunk("IDAT", Bytes(png.begin() + long(zlib_at), png.begin() + long(zlib_at + length)));
  std::copy(idat.begin(), idat.end(), png.begin() + 33);
  return png;
}

// Whether dips decodes bytes as imdecode does: both fail, or both give the same pixels.
void require_same_outcome_as_opencv(const Bytes& bytes) {
  const cv::Mat expected = cv::imdecode(bytes, cv::IMREAD_COLOR);
  cv::Mat image;
  const Status status = dips::decode_image(bytes, kMaxPixels, &image);
  INFO("imdecode " << (expected.empty() ? "fails" : "decodes") << "; dips: " << (status.ok() ? "decodes" : status.message()));
  REQUIRE(status.ok() == !expected.empty());
  if (status.ok()) REQUIRE(dips::testing::identical(image, expected));
}

bool inflate_path_takes(const Bytes& png) {
  cv::Mat rows;
  int height = 0, width = 0;
  if (!dips::sniff_image_size(png, &width, &height)) return false;
  return dips::codec::png_inflate_rows(png.data(), png.size(), 0, height, &rows, nullptr);
}

TEST_CASE("PNG: the inflate path takes 8-bit files of every colour type and filter, with imdecode's pixels", "[codec][png]") {
  const std::vector<std::pair<int, int>> filters = {{PNG_FILTER_NONE, 0}, {PNG_FILTER_SUB, 1}, {PNG_FILTER_UP, 2},
                                                    {PNG_FILTER_AVG, 3},  {PNG_FILTER_PAETH, 4}, {PNG_ALL_FILTERS, -1}};
  unsigned seed = 100;
  for (int colour_type : {PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA}) {
    for (auto [mask, filter_type] : filters) {
      for (int range : {3, 256}) {
        for (cv::Size size : {cv::Size(1, 1), cv::Size(1, 9), cv::Size(2, 3), cv::Size(61, 40)}) {
          PngSpec spec;
          spec.width = size.width;
          spec.height = size.height;
          spec.colour_type = colour_type;
          spec.filters = mask;
          spec.sample_range = range;
          INFO("colour type " << colour_type << ", filter " << filter_type << ", samples < " << range << ", " << size);
          const Bytes png = make_png(spec, seed++);
          // libpng writes each row with the filter asked for (the byte before each row of the inflated data).
          CHECK(inflate_path_takes(png));
          require_decodes_as_opencv(png, {{0, size.height}, {size.height / 2, size.height}, {0, (size.height + 1) / 2}});
          CHECK(rows_told_while_decoding(png, cv::imdecode(png, cv::IMREAD_COLOR)) == size.height);
        }
      }
    }
  }
  SECTION("a photograph, and a run of rows told is the rows decoded so far") {
    const cv::Mat photo = dips::testing::photo_like(700, 500, 3);
    const Bytes png = opencv_encode(photo, ".png");
    CHECK(inflate_path_takes(png));
    CHECK(dips::testing::identical(require_decodes_as_opencv(png), photo));
  }
}

TEST_CASE("PNG: a file the inflate path does not judge goes to libpng, which decides as for imdecode", "[codec][png]") {
  const int width = 40, height = 30, channels = 3;
  std::mt19937 rng(5);
  Bytes filtered;
  for (int y = 0; y < height; ++y) {
    filtered.push_back(static_cast<uint8_t>(y % 5));
    for (int x = 0; x < width * channels; ++x) filtered.push_back(static_cast<uint8_t>(rng() % 7));
  }
  const Bytes good = png_from_filtered(width, height, PNG_COLOR_TYPE_RGB, filtered);
  REQUIRE(inflate_path_takes(good));
  require_same_outcome_as_opencv(good);
  const size_t first_idat = 33;  // after the signature and IHDR

  SECTION("taken: bytes after IEND, which libpng never reads") {
    Bytes png = good;
    png.insert(png.end(), {1, 2, 3, 4, 5});
    CHECK(inflate_path_takes(png));
    require_same_outcome_as_opencv(png);
  }
  SECTION("taken: ancillary chunks before and after the image data, and one IDAT per byte") {
    const Bytes text = png_chunk("tEXt", Bytes{'a', 0, 'b'});
    const Bytes png = with_png_chunk(with_png_chunk(png_from_filtered(width, height, PNG_COLOR_TYPE_RGB, filtered, 1), text, true), text, false);
    CHECK(inflate_path_takes(png));
    require_same_outcome_as_opencv(png);
  }
  SECTION("taken: a small image whose header declares a window that holds all of it") {
    const Bytes png = png_declaring_window(15, 15, 8);  // 240 bytes, a 256-byte window
    CHECK(inflate_path_takes(png));
    require_same_outcome_as_opencv(png);
  }
  std::vector<std::pair<std::string, Bytes>> declined;
  declined.emplace_back("matches reaching beyond the window the zlib header declares (zlib: too far back)",
                        png_declaring_window(400, 4, 8));
  {
    Bytes png = good;
    png[first_idat + 8 + 3] ^= 0x40;  // a byte of the IDAT's data: its CRC no longer matches
    declined.emplace_back("an IDAT whose CRC is wrong (libpng: error)", png);
  }
  declined.emplace_back("an ancillary chunk whose CRC is wrong (libpng: discarded)", [&] {
    Bytes text = png_chunk("tEXt", Bytes{'a', 0, 'b'});
    text.back() ^= 1;
    return with_png_chunk(good, text, true);
  }());
  declined.emplace_back("a suggested palette in an RGB file", with_png_chunk(good, png_chunk("PLTE", Bytes(9, 7)), true));
  declined.emplace_back("an unknown critical chunk", with_png_chunk(good, png_chunk("ABCD", Bytes(4, 1)), true));
  declined.emplace_back("a chunk name that is not letters", with_png_chunk(good, png_chunk("a1cd", Bytes(4, 1)), true));
  declined.emplace_back("an ancillary chunk of more than 1 MB", with_png_chunk(good, png_chunk("zzZz", Bytes((1u << 20) + 1, 0)), true));
  declined.emplace_back("an ancillary chunk between IDATs", [&] {
    Bytes png = png_from_filtered(width, height, PNG_COLOR_TYPE_RGB, filtered, 100);
    const Bytes text = png_chunk("tEXt", Bytes{'a', 0, 'b'});
    const size_t second_idat = first_idat + 12 + 100;
    png.insert(png.begin() + long(second_idat), text.begin(), text.end());
    return png;
  }());
  declined.emplace_back("no IEND", Bytes(good.begin(), good.end() - 12));
  declined.emplace_back("a palette image without its PLTE (libpng: error)", [&] {
    Bytes indices;
    for (int y = 0; y < height; ++y) {
      indices.push_back(0);
      for (int x = 0; x < width; ++x) indices.push_back(static_cast<uint8_t>(x % 3));
    }
    return png_from_filtered(width, height, PNG_COLOR_TYPE_PALETTE, indices);
  }());
  declined.emplace_back("the file cut in the image data", Bytes(good.begin(), good.begin() + long(first_idat + 60)));
  for (int bad_filter : {5, 255}) {
    Bytes rows = filtered;
    rows[size_t(height - 1) * (width * channels + 1)] = static_cast<uint8_t>(bad_filter);
    declined.emplace_back("a last row with filter type " + std::to_string(bad_filter), png_from_filtered(width, height, PNG_COLOR_TYPE_RGB, rows));
  }
  declined.emplace_back("image data one row short", png_from_filtered(width, height, PNG_COLOR_TYPE_RGB,
                                                                       Bytes(filtered.begin(), filtered.end() - (width * channels + 1))));
  {
    Bytes rows = filtered;
    rows.insert(rows.end(), filtered.begin(), filtered.begin() + (width * channels + 1));
    declined.emplace_back("image data one row too long", png_from_filtered(width, height, PNG_COLOR_TYPE_RGB, rows));
  }
  declined.emplace_back("bytes after the zlib stream in the last IDAT", [&] {
    Bytes png = png_from_filtered(width, height, PNG_COLOR_TYPE_RGB, filtered, 1u << 20);  // one IDAT
    const uint32_t length = (uint32_t(png[first_idat]) << 24) | (png[first_idat + 1] << 16) | (png[first_idat + 2] << 8) | png[first_idat + 3];
    Bytes data(png.begin() + long(first_idat + 8), png.begin() + long(first_idat + 8 + length));
    data.insert(data.end(), {0, 0, 0});
    Bytes out(png.begin(), png.begin() + long(first_idat));
    const Bytes idat = png_chunk("IDAT", data), end = png_chunk("IEND", {});
    out.insert(out.end(), idat.begin(), idat.end());
    out.insert(out.end(), end.begin(), end.end());
    return out;
  }());
  declined.emplace_back("a wrong Adler-32 (a CRC made to match)", [&] {
    Bytes png = png_from_filtered(width, height, PNG_COLOR_TYPE_RGB, filtered, 1u << 20);
    const uint32_t length = (uint32_t(png[first_idat]) << 24) | (png[first_idat + 1] << 16) | (png[first_idat + 2] << 8) | png[first_idat + 3];
    Bytes data(png.begin() + long(first_idat + 8), png.begin() + long(first_idat + 8 + length));
    data.back() ^= 1;
    Bytes out(png.begin(), png.begin() + long(first_idat));
    const Bytes idat = png_chunk("IDAT", data), end = png_chunk("IEND", {});
    out.insert(out.end(), idat.begin(), idat.end());
    out.insert(out.end(), end.begin(), end.end());
    return out;
  }());
  for (const auto& [what, png] : declined) {
    INFO(what);
    CHECK_FALSE(inflate_path_takes(png));
    require_same_outcome_as_opencv(png);
  }
}

TEST_CASE("PNG: OpenCV's own PNGs and 16-bit values decode as imdecode", "[codec][png]") {
  for (int type : {CV_8UC1, CV_8UC3, CV_8UC4, CV_16UC1, CV_16UC3, CV_16UC4}) {
    INFO("type " << type);
    const Bytes png = opencv_encode(random_image(45, 31, type, 7), ".png");
    require_decodes_as_opencv(png);
  }
  const cv::Mat photo = dips::testing::photo_like(200, 300, 4);
  CHECK(dips::testing::identical(require_decodes_as_opencv(opencv_encode(photo, ".png")), photo));
}

TEST_CASE("PNG: the EXIF orientation of an eXIf chunk is applied as imdecode does", "[codec][png][exif]") {
  const Bytes png = opencv_encode(dips::testing::photo_like(24, 40, 3), ".png");
  for (bool little : {true, false}) {
    for (uint32_t orientation = 1; orientation <= 8; ++orientation) {
      INFO("orientation " << orientation << (little ? " II" : " MM"));
      const Bytes rotated = with_png_chunk(png, png_chunk("eXIf", exif_tiff(little, {orientation_entry(orientation)})), true);
      const cv::Mat image = require_decodes_as_opencv(rotated);
      CHECK(rows_told_while_decoding(rotated, image) == (orientation == 1 ? image.rows : 0));  // turned: whole at the end
      CHECK(image.cols == (orientation >= 5 ? 24 : 40));  // the orientation really took effect
    }
  }
  SECTION("an eXIf chunk after the image data (OpenCV applies it too), and one libpng rejects") {
    const Bytes after = with_png_chunk(png, png_chunk("eXIf", exif_tiff(true, {orientation_entry(6)})), false);
    CHECK(require_decodes_as_opencv(after).cols == 24);
    const Bytes both = with_png_chunk(with_png_chunk(png, png_chunk("eXIf", exif_tiff(true, {orientation_entry(1)})), true),
                                      png_chunk("eXIf", exif_tiff(true, {orientation_entry(6)})), false);
    CHECK(require_decodes_as_opencv(both).cols == 40);  // the one before the image data wins
    Bytes bad_order = exif_tiff(true, {orientation_entry(6)});
    bad_order[1] = 'M';  // "IM": libpng drops the chunk
    require_decodes_as_opencv(with_png_chunk(png, png_chunk("eXIf", bad_order), true));
  }
}

// ==================================================================================== decoding: JPEG

TEST_CASE("JPEG: OpenCV's JPEGs of every kind decode as imdecode, and any band of rows as the whole", "[codec][jpeg]") {
  const std::vector<std::pair<std::string, std::vector<int>>> variants = {
      {"default", {}},
      {"quality 30", {cv::IMWRITE_JPEG_QUALITY, 30}},
      {"progressive", {cv::IMWRITE_JPEG_PROGRESSIVE, 1}},
      {"optimized", {cv::IMWRITE_JPEG_OPTIMIZE, 1}},
      {"restart every 3 MCUs", {cv::IMWRITE_JPEG_RST_INTERVAL, 3}},
  };
  for (const cv::Size size : {cv::Size(1, 1), cv::Size(1, 37), cv::Size(37, 1), cv::Size(33, 47), cv::Size(250, 161)}) {
    const cv::Mat colour = dips::testing::photo_like(size.height, size.width, 11);
    cv::Mat gray;
    cv::cvtColor(colour, gray, cv::COLOR_BGR2GRAY);
    for (const auto& [name, params] : variants) {
      for (const cv::Mat* image : {&colour, static_cast<const cv::Mat*>(&gray)}) {
        INFO(name << ", " << size << ", " << image->channels() << " channels");
        require_decodes_as_opencv(opencv_encode(*image, ".jpg", params));
      }
    }
  }
}

TEST_CASE("JPEG: other samplings, RGB, CMYK, YCCK and arithmetic coding decode as imdecode", "[codec][jpeg]") {
  const cv::Mat colour = dips::testing::photo_like(83, 121, 5);
  const cv::Mat cmyk = random_image(83, 121, CV_8UC4, 9);
  struct Variant {
    std::string name;
    JpegSpec spec;
    const cv::Mat* image;
  };
  std::vector<Variant> variants;
  for (auto [h, v] : {std::pair{1, 1}, {2, 1}, {1, 2}, {2, 2}, {4, 1}, {4, 2}}) {
    for (bool progressive : {false, true}) {
      JpegSpec spec;
      spec.luma_h = h;
      spec.luma_v = v;
      spec.progressive = progressive;
      variants.push_back({"sampling " + std::to_string(h) + "x" + std::to_string(v) + (progressive ? " progressive" : ""),
                          spec, &colour});
    }
  }
  JpegSpec rgb;
  rgb.colour_space = JCS_RGB;
  rgb.luma_h = rgb.luma_v = 1;
  variants.push_back({"RGB", rgb, &colour});
  JpegSpec restarts;
  restarts.restart_rows = 1;
  variants.push_back({"restart every MCU row", restarts, &colour});
  JpegSpec arithmetic;
  arithmetic.arithmetic = true;
  variants.push_back({"arithmetic coding (left to OpenCV)", arithmetic, &colour});
  JpegSpec cmyk_spec;
  cmyk_spec.colour_space = JCS_CMYK;
  cmyk_spec.luma_h = cmyk_spec.luma_v = 1;
  variants.push_back({"CMYK (left to OpenCV)", cmyk_spec, &cmyk});
  JpegSpec ycck = cmyk_spec;
  ycck.colour_space = JCS_YCCK;
  variants.push_back({"YCCK (left to OpenCV)", ycck, &cmyk});
  for (const Variant& variant : variants) {
    INFO(variant.name);
    require_decodes_as_opencv(make_jpeg(*variant.image, variant.spec));
  }
}

TEST_CASE("JPEG: decode_rows equals the whole decode for every band start", "[codec][jpeg]") {
  // Every start row, including those right after a skipped iMCU row (where h2v2 fancy upsampling needs the
  // chroma row above), for 4:2:0, 4:2:2, 4:4:0 and gray, baseline and progressive.
  const cv::Mat colour = dips::testing::photo_like(150, 70, 21);
  cv::Mat gray;
  cv::cvtColor(colour, gray, cv::COLOR_BGR2GRAY);
  for (auto [h, v] : {std::pair{2, 2}, {2, 1}, {1, 2}, {1, 1}}) {
    for (bool progressive : {false, true}) {
      for (const cv::Mat* image : {&colour, static_cast<const cv::Mat*>(&gray)}) {
        if (image == &gray && (h != 1 || v != 1)) continue;
        JpegSpec spec;
        spec.luma_h = h;
        spec.luma_v = v;
        spec.progressive = progressive;
        INFO(h << "x" << v << (progressive ? " progressive " : " baseline ") << image->channels() << " channels");
        std::vector<std::pair<int, int>> bands;
        for (int row0 = 0; row0 < image->rows; ++row0) bands.emplace_back(row0, std::min(image->rows, row0 + 1 + row0 % 23));
        require_decodes_as_opencv(make_jpeg(*image, spec), bands);
      }
    }
  }
}

TEST_CASE("JPEG: EXIF orientation as imdecode, for EXIF well-formed or not", "[codec][jpeg][exif]") {
  const Bytes jpeg = opencv_encode(dips::testing::photo_like(24, 40, 3), ".jpg");
  for (bool little : {true, false}) {
    for (uint32_t orientation = 1; orientation <= 8; ++orientation) {
      INFO("orientation " << orientation << (little ? " II" : " MM"));
      const cv::Mat image = require_decodes_as_opencv(with_segments(jpeg, {exif_app1(exif_tiff(little, {orientation_entry(orientation)}))}));
      CHECK(image.cols == (orientation >= 5 ? 24 : 40));
    }
  }
  const std::string xmp_text = "http://ns.adobe.com/xap/1.0/";
  Bytes xmp(xmp_text.begin(), xmp_text.end());
  xmp.resize(xmp.size() + 40, 'x');
  const Bytes rotate = exif_app1(exif_tiff(true, {orientation_entry(6)}));
  struct Case {
    std::string name;
    std::vector<Bytes> segments;
    int expected_cols;  // what OpenCV 4.6 does, measured; require_decodes_as_opencv checks it is still so
  };
  const std::vector<Case> cases = {
      {"XMP before EXIF: OpenCV reads only the first APP1", {jpeg_app1(xmp), rotate}, 40},
      {"EXIF before XMP", {rotate, jpeg_app1(xmp)}, 24},
      {"a 3-letter Make inline (its bytes as an offset would be out of bounds)",
       {exif_app1(exif_tiff(false, {{0x010F, 2, 3, 0x41424300}, orientation_entry(6)}))}, 24},
      {"a Model whose text lies past the end: the parser stops before the orientation",
       {exif_app1(exif_tiff(true, {{0x0110, 2, 20, 5000}, orientation_entry(6)}))}, 40},
      {"an XResolution past the end", {exif_app1(exif_tiff(true, {{0x011A, 5, 1, 9999}, orientation_entry(6)}))}, 40},
      {"a white point half past the end (left to OpenCV)",
       {exif_app1(exif_tiff(true, {{0x013E, 5, 2, 30}, orientation_entry(6)}, 4))}, -1},
      {"a white point in bounds", {exif_app1(exif_tiff(true, {{0x013E, 5, 2, 30}, orientation_entry(6)}, 16))}, 24},
      {"orientation as a LONG, big-endian (OpenCV reads the high half: 0)",
       {exif_app1(exif_tiff(false, {{0x0112, 4, 1, 6}}))}, 40},
      {"orientation as a LONG, little-endian", {exif_app1(exif_tiff(true, {{0x0112, 4, 1, 6}}))}, 24},
      {"orientation 9", {exif_app1(exif_tiff(true, {orientation_entry(9)}))}, 40},
      {"two orientations: the first counts", {exif_app1(exif_tiff(true, {orientation_entry(6), orientation_entry(3)}))}, 24},
      {"IFD0 past the end", {exif_app1({'I', 'I', 42, 0, 0xFF, 0, 0, 0})}, 40},
      {"an APP1 of 6 bytes", {jpeg_app1({'E', 'x', 'i', 'f', 0, 0})}, 40},
      {"garbage byte order read as Motorola", {exif_app1([] {
         Bytes t = exif_tiff(false, {orientation_entry(6)});
         t[0] = 'X';
         return t;
       }())}, 24},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    const cv::Mat image = require_decodes_as_opencv(with_segments(jpeg, c.segments));
    if (c.expected_cols > 0) CHECK(image.cols == c.expected_cols);
  }
}

TEST_CASE("probe_image gives the decoded size and whether bands decode cheaply", "[codec]") {
  const cv::Mat photo = dips::testing::photo_like(24, 40, 3);
  const Bytes jpeg = opencv_encode(photo, ".jpg");
  const Bytes rotated = with_segments(jpeg, {exif_app1(exif_tiff(true, {orientation_entry(6)}))});
  struct Case {
    std::string name;
    Bytes bytes;
    int width, height;
    bool cheap;
  };
  const std::vector<Case> cases = {
      {"JPEG", jpeg, 40, 24, true},
      {"JPEG rotated by EXIF", rotated, 24, 40, false},
      {"PNG", opencv_encode(photo, ".png"), 40, 24, false},
      {"TIFF", opencv_encode(photo, ".tif"), 40, 24, false},
      {"CMYK JPEG", make_jpeg(random_image(24, 40, CV_8UC4, 1), [] {
         JpegSpec s;
         s.colour_space = JCS_CMYK;
         return s;
       }()), 40, 24, false},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    dips::ImageInfo info;
    REQUIRE(dips::probe_image(c.bytes.data(), c.bytes.size(), kMaxPixels, &info).ok());
    CHECK(info.width == c.width);
    CHECK(info.height == c.height);
    CHECK(info.cheap_rows == c.cheap);
    const cv::Mat decoded = cv::imdecode(c.bytes, cv::IMREAD_COLOR);
    CHECK(decoded.size() == cv::Size(info.width, info.height));
  }
  for (uint32_t orientation = 1; orientation <= 8; ++orientation) {  // TIFFs are turned by their Orientation tag
    const Bytes tiff = gray_tiff(3, 2, {{274, orientation}});
    INFO("TIFF orientation " << orientation);
    dips::ImageInfo info;
    REQUIRE(dips::probe_image(tiff.data(), tiff.size(), kMaxPixels, &info).ok());
    CHECK(cv::Size(info.width, info.height) == cv::imdecode(tiff, cv::IMREAD_COLOR).size());
    CHECK(info.width == (orientation >= 5 ? 2 : 3));
  }
  dips::ImageInfo info;
  CHECK_THAT(dips::probe_image(jpeg.data(), jpeg.size(), 959, &info).message(), Contains("over the limit of 959"));
  const Bytes cut(jpeg.begin(), jpeg.end() - 2);
  CHECK_THAT(dips::probe_image(cut.data(), cut.size(), kMaxPixels, &info).message(), Contains("truncated JPEG"));
}

TEST_CASE("decode_rows refuses rows outside the image and applies decode_image's checks", "[codec]") {
  const Bytes jpeg = opencv_encode(dips::testing::photo_like(24, 40, 3), ".jpg");
  const Bytes tiff = opencv_encode(dips::testing::photo_like(24, 40, 3), ".tif");
  cv::Mat rows;
  for (const Bytes* bytes : {&jpeg, &tiff}) {
    CHECK_FALSE(dips::decode_rows(bytes->data(), bytes->size(), kMaxPixels, 0, 25, &rows).ok());
    CHECK_FALSE(dips::decode_rows(bytes->data(), bytes->size(), kMaxPixels, 5, 5, &rows).ok());
    CHECK_FALSE(dips::decode_rows(bytes->data(), bytes->size(), kMaxPixels, -1, 3, &rows).ok());
    CHECK_THAT(dips::decode_rows(bytes->data(), bytes->size(), 959, 0, 1, &rows).message(), Contains("over the limit of 959"));
    REQUIRE(dips::decode_rows(bytes->data(), bytes->size(), kMaxPixels, 23, 24, &rows).ok());
    CHECK(rows.size() == cv::Size(40, 1));
  }
}

// ============================================================================ decoding: other formats

TEST_CASE("other formats decode as imdecode through OpenCV's codecs", "[codec][fallback]") {
  const cv::Mat photo = dips::testing::photo_like(37, 50, 8);  // OpenJPEG needs some size
  for (const std::string ext : {".bmp", ".tif", ".webp", ".ppm", ".pgm", ".ras", ".jp2", ".pam"}) {
    INFO(ext);
    cv::Mat image = photo;
    if (ext == ".pgm") cv::cvtColor(photo, image, cv::COLOR_BGR2GRAY);
    require_decodes_as_opencv(opencv_encode(image, ext), {{0, 37}, {5, 6}, {36, 37}});
  }
}

TEST_CASE("a multi-page TIFF is refused with its page count; thumbnails are not pages", "[codec][tiff]") {
  std::string pattern = (fs::temp_directory_path() / "dips-codec-tiff-XXXXXX").string();
  REQUIRE(::mkdtemp(pattern.data()) != nullptr);
  const fs::path file = fs::path(pattern) / "pages.tif";
  std::vector<cv::Mat> pages = {dips::testing::photo_like(20, 30, 1), dips::testing::photo_like(20, 30, 2),
                                dips::testing::photo_like(20, 30, 3)};
  REQUIRE(cv::imwritemulti(file.string(), pages));
  std::vector<uint8_t> bytes;
  REQUIRE(dips::read_file(file, 1 << 20, &bytes).ok());
  fs::remove_all(pattern);
  REQUIRE(cv::imdecode(bytes, cv::IMREAD_COLOR).size() == cv::Size(30, 20));  // OpenCV alone: page 1, silently
  cv::Mat image;
  const Status status = dips::decode_image(bytes, kMaxPixels, &image);
  REQUIRE_FALSE(status.ok());
  CHECK_THAT(status.message(), Contains("3 pages") && Contains("tiffsplit"));
  cv::Mat rows;
  CHECK(dips::decode_rows(bytes.data(), bytes.size(), kMaxPixels, 0, 1, &rows).message() == status.message());
  dips::ImageInfo info;
  CHECK(dips::probe_image(bytes.data(), bytes.size(), kMaxPixels, &info).message() == status.message());

  // Two 2x2 gray directories by hand: the second a reduced-resolution copy (NewSubfileType 1), then a page (2).
  for (uint32_t second_type : {1u, 2u}) {
    Bytes tiff = {'I', 'I', 42, 0, 8, 0, 0, 0};
    const auto u16 = [&](uint32_t v) { tiff.insert(tiff.end(), {uint8_t(v), uint8_t(v >> 8)}); };
    const auto u32 = [&](uint32_t v) { tiff.insert(tiff.end(), {uint8_t(v), uint8_t(v >> 8), uint8_t(v >> 16), uint8_t(v >> 24)}); };
    const uint32_t ifd_size = 2 + 10 * 12 + 4, first = 8, second = first + ifd_size, pixels = second + ifd_size;
    for (uint32_t ifd : {first, second}) {
      u16(10);
      const uint32_t type = ifd == first ? 0 : second_type;
      const uint32_t entries[10][4] = {{254, 4, 1, type}, {256, 3, 1, 2}, {257, 3, 1, 2}, {258, 3, 1, 8}, {259, 3, 1, 1},
                                       {262, 3, 1, 1}, {273, 4, 1, pixels}, {277, 3, 1, 1}, {278, 3, 1, 2}, {279, 4, 1, 4}};
      for (const auto& e : entries) {
        u16(e[0]);
        u16(e[1]);
        u32(e[2]);
        if (e[1] == 3) {
          u16(e[3]);
          u16(0);
        } else {
          u32(e[3]);
        }
      }
      u32(ifd == first ? second : 0);
    }
    tiff.insert(tiff.end(), {10, 80, 160, 240});
    INFO("second directory's NewSubfileType " << second_type);
    REQUIRE(cv::imdecode(tiff, cv::IMREAD_COLOR).size() == cv::Size(2, 2));
    const Status two = dips::decode_image(tiff, kMaxPixels, &image);
    if (second_type == 1) {
      INFO(two.message());
      CHECK(two.ok());
      CHECK(dips::testing::identical(image, cv::imdecode(tiff, cv::IMREAD_COLOR)));
    } else {
      CHECK_THAT(two.message(), Contains("2 pages"));
    }
  }
}

TEST_CASE("a GIF gets a message that says so", "[codec]") {
  // A valid 1x1 GIF89a (one black pixel).
  const Bytes gif = {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0x80, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0x2C, 0, 0, 0,
                     0, 1, 0, 1, 0, 0, 2, 2, 0x44, 0x01, 0, 0x3B};
  cv::Mat image;
  const Status status = dips::decode_image(gif, kMaxPixels, &image);
  CHECK(status.message() == "cannot decode image: GIF is not supported (convert it to PNG first)");
  Bytes gif87 = gif;
  gif87[4] = '7';
  CHECK(dips::decode_image(gif87, kMaxPixels, &image).message() == status.message());
}

// ==================================================================================== encoding

TEST_CASE("PNG and JPEG encodings are imencode's bytes", "[codec][encode]") {
  for (const cv::Size size : {cv::Size(1, 1), cv::Size(1, 40), cv::Size(40, 1), cv::Size(33, 17), cv::Size(300, 200)}) {
    for (int type : {CV_8UC1, CV_8UC3, CV_8UC4}) {
      const cv::Mat image = random_image(size.height, size.width, type, static_cast<unsigned>(size.area() + type));
      const cv::Mat photo = type == CV_8UC3 ? dips::testing::photo_like(size.height, size.width, 3) : image;
      for (const std::string ext : {".png", ".jpg", ".jpeg", ".jpe", ".PNG", ".JPG"}) {
        for (const cv::Mat* source : {&image, &photo}) {
          INFO(ext << " " << size << " type " << type);
          Bytes bytes;
          REQUIRE(dips::encode_image(*source, ext, &bytes).ok());
          CHECK(bytes == opencv_encode(*source, ext));
        }
      }
    }
  }
  SECTION("a region of a larger image (rows not contiguous)") {
    const cv::Mat big = dips::testing::photo_like(100, 120, 5);
    const cv::Mat region = big(cv::Rect(13, 7, 61, 45));
    for (const std::string ext : {".png", ".jpg"}) {
      Bytes bytes;
      REQUIRE(dips::encode_image(region, ext, &bytes).ok());
      CHECK(bytes == opencv_encode(region, ext));
    }
  }
}

TEST_CASE("other formats and depths encode through OpenCV's codecs", "[codec][encode][fallback]") {
  const cv::Mat photo = dips::testing::photo_like(37, 50, 8);
  for (const std::string ext : {".bmp", ".tif", ".webp", ".ppm", ".jp2"}) {
    INFO(ext);
    Bytes bytes;
    REQUIRE(dips::encode_image(photo, ext, &bytes).ok());
    CHECK(bytes == opencv_encode(photo, ext));
  }
  const cv::Mat deep = random_image(20, 30, CV_16UC3, 4);
  Bytes bytes;
  REQUIRE(dips::encode_image(deep, ".png", &bytes).ok());
  CHECK(bytes == opencv_encode(deep, ".png"));
  const Status unknown = dips::encode_image(photo, ".xyz", &bytes);
  CHECK_THAT(unknown.message(), Contains("cannot encode as '.xyz'"));
  CHECK(dips::can_encode_extension(".png"));
  CHECK(dips::can_encode_extension(".JPEG"));
  CHECK(dips::can_encode_extension(".tif"));
  CHECK(dips::can_encode_extension(".webp"));
  CHECK_FALSE(dips::can_encode_extension(".xyz"));
  CHECK_FALSE(dips::can_encode_extension(".gif"));
  CHECK(dips::load_opencv_codecs().ok());
}

// ==================================================================================== band encoding

namespace {

// Band boundaries for an image of `height` rows whose bands start on multiples of `multiple`.
std::vector<std::vector<int>> band_splits(int height, int multiple) {
  std::vector<std::vector<int>> splits = {{0, height}};
  const auto aligned = [&](int row) { return row - row % multiple; };
  if (aligned(height / 2) > 0) splits.push_back({0, aligned(height / 2), height});
  std::vector<int> every = {0}, uneven = {0};
  for (int row = multiple; row < height; row += multiple) every.push_back(row);
  every.push_back(height);
  if (every.size() > 2) splits.push_back(every);
  for (int step = 1, row = multiple; row < height; row += multiple * (1 + step++ % 3)) uneven.push_back(row);
  uneven.push_back(height);
  if (uneven.size() > 2) splits.push_back(uneven);
  if (height > 1 && height % multiple != 1 && aligned(height - 1) > 0) splits.push_back({0, aligned(height - 1), height});
  return splits;
}

Bytes encode_in_bands(const cv::Mat& image, const std::string& ext, const std::vector<int>& bounds,
                      std::vector<dips::EncodedBand>* bands) {
  bands->assign(bounds.size() - 1, dips::EncodedBand());
  // Encoded last band first: each band is independent of the others.
  for (size_t i = bands->size(); i-- > 0;) {
    const cv::Mat rows = image.rowRange(bounds[i], bounds[i + 1]).clone();  // a worker's own copy
    const Status status = dips::encode_band(rows, ext, image.cols, image.rows, bounds[i], &(*bands)[i]);
    INFO(status.message());
    REQUIRE(status.ok());
  }
  std::vector<const dips::EncodedBand*> pointers;
  for (auto it = bands->rbegin(); it != bands->rend(); ++it) pointers.push_back(&*it);  // in any order
  dips::AssembledFile file;
  const Status status = dips::assemble_bands(pointers, &file);
  INFO(status.message());
  REQUIRE(status.ok());
  REQUIRE(file.trailer.size() < 64);
  return concat(file.parts);
}

}  // namespace

TEST_CASE("band-encoded PNG and JPEG files decode to the pixels of imencode's files", "[codec][bands]") {
  const std::vector<cv::Size> sizes = {cv::Size(1, 1),  cv::Size(1, 37), cv::Size(37, 1),  cv::Size(17, 33),
                                       cv::Size(64, 48), cv::Size(100, 161), cv::Size(333, 17), cv::Size(40, 32),
                                       cv::Size(9, 129)};
  for (const cv::Size size : sizes) {
    for (int channels : {1, 3, 4}) {
      const cv::Mat colour = dips::testing::photo_like(size.height, size.width, static_cast<unsigned>(size.area()));
      cv::Mat image;
      if (channels == 1) cv::cvtColor(colour, image, cv::COLOR_BGR2GRAY);
      if (channels == 3) image = colour;
      if (channels == 4) cv::cvtColor(colour, image, cv::COLOR_BGR2BGRA);
      for (const std::string ext : {".png", ".jpg"}) {
        if (!dips::can_encode_bands(ext, channels)) continue;
        const int multiple = dips::band_row_multiple(ext, channels);
        const cv::Mat expected = cv::imdecode(opencv_encode(image, ext), cv::IMREAD_UNCHANGED);
        for (const std::vector<int>& bounds : band_splits(size.height, multiple)) {
          INFO(ext << " " << size << " " << channels << " channels, " << bounds.size() - 1 << " bands, the second at row "
                   << (bounds.size() > 2 ? bounds[1] : -1) << ", the last of " << bounds.back() - bounds[bounds.size() - 2]
                   << " rows");
          std::vector<dips::EncodedBand> bands;
          const Bytes file = encode_in_bands(image, ext, bounds, &bands);
          CHECK(dips::testing::identical(cv::imdecode(file, cv::IMREAD_UNCHANGED), expected));
          cv::Mat decoded;
          REQUIRE(dips::decode_image(file, kMaxPixels, &decoded).ok());
          CHECK(dips::testing::identical(decoded, cv::imdecode(file, cv::IMREAD_COLOR)));
          if (ext == ".png") {
            CHECK(libpng_warnings(file) == 0);
            CHECK(dips::testing::identical(cv::imdecode(file, cv::IMREAD_UNCHANGED), image));  // lossless
          } else {
            CHECK(libjpeg_warnings(file) == 0);
            // The same file libjpeg writes for the whole image with a restart marker after every MCU row.
            CHECK(file == opencv_jpeg_with_restarts(image));
          }
        }
      }
    }
  }
}

TEST_CASE("a large band is cut into several IDAT chunks", "[codec][bands]") {
  const cv::Mat image = random_image(300, 400, CV_8UC3, 3);  // noise: 360 KB that deflate cannot shrink
  std::vector<dips::EncodedBand> bands;
  const Bytes file = encode_in_bands(image, ".png", {0, 160, 300}, &bands);
  int idat = 0;
  for (size_t pos = 8; pos + 8 <= file.size();) {
    const uint32_t length = (uint32_t(file[pos]) << 24) | (file[pos + 1] << 16) | (file[pos + 2] << 8) | file[pos + 3];
    idat += std::memcmp(&file[pos + 4], "IDAT", 4) == 0;
    pos += 12 + length;
  }
  CHECK(idat >= 4);  // zlib header, at least one per band, the checksum
  CHECK(libpng_warnings(file) == 0);
  CHECK(dips::testing::identical(cv::imdecode(file, cv::IMREAD_UNCHANGED), image));
}

TEST_CASE("encode_band and assemble_bands refuse what would not make a file", "[codec][bands]") {
  const cv::Mat image = dips::testing::photo_like(40, 30, 1);
  dips::EncodedBand band;
  CHECK_FALSE(dips::encode_band(image.rowRange(0, 8), ".jpg", 30, 40, 8, &band).ok());   // band of 8 rows: MCU is 16
  CHECK_FALSE(dips::encode_band(image.rowRange(0, 16), ".jpg", 30, 40, 8, &band).ok());  // starts mid-MCU
  CHECK(dips::encode_band(image.rowRange(32, 40), ".jpg", 30, 40, 32, &band).ok());      // the last band may be short
  CHECK_FALSE(dips::encode_band(image.rowRange(0, 16), ".jpg", 31, 40, 0, &band).ok());  // width differs
  CHECK_FALSE(dips::encode_band(image.rowRange(0, 16), ".tif", 30, 40, 0, &band).ok());  // not a band format
  CHECK_FALSE(dips::encode_band(image.rowRange(30, 40), ".png", 30, 35, 30, &band).ok());  // past the bottom
  CHECK_FALSE(dips::can_encode_bands(".jpg", 4));
  CHECK(dips::band_row_multiple(".jpg", 1) == 8);
  CHECK(dips::band_row_multiple(".JPEG", 3) == 16);
  CHECK(dips::band_row_multiple(".png", 4) == 1);
  CHECK(dips::band_row_multiple(".bmp", 3) == 0);

  std::vector<dips::EncodedBand> bands(3);
  for (int i = 0; i < 3; ++i) REQUIRE(dips::encode_band(image.rowRange(i * 16, std::min(40, i * 16 + 16)), ".png", 30, 40, i * 16, &bands[i]).ok());
  dips::AssembledFile file;
  CHECK(dips::assemble_bands({&bands[0], &bands[1], &bands[2]}, &file).ok());
  CHECK_THAT(dips::assemble_bands({&bands[0], &bands[2]}, &file).message(), Contains("missing"));
  CHECK_THAT(dips::assemble_bands({&bands[0], &bands[1]}, &file).message(), Contains("missing"));
  CHECK_FALSE(dips::assemble_bands({&bands[0], &bands[1], &bands[1], &bands[2]}, &file).ok());
  CHECK_FALSE(dips::assemble_bands({}, &file).ok());
  dips::EncodedBand jpeg;
  REQUIRE(dips::encode_band(image.rowRange(16, 32), ".jpg", 30, 40, 16, &jpeg).ok());
  CHECK_THAT(dips::assemble_bands({&bands[0], &jpeg, &bands[2]}, &file).message(), Contains("different images"));
}

TEST_CASE("write_file_atomic writes parts in order, across writev's limit", "[codec][files]") {
  std::string pattern = (fs::temp_directory_path() / "dips-codec-parts-XXXXXX").string();
  REQUIRE(::mkdtemp(pattern.data()) != nullptr);
  std::vector<Bytes> pieces;
  std::vector<dips::ByteRange> parts;
  Bytes expected;
  for (int i = 0; i < 3000; ++i) {  // IOV_MAX is 1024
    pieces.emplace_back(static_cast<size_t>(i % 7 == 0 ? 0 : 1 + i % 300), static_cast<uint8_t>(i));
  }
  for (const Bytes& piece : pieces) {
    parts.push_back(dips::ByteRange{piece.data(), piece.size()});
    expected.insert(expected.end(), piece.begin(), piece.end());
  }
  const fs::path file = fs::path(pattern) / "out.bin";
  REQUIRE(dips::write_file_atomic(file, parts).ok());
  Bytes read;
  REQUIRE(dips::read_file(file, 1 << 24, &read).ok());
  CHECK(read == expected);
  CHECK(std::distance(fs::directory_iterator(pattern), fs::directory_iterator()) == 1);  // no temporary left
  fs::remove_all(pattern);
}

// ================================================================== real photographs (local, optional)

// DIPS_CODEC_PHOTOS=/usr/share/backgrounds build/tests/dips_tests "[.photos]": every JPEG and PNG there
// decodes as imdecode, and bands starting at rows all over the first and a middle iMCU rows, and
// scheduler-like bands, decode as the whole (a few minutes: each band of a progressive JPEG decodes all
// of its coefficients).
TEST_CASE("real photographs decode as imdecode, whole and in bands", "[.photos]") {
  const char* folder = std::getenv("DIPS_CODEC_PHOTOS");
  if (folder == nullptr) {
    WARN("DIPS_CODEC_PHOTOS is not set: nothing to check");
    return;
  }
  int checked = 0;
  for (const auto& entry : fs::directory_iterator(folder)) {
    const std::string ext = entry.path().extension().string();
    if (ext != ".jpg" && ext != ".jpeg" && ext != ".png") continue;
    Bytes bytes;
    REQUIRE(dips::read_file(entry.path(), 1 << 30, &bytes).ok());
    const cv::Mat expected = cv::imdecode(bytes, cv::IMREAD_COLOR);
    INFO(entry.path() << " " << expected.size());
    std::vector<std::pair<int, int>> bands;
    const int h = expected.rows;
    for (int row0 = 0; row0 < 34; row0 += 3) bands.emplace_back(row0, row0 + 40);  // starts in the first iMCU rows
    for (int row0 = h / 2 - 17; row0 < h / 2 + 17; row0 += 4) bands.emplace_back(row0, row0 + 3);
    for (int i = 1; i < 8; ++i) bands.emplace_back(h * i / 8 - (h * i / 8) % 16, h * (i + 1) / 8);  // scheduler-like bands
    require_decodes_as_opencv(bytes, bands);
    ++checked;
  }
  WARN(checked << " photographs checked");
}

// ========================================================= without the module (ctest codec_module_missing)

TEST_CASE("without libdips_imgcodecs.so, PNG and JPEG work and other formats say where dips looked", "[.module_missing]") {
  const char* configured = std::getenv("DIPS_IMGCODECS_MODULE");
  REQUIRE(configured != nullptr);
  REQUIRE_FALSE(fs::exists(configured));
  const cv::Mat photo = dips::testing::photo_like(20, 30, 1);
  for (const std::string ext : {".png", ".jpg"}) {
    Bytes bytes;
    REQUIRE(dips::encode_image(photo, ext, &bytes).ok());
    cv::Mat image;
    REQUIRE(dips::decode_image(bytes, kMaxPixels, &image).ok());
  }
  cv::Mat image;
  const Status status = dips::decode_image(opencv_encode(photo, ".bmp"), kMaxPixels, &image);
  REQUIRE_FALSE(status.ok());
  CHECK_THAT(status.message(), Contains("cannot decode image") && Contains(configured) &&
                                   Contains("libdips_imgcodecs.so") && Contains("DIPS_IMGCODECS_MODULE"));
  Bytes bytes;
  CHECK_THAT(dips::encode_image(photo, ".tif", &bytes).message(), Contains("cannot encode as '.tif'") && Contains(configured));
  CHECK_FALSE(dips::can_encode_extension(".tif"));
  CHECK(dips::can_encode_extension(".png"));
  CHECK_THAT(dips::load_opencv_codecs().message(), Contains(configured));
  // --format names the real reason, not "OpenCV cannot write this format".
  dips::JobSpec spec;
  spec.inputs = {"nothing"};
  spec.ops = "blur=3";
  spec.output_dir = fs::temp_directory_path() / "dips-codec-unused";
  spec.format = "tif";
  std::vector<dips::Task> tasks;
  CHECK_THAT(dips::build_job(spec, &tasks).message(), Contains("--format tif") && Contains(configured));
}
