#pragma once
// Private to the codec module (src/codec*.cpp): what the format files give the dispatcher (codec.cpp).
#include <cstddef>
#include <cstdint>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "dips/codec.h"
#include "dips/status.h"

namespace dips::codec {

// ----------------------------------------------------------------------------------- codec_sniff.cpp

// The 8 bytes every PNG file starts with.
extern const uint8_t kPngSignature[8];

// The big-endian 32-bit number at p (PNG's lengths, sizes and CRCs).
uint32_t be32(const uint8_t* p);

// The decoder OpenCV 4.6's imdecode would pick by signature, for the formats dips treats apart.
enum class Format { kPng, kJpeg, kTiff, kGif, kOther };
Format sniff_format(const uint8_t* data, size_t size);

// True for a JPEG without an end-of-image marker after its first scan: libjpeg would decode it without
// complaint, filling the missing rows with gray.
bool jpeg_truncated(const uint8_t* data, size_t size);

// The number of pages of a TIFF: image directories that are not reduced-resolution copies (thumbnails)
// or transparency masks (NewSubfileType bits 0 and 2). Counts up to 65535; 1 for a damaged chain.
int tiff_page_count(const uint8_t* data, size_t size);

// ------------------------------------------------------------------------------------ codec_exif.cpp

// What OpenCV 4.6's ExifReader finds as the orientation in EXIF data that starts with a TIFF header:
// 1 to 8, or 1 when there is none (then OpenCV does not rotate either). -1 when its parser would stop on
// a malformed directory before reaching the orientation, or might: then OpenCV itself must decode.
int exif_orientation(const uint8_t* data, size_t size);

// Rotates/flips an image as OpenCV 4.6 does for an EXIF orientation (loadsave.cpp, ExifTransform).
void apply_orientation(int orientation, cv::Mat* image);

// ------------------------------------------------------------------------- codec_jpeg.cpp, codec_png.cpp

// What decoding needs from a PNG or JPEG header.
struct Header {
  int width = 0;         // as stored (before orientation)
  int height = 0;
  int orientation = 1;   // the EXIF orientation OpenCV applies; 1: none
  bool interlaced = false;  // PNG Adam7: no row can be decoded before the last pass
};

// Each format function either does the job exactly as OpenCV would (its Status is the answer: ok, or a
// decoding error OpenCV would also fail on) or sets *declined: the file is one this code does not
// reproduce exactly (CMYK JPEG, EXIF it cannot judge, a size OpenCV refuses, ...) and OpenCV must do it.
Status jpeg_read_header(const uint8_t* data, size_t size, Header* header, bool* declined);
Status png_read_header(const uint8_t* data, size_t size, Header* header, bool* declined);

// Decodes rows [row0, row1) of the stored image (before orientation) into *rows (8-bit BGR). The PNG
// decoder tells on_rows (if any) after each row of a non-interlaced image decoded from row 0 (codec.h).
Status jpeg_decode_rows(const uint8_t* data, size_t size, int row0, int row1, cv::Mat* rows, bool* declined);
Status png_decode_rows(const uint8_t* data, size_t size, const Header& header, int row0, int row1, cv::Mat* rows,
                       bool* declined, const RowsDecoded* on_rows = nullptr);

// ----------------------------------------------------------------------------- codec_png_inflate.cpp

// png_decode_rows for the common PNG, without libpng (8-bit gray, gray+alpha, RGB or RGBA, not
// interlaced, every chunk sound): the same pixels, in about half the time (the one known difference, for
// deflate streams zlib refuses and libdeflate decodes, is in codec_png_inflate.cpp). Returns false,
// having told on_rows nothing and set nothing, for any file it does not take; libpng must decode that one.
// on_rows (if any, and row0 == 0) is told after each run of rows.
bool png_inflate_rows(const uint8_t* data, size_t size, int row0, int row1, cv::Mat* rows, const RowsDecoded* on_rows);

// Whole-image encoders with OpenCV 4.6's default settings, for 8-bit images of 1, 3 or 4 channels.
Status jpeg_encode(const cv::Mat& image, std::vector<uint8_t>* bytes);
Status png_encode(const cv::Mat& image, std::vector<uint8_t>* bytes);

// Band encoders (codec.h, encode_band): the checks of rows, width, height and row0 are done.
Status jpeg_encode_band(const cv::Mat& rows, int height, int row0, EncodedBand* band);
Status png_encode_band(const cv::Mat& rows, int height, int row0, EncodedBand* band);

// The trailer after the last band: PNG the Adler-32 IDAT and IEND, JPEG the end-of-image marker. Bands
// are in file order.
void png_band_trailer(const std::vector<const EncodedBand*>& bands, std::vector<uint8_t>* trailer);
void jpeg_band_trailer(std::vector<uint8_t>* trailer);

// MCU height of OpenCV's default JPEG encoding: 16 rows for colour (4:2:0), 8 for gray.
int jpeg_mcu_rows(int channels);

// -------------------------------------------------------------------------------- codec_fallback.cpp

// OpenCV's imgcodecs, loaded on first use. Errors say why (including where the module was looked for).
Status fallback_decode(const uint8_t* data, size_t size, cv::Mat* image);
Status fallback_encode(const cv::Mat& image, const std::string& ext, std::vector<uint8_t>* bytes);
bool fallback_can_write(const std::string& ext);
Status fallback_status();  // ok when the module is loaded (loading it now if it was not)

}  // namespace dips::codec
