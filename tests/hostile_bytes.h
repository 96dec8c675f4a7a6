#pragma once
// Builders of hostile bytes for the tests: fake image headers that claim huge sizes, truncations, bit
// flips, raw field pokes, and the valid messages and files they start from. Shared by the unit tests of
// each module and the multi-rank bad-input tests, so that every test mutates the same known-good bytes.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "dips/wire.h"

namespace dips::testing {

constexpr int64_t kDefaultMaxPixels = 268435456;  // dips' --max-pixels default (cli.h)

// Integers appended in big- or little-endian byte order, as image headers store them.
void put_be16(std::vector<uint8_t>& b, uint16_t v);
void put_be32(std::vector<uint8_t>& b, uint32_t v);
void put_le16(std::vector<uint8_t>& b, uint16_t v);
void put_le32(std::vector<uint8_t>& b, uint32_t v);

// The CRC-32 of PNG chunks (zlib's polynomial), for crafting PNG headers in tests.
uint32_t crc32(const uint8_t* data, size_t size);

std::vector<uint8_t> bytes_of(const std::string& text);

// cv::imencode of image to the format of ext (".png", ...); fails the test when OpenCV cannot.
std::vector<uint8_t> encode(const cv::Mat& image, const std::string& ext, const std::vector<int>& params = {});

// The first `size` (at most bytes.size()) bytes of bytes: a file or message cut short.
std::vector<uint8_t> truncated(const std::vector<uint8_t>& bytes, size_t size);

// bytes with bit `bit` (counted from the first byte's lowest bit) inverted.
std::vector<uint8_t> bit_flipped(const std::vector<uint8_t>& bytes, size_t bit);

// Overwrites (poke) or reads (peek) a raw value at a byte offset, in the machine's byte order (the wire
// format's: little-endian). The offset must lie inside bytes.
template <typename T>
void poke(std::vector<uint8_t>& bytes, size_t offset, T value) {
  REQUIRE(offset + sizeof(T) <= bytes.size());
  std::memcpy(bytes.data() + offset, &value, sizeof(T));
}

template <typename T>
T peek(const std::vector<uint8_t>& bytes, size_t offset) {
  T value{};
  REQUIRE(offset + sizeof(T) <= bytes.size());
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

// The bytes of a raw value (the wire format's byte order), to splice into a message.
template <typename T>
std::vector<uint8_t> raw(T value) {
  std::vector<uint8_t> bytes(sizeof(T));
  std::memcpy(bytes.data(), &value, sizeof(T));
  return bytes;
}

// A work or result message with its head's fields edited: `erase` bytes at offset `at` replaced by
// `insert`, the head padded again and its size field updated, the payloads kept, so that the edit is the
// only thing wrong with it. `fields_end` is where the head's fields end, before their zero padding.
std::vector<uint8_t> with_head_edit(const std::vector<uint8_t>& message, size_t fields_end, size_t at, size_t erase,
                                    const std::vector<uint8_t>& insert);

// ---- decompression-bomb headers: tiny, well-formed headers that claim a huge image

// PNG signature, an IHDR chunk with a correct CRC, and IEND: a valid PNG header claiming width x height RGB.
std::vector<uint8_t> png_header(uint32_t width, uint32_t height);

// png_header with a tiny IDAT chunk before IEND: a whole, well-formed PNG file claiming width x height.
std::vector<uint8_t> png_bomb(uint32_t width, uint32_t height);

// A real JPEG (quantisation and Huffman tables, scan data) whose SOF frame header is patched to claim
// width x height (JPEG stores 16-bit dimensions).
std::vector<uint8_t> jpeg_claiming(uint16_t width, uint16_t height, bool progressive = false);

// BITMAPFILEHEADER + BITMAPINFOHEADER of a 24-bit BMP claiming width x height, no pixel data.
std::vector<uint8_t> bmp_header(int32_t width, int32_t height);

// A WebP RIFF with a VP8X chunk claiming a width x height canvas (24-bit fields: up to 16777216).
std::vector<uint8_t> webp_vp8x_header(uint32_t width, uint32_t height);

// A TIFF whose first IFD holds ImageWidth and ImageLength (type LONG, or SHORT when `short_type`).
std::vector<uint8_t> tiff_header(uint32_t width, uint32_t height, bool big_endian, bool short_type = false);

// ---- valid messages to mutate

// A whole-file piece (id 7): the given file bytes carried in the message, the pipeline, the output
// returned encoded in ext, the pixel limit.
dips::WorkItem file_work(std::vector<uint8_t> bytes, const std::string& ops = "blur=3",
                         const std::string& ext = ".png", int64_t max_pixels = kDefaultMaxPixels);

// A small valid band: 4 gray rows 0..3 of a 5-column image carried as pixels, computing rows [1, 3) of
// blur=3 (id 42), returned as pixels.
dips::WorkItem band_work();

// A result with every field set: two strings, a 256-bin histogram, a 2x3 image and encoded bytes (id 42).
dips::ResultItem small_result();

// A batch of every source and sink (ids 1 to 4), the same bytes in every run: a path the worker reads
// (limits set), written to a file with fsync; a 3x2 PNG's bytes, returned encoded as .jpg; a 6x7 gray
// image given the finish of equalize_histogram from a 256-bin histogram, then blur=3, encoded as .png;
// and a 3-channel band of edge_detection (rows [3, 6) of an 8-row image, halo included), as pixels.
std::vector<dips::WorkItem> mixed_work();
// A decode piece that writes a pixel file (pixel_file.h), whatever its format (rows_from_file false), and a
// band that reads its rows from it.
std::vector<dips::WorkItem> pixel_file_work();

// Results of every shape (ids 1 to 4): small_result's fields; an error with the decoded input size; a
// written file; encoded bytes alone.
std::vector<dips::ResultItem> mixed_results();

// A hello with every field set, and a reply to it.
dips::Hello a_hello();
dips::HelloReply a_hello_reply();

}  // namespace dips::testing
