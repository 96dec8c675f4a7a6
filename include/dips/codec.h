#pragma once
// Image codecs: bytes of an image file <-> 8-bit pixels, exactly as OpenCV 4.6's imdecode(IMREAD_COLOR)
// and imencode with default parameters, without linking OpenCV's imgcodecs. PNG and JPEG go through
// libpng and libjpeg-turbo directly (the libraries imgcodecs itself uses, with its settings); every other
// format, and the PNG/JPEG cases not reproduced here, go through OpenCV's imgcodecs loaded on first use
// (libdips_imgcodecs.so, see codec_fallback.cpp). docs/design.md ("Codecs") says why and how.
//
// On top of whole-image decoding and encoding, a file can be decoded and encoded in row bands by several
// workers: decode_rows gives any band of the decoded image, and encode_band/assemble_bands produce a PNG
// or JPEG file as independent parts, one per band, that are concatenated without touching pixels.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "dips/status.h"

namespace dips {

// ------------------------------------------------------------------------------------------ whole images

// The pixel size an image file's header claims, read without decoding: every format OpenCV 4.6 decodes
// (PNG, JPEG, BMP, PNM/PFM/PAM, WebP, TIFF, Radiance HDR, Sun raster, JPEG 2000, OpenEXR). Returns false
// when the format is not recognised or the header is cut short. This is the stored size: an EXIF
// orientation may swap it in the decoded image (probe_image gives the decoded size).
bool sniff_image_size(const uint8_t* data, size_t size, int* width, int* height);
bool sniff_image_size(const std::vector<uint8_t>& bytes, int* width, int* height);

// True for a PNG that is not interlaced: its rows decode one after another from the top row, out of one
// zlib stream, so that no band of it decodes without every row above it, and decode_image tells its rows
// as they come (RowsDecoded below). Reads the first 29 bytes.
bool decodes_top_down(const uint8_t* data, size_t size);

// What an image file's first bytes tell a plan: the stored size (sniff_image_size; 0 x 0 when unknown)
// and decodes_top_down.
struct SniffedImage {
  int width = 0;
  int height = 0;
  bool top_down = false;
};
SniffedImage sniff_image(const std::vector<uint8_t>& bytes);

// Decodes an image file's bytes to 8-bit BGR, pixel for pixel what cv::imdecode(bytes, IMREAD_COLOR)
// gives (EXIF orientation applied, 16-bit reduced to its high byte, alpha dropped, gray expanded).
// Refused before any decoder runs: images whose header claims more than max_pixels or whose size cannot
// be read from it, JPEGs without an end-of-image marker after their first scan (libjpeg would fill the
// missing rows with gray), TIFFs of more than one page (OpenCV would keep the first silently) and GIFs
// (OpenCV 4.6 has no GIF decoder).
Status decode_image(const uint8_t* data, size_t size, int64_t max_pixels, cv::Mat* image);
Status decode_image(const std::vector<uint8_t>& bytes, int64_t max_pixels, cv::Mat* image);

// Told during a decode that rows [0, rows) of `image` are final: `image` is the whole decoded image, at
// its final size, being filled from the top. Must not throw.
using RowsDecoded = std::function<void(const cv::Mat& image, int rows)>;

// decode_image that tells on_rows as the rows of an image decoded from the top row down become final
// (after each row or each run of rows; the count rises to the image's height): a non-interlaced PNG that
// needs no rotation (a PNG's rows come out of one zlib stream, so that its decoding cannot be split;
// others can read each row as soon as it is out). For any other image on_rows is never called: the image
// is whole only when this returns.
Status decode_image(const uint8_t* data, size_t size, int64_t max_pixels, cv::Mat* image, const RowsDecoded& on_rows);

// Encodes an image in the format named by ext (".png", ".jpg", ".TIFF", ...), with OpenCV's defaults.
// For 8-bit images of 1, 3 or 4 channels the bytes of .png, .jpg, .jpeg and .jpe are those of
// cv::imencode(ext, image); other formats and images come from imencode itself.
Status encode_image(const cv::Mat& image, const std::string& ext, std::vector<uint8_t>* bytes);

// True when OpenCV can write this extension (".png", ".JPG", ".tiff", ...). PNG and JPEG are answered
// without loading OpenCV's imgcodecs; any other extension loads it.
bool can_encode_extension(const std::string& ext);

// Loads OpenCV's imgcodecs (libdips_imgcodecs.so) now if it is not loaded yet. Ok when it can be used;
// else an error that says where it was looked for (can_encode_extension is then false for every format
// but PNG and JPEG, and other formats fail to decode with the same message).
Status load_opencv_codecs();

// --------------------------------------------------------------------------------- decoding in row bands

// What a scheduler needs to split the decoding of one file.
struct ImageInfo {
  // The decoded image's size: the header's, turned by the orientation OpenCV 4.6 applies (EXIF in JPEG
  // and PNG, the Orientation tag of a TIFF; it turns no other format).
  int width = 0;
  int height = 0;
  // True when decode_rows costs about what its rows cost (a JPEG that needs no rotation): bands of it
  // decode in parallel. False when a band costs the decoding of every row above it (PNG) or of the whole
  // image (rotated JPEGs, other formats).
  bool cheap_rows = false;
};

// Reads an image's header: refuses what decode_image refuses without decoding (size over max_pixels,
// unknown format, truncated JPEG, multi-page TIFF, GIF); on success fills *info.
Status probe_image(const uint8_t* data, size_t size, int64_t max_pixels, ImageInfo* info);

// Decodes rows [row0, row1) of the image decode_image gives, as an 8-bit BGR image of row1 - row0 rows,
// pixel for pixel those rows of decode_image's result, in memory of their own (never a view of a larger
// decoded image, which the band would keep alive). The same checks as decode_image come first.
// Cost: for a JPEG that needs no rotation, the entropy decoding of the rows above row0 (skipped with
// jpeg_skip_scanlines) plus the full decoding of about 2 x 16 rows more than asked; for non-interlaced
// PNG the decoding of rows [0, row1) (the rows above are decoded and dropped); for everything else the
// whole image. A file whose bytes are damaged only below row1 may decode here and fail in decode_image:
// the band that reaches the last row sees what decode_image sees.
Status decode_rows(const uint8_t* data, size_t size, int64_t max_pixels, int row0, int row1, cv::Mat* rows);

// --------------------------------------------------------------------------------- encoding in row bands

// True when encode_band can make bands of an image with this many channels (8-bit) for this extension:
// .png with 1, 3 or 4 channels; .jpg/.jpeg/.jpe with 1 or 3.
bool can_encode_bands(const std::string& ext, int channels);

// Every band but the last must start and end on a multiple of this many rows: 1 for PNG, the JPEG MCU
// height for JPEG (16 for colour, which is 4:2:0, and 8 for gray). 0 when can_encode_bands is false.
int band_row_multiple(const std::string& ext, int channels);

// One band's part of an encoded file, made by encode_band from the band's own rows only. Plain values,
// so that a transport can carry it.
struct EncodedBand {
  int width = 0;     // of the whole image
  int height = 0;    // of the whole image
  int channels = 0;  // of the image encoded (1, 3 or 4)
  int row0 = 0;      // first row of the band
  int rows = 0;      // rows in the band
  bool png = false;  // PNG, else JPEG
  // The band's bytes of the file, in file order. The first band's begin with the file's header (PNG:
  // signature, IHDR and the zlib header; JPEG: every marker up to the scan header, with the SOF height of
  // the whole image and a restart interval of one MCU row).
  std::vector<uint8_t> bytes;
  uint32_t adler32 = 1;  // PNG: zlib's Adler-32 of the band's filtered scanlines
  uint64_t raw_size = 0;  // PNG: their length in bytes
};

// Encodes rows [row0, row0 + rows.rows) of a width x height image (rows.cols == width) as its band of the
// file imencode(ext) would describe: PNG with OpenCV's defaults (SUB filter, zlib level 1, Z_RLE), each
// band a raw deflate stream that ends byte-aligned (sync flush; the last band finishes the stream) in
// IDAT chunks; JPEG with OpenCV's defaults (quality 95, 4:2:0, standard Huffman tables) plus a restart
// marker after every MCU row, numbered as in the whole file. row0 must be a multiple of
// band_row_multiple, and so must rows.rows unless the band ends the image.
Status encode_band(const cv::Mat& rows, const std::string& ext, int width, int height, int row0, EncodedBand* band);

// A run of bytes to write; the bytes belong to whoever made the part list.
struct ByteRange {
  const uint8_t* data = nullptr;
  size_t size = 0;
};

// A file made of bands: a list of byte ranges, in order, that point into the bands' own bytes and into
// trailer (the only bytes the assembler makes: a few dozen). Valid while the bands and this value live.
struct AssembledFile {
  std::vector<uint8_t> trailer;
  std::vector<ByteRange> parts;
};

// Puts bands (in any order) together into the file: checks that they are bands of one image that cover
// its rows exactly once, and lists their bytes followed by the trailer (PNG: an IDAT with the Adler-32
// of the whole stream, combined from the bands', and IEND; JPEG: the end-of-image marker). Decoding the
// result gives exactly the pixels of decoding imencode's file of the whole image: the JPEG file has the
// same coefficients, coded with restart markers; the PNG file the same filtered rows, deflated in pieces.
Status assemble_bands(const std::vector<const EncodedBand*>& bands, AssembledFile* file);

}  // namespace dips
