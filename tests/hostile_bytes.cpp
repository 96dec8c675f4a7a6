#include "hostile_bytes.h"

#include <opencv2/imgcodecs.hpp>
#include <utility>

#include "dips/pipeline.h"
#include "dips/tiling.h"
#include "test_images.h"

namespace dips::testing {

void put_be16(std::vector<uint8_t>& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}

void put_be32(std::vector<uint8_t>& b, uint32_t v) {
  for (int i = 3; i >= 0; --i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

void put_le16(std::vector<uint8_t>& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v));
  b.push_back(static_cast<uint8_t>(v >> 8));
}

void put_le32(std::vector<uint8_t>& b, uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

uint32_t crc32(const uint8_t* data, size_t size) {
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < size; ++i) {
    crc ^= data[i];
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

std::vector<uint8_t> bytes_of(const std::string& text) { return std::vector<uint8_t>(text.begin(), text.end()); }

std::vector<uint8_t> encode(const cv::Mat& image, const std::string& ext, const std::vector<int>& params) {
  std::vector<uint8_t> bytes;
  REQUIRE(cv::imencode(ext, image, bytes, params));
  return bytes;
}

std::vector<uint8_t> truncated(const std::vector<uint8_t>& bytes, size_t size) {
  return std::vector<uint8_t>(bytes.begin(), bytes.begin() + static_cast<long>(size));
}

std::vector<uint8_t> bit_flipped(const std::vector<uint8_t>& bytes, size_t bit) {
  std::vector<uint8_t> flipped = bytes;
  flipped[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
  return flipped;
}

std::vector<uint8_t> with_head_edit(const std::vector<uint8_t>& message, size_t fields_end, size_t at, size_t erase,
                                    const std::vector<uint8_t>& insert) {
  const size_t head_size_at = 8 + 8 * size_t{peek<uint32_t>(message, 4)};  // after magic, count and the ids
  const auto head_size = static_cast<size_t>(peek<uint64_t>(message, head_size_at));
  REQUIRE((head_size_at + 8 <= at && at + erase <= fields_end && fields_end <= head_size && head_size <= message.size()));
  std::vector<uint8_t> edited(message.begin(), message.begin() + static_cast<long>(fields_end));
  edited.erase(edited.begin() + static_cast<long>(at), edited.begin() + static_cast<long>(at + erase));
  edited.insert(edited.begin() + static_cast<long>(at), insert.begin(), insert.end());
  edited.resize((edited.size() + 63) / 64 * 64, 0);
  poke<uint64_t>(edited, head_size_at, edited.size());
  edited.insert(edited.end(), message.begin() + static_cast<long>(head_size), message.end());
  return edited;
}

namespace {

// Appends a PNG chunk: length, type, body, CRC of type and body.
void put_png_chunk(std::vector<uint8_t>& png, const char* type, const std::vector<uint8_t>& body) {
  put_be32(png, static_cast<uint32_t>(body.size()));
  std::vector<uint8_t> typed(type, type + 4);
  typed.insert(typed.end(), body.begin(), body.end());
  png.insert(png.end(), typed.begin(), typed.end());
  put_be32(png, crc32(typed.data(), typed.size()));
}

std::vector<uint8_t> png_with(uint32_t width, uint32_t height, bool with_data) {
  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  std::vector<uint8_t> ihdr;
  put_be32(ihdr, width);
  put_be32(ihdr, height);
  ihdr.insert(ihdr.end(), {8, 2, 0, 0, 0});  // 8-bit, RGB, deflate, no filter, no interlace
  put_png_chunk(png, "IHDR", ihdr);
  if (with_data) put_png_chunk(png, "IDAT", {0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01});
  put_png_chunk(png, "IEND", {});
  return png;
}

}  // namespace

std::vector<uint8_t> png_header(uint32_t width, uint32_t height) { return png_with(width, height, false); }

std::vector<uint8_t> png_bomb(uint32_t width, uint32_t height) { return png_with(width, height, true); }

std::vector<uint8_t> jpeg_claiming(uint16_t width, uint16_t height, bool progressive) {
  std::vector<uint8_t> b = encode(photo_like(16, 16, 1), ".jpg", {cv::IMWRITE_JPEG_PROGRESSIVE, progressive ? 1 : 0});
  for (size_t pos = 2; pos + 9 <= b.size();) {
    REQUIRE(b[pos] == 0xFF);
    const uint8_t marker = b[pos + 1];
    if (marker == 0xC0 || marker == 0xC2) {
      b[pos + 5] = static_cast<uint8_t>(height >> 8);
      b[pos + 6] = static_cast<uint8_t>(height);
      b[pos + 7] = static_cast<uint8_t>(width >> 8);
      b[pos + 8] = static_cast<uint8_t>(width);
      return b;
    }
    pos += 2 + ((b[pos + 2] << 8) | b[pos + 3]);
  }
  FAIL("no SOF marker in OpenCV's JPEG");
  return b;
}

std::vector<uint8_t> bmp_header(int32_t width, int32_t height) {
  std::vector<uint8_t> b = {'B', 'M'};
  put_le32(b, 54);  // file size (a lie, like any bomb's)
  put_le32(b, 0);
  put_le32(b, 54);  // pixel data offset
  put_le32(b, 40);  // BITMAPINFOHEADER
  put_le32(b, static_cast<uint32_t>(width));
  put_le32(b, static_cast<uint32_t>(height));
  put_le16(b, 1);   // planes
  put_le16(b, 24);  // bits per pixel
  for (int i = 0; i < 6; ++i) put_le32(b, 0);
  return b;
}

std::vector<uint8_t> webp_vp8x_header(uint32_t width, uint32_t height) {
  std::vector<uint8_t> b = {'R', 'I', 'F', 'F'};
  put_le32(b, 22);
  b.insert(b.end(), {'W', 'E', 'B', 'P', 'V', 'P', '8', 'X'});
  put_le32(b, 10);
  put_le32(b, 0);  // flags + reserved
  for (uint32_t v : {width - 1, height - 1}) {
    b.push_back(static_cast<uint8_t>(v));
    b.push_back(static_cast<uint8_t>(v >> 8));
    b.push_back(static_cast<uint8_t>(v >> 16));
  }
  return b;
}

std::vector<uint8_t> tiff_header(uint32_t width, uint32_t height, bool big_endian, bool short_type) {
  std::vector<uint8_t> b;
  const auto u16 = [&](uint16_t v) { big_endian ? put_be16(b, v) : put_le16(b, v); };
  const auto u32 = [&](uint32_t v) { big_endian ? put_be32(b, v) : put_le32(b, v); };
  if (big_endian) b.insert(b.end(), {'M', 'M', 0, 42});
  else b.insert(b.end(), {'I', 'I', 42, 0});
  u32(8);  // first IFD
  u16(2);  // entries
  for (auto [tag, value] : {std::pair<uint16_t, uint32_t>{256, width}, {257, height}}) {
    u16(tag);
    u16(short_type ? 3 : 4);
    u32(1);
    if (short_type) {
      u16(static_cast<uint16_t>(value));  // a SHORT value is left-justified in the 4-byte field
      u16(0);
    } else {
      u32(value);
    }
  }
  u32(0);  // no next IFD
  return b;
}

dips::WorkItem file_work(std::vector<uint8_t> bytes, const std::string& ops, const std::string& ext, int64_t max_pixels) {
  dips::WorkItem work;
  work.piece_id = 7;
  work.source = dips::Source::kFile;
  work.file = dips::Bytes::of(std::move(bytes));
  REQUIRE(dips::parse_pipeline(ops, &work.steps).ok());
  work.sink = dips::Sink::kEncoded;
  work.output_ext = ext;
  work.max_pixels = max_pixels;
  work.max_file_bytes = 1 << 30;
  return work;
}

dips::WorkItem band_work() {
  dips::WorkItem work;
  work.piece_id = 42;
  work.source = dips::Source::kPixels;
  work.band = true;
  REQUIRE(dips::parse_pipeline("blur=3", &work.steps).ok());
  work.rows = dips::PieceRows{1, 3, 0, 4};
  work.max_pixels = 1000;
  work.pixels = cv::Mat(4, 5, CV_8UC1);
  for (int i = 0; i < 20; ++i) work.pixels.data[i] = static_cast<uchar>(i * 11);
  return work;
}

dips::ResultItem small_result() {
  dips::ResultItem result;
  result.piece_id = 42;
  result.width = 5;
  result.height = 4;
  result.decoded = {"hello", ""};
  result.histogram.assign(256, 0.0);
  result.histogram[3] = 20;
  result.pixels = cv::Mat(2, 3, CV_8UC3, cv::Scalar(1, 2, 3));
  result.encoded = dips::Bytes::of({9, 8, 7});
  result.compute_ms = 1.5;
  result.queue_ms = 0.25;
  return result;
}

std::vector<dips::WorkItem> mixed_work() {
  std::vector<dips::WorkItem> items(4);
  dips::WorkItem& path = items[0];
  path.piece_id = 1;
  path.source = dips::Source::kPath;
  path.path = "/data/in/photo 1.jpg";
  REQUIRE(dips::parse_pipeline("grayscale,blur=5", &path.steps).ok());
  path.sink = dips::Sink::kWriteFile;
  path.output_ext = ".png";
  path.output_path = "/data/out/photo 1.png";
  path.sync = true;
  path.max_pixels = 1 << 20;
  path.max_file_bytes = uint64_t(1) << 33;
  path.thumbnails = dips::Thumbnails::kAlways;
  path.thumbnail_px = 160;

  items[1] = file_work(encode(noise(2, 3, 5), ".png"), "resize=8,read_qr_code", ".jpg");
  items[1].piece_id = 2;
  items[1].thumbnails = dips::Thumbnails::kOnError;
  items[1].thumbnail_px = dips::kMaxThumbnailPx;

  dips::WorkItem& finish = items[2];
  finish.piece_id = 3;
  finish.source = dips::Source::kPixels;
  finish.pixels = cv::Mat(6, 7, CV_8UC1);
  for (int i = 0; i < 42; ++i) finish.pixels.data[i] = static_cast<uchar>(i * 37);
  finish.finish = dips::Step{dips::find_operation("equalize_histogram"), 0};
  finish.histogram = dips::gray_histogram(finish.pixels);
  REQUIRE(dips::parse_pipeline("blur=3", &finish.steps).ok());
  finish.sink = dips::Sink::kEncoded;
  finish.output_ext = ".png";

  dips::WorkItem& band = items[3];
  band.piece_id = 4;
  band.source = dips::Source::kPixels;
  band.band = true;
  REQUIRE(dips::parse_pipeline("edge_detection", &band.steps).ok());
  const std::vector<dips::PieceRows> pieces = dips::plan_pieces(dips::plan_stages(band.steps).front(), 8, 3);
  REQUIRE(pieces.size() == 3);
  band.rows = pieces[1];
  band.pixels = noise(8, 9, 4).rowRange(band.rows.in_row0, band.rows.in_row1).clone();
  return items;
}

std::vector<dips::WorkItem> pixel_file_work() {
  std::vector<dips::WorkItem> items(2);
  dips::WorkItem& probe = items[0];
  probe.piece_id = 5;
  probe.source = dips::Source::kPath;
  probe.path = "/data/in/large.png";
  probe.probe = true;
  probe.rows_from_file = false;
  probe.sink = dips::Sink::kPixelFile;
  probe.output_path = "/data/out/.dips-tmp-0000abcd-42-7";
  dips::WorkItem& band = items[1];
  band.piece_id = 6;
  band.source = dips::Source::kPixelFile;
  band.path = probe.output_path;
  band.band = true;
  REQUIRE(dips::parse_pipeline("blur=3", &band.steps).ok());
  band.rows = dips::plan_pieces(dips::plan_stages(band.steps).front(), 8, 3)[1];
  band.image_width = 9;
  band.image_height = 8;
  band.sink = dips::Sink::kBand;
  band.output_ext = ".png";
  return items;
}

std::vector<dips::ResultItem> mixed_results() {
  std::vector<dips::ResultItem> items(4);
  items[0] = small_result();
  items[0].piece_id = 1;
  items[1].piece_id = 2;
  items[1].error = "cannot decode image: truncated JPEG (no end-of-image marker)";
  items[1].width = 640;
  items[1].height = 480;
  items[2].piece_id = 3;
  items[2].written = 123456;
  items[2].input_size = 4950;
  items[2].input_mtime_ns = 1795992998205660905;
  items[2].compute_ms = 12.5;
  items[2].thumbnail_input = dips::Bytes::of(encode(noise(3, 2, 4), ".jpg"));
  items[2].thumbnail_output = dips::Bytes::of(std::vector<uint8_t>(300, 7));
  items[3].piece_id = 4;
  items[3].encoded = dips::Bytes::of(encode(noise(4, 4, 1), ".png"));
  items[3].queue_ms = 3;
  items[3].thumbnail_output_rows = noise(2, 4, 6);
  items[3].thumbnail_input_rows = cv::Mat(1, 4, CV_8UC1, cv::Scalar(200));
  return items;
}

dips::Hello a_hello() {
  dips::Hello hello;
  hello.probe_path = "/data/out/.dips-probe-1234";
  hello.probe_token = "token 0123456789abcdef";
  hello.input_path = "/data/in/photo 1.jpg";
  hello.input_size = 5000000000;
  return hello;
}

dips::HelloReply a_hello_reply() {
  dips::HelloReply reply;
  reply.host = "node-7.cluster";
  reply.pid = 43210;
  reply.threads = 2;
  reply.sees_files = true;
  reply.cpus = {0, 1, 6, 7};
  return reply;
}

}  // namespace dips::testing
