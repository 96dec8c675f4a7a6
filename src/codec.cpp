// The codec dispatcher: the checks every decode starts with, then PNG and JPEG through their own files,
// everything else and whatever those decline through OpenCV's imgcodecs (codec_fallback.cpp).
#include "dips/codec.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "codec_internal.h"

namespace dips {
namespace {

using codec::Format;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

bool is_png_ext(const std::string& ext) { return lower(ext) == ".png"; }

bool is_jpeg_ext(const std::string& ext) {
  const std::string e = lower(ext);
  return e == ".jpg" || e == ".jpeg" || e == ".jpe";
}

// The refusals every decode starts with, in this order; each message is part of decode_image's contract.
Status check_file(const uint8_t* data, size_t size, int64_t max_pixels, Format* format) {
  if (size == 0) return Status::Error("empty file: not an image");
  *format = codec::sniff_format(data, size);
  if (*format == Format::kGif) return Status::Error("cannot decode image: GIF is not supported (convert it to PNG first)");
  int width = 0, height = 0;
  // Fail closed: a decoder only ever sees an image whose size was checked (OpenCV reads its own limit,
  // OPENCV_IO_MAX_IMAGE_PIXELS, once at load time, so it cannot follow --max-pixels).
  if (!sniff_image_size(data, size, &width, &height)) {
    return Status::Error("cannot decode image: not a recognised image format, or its header is damaged");
  }
  if (static_cast<int64_t>(width) * height > max_pixels) {
    return Status::Error(fmt::format("image header claims {}x{} = {} pixels, over the limit of {} (--max-pixels)",
                                     width, height, static_cast<int64_t>(width) * height, max_pixels));
  }
  if (codec::jpeg_truncated(data, size)) return Status::Error("cannot decode image: truncated JPEG (no end-of-image marker)");
  if (*format == Format::kTiff) {
    const int pages = codec::tiff_page_count(data, size);
    if (pages > 1) {
      return Status::Error(fmt::format(
          "cannot decode image: the TIFF has {} pages and dips reads one image per file (OpenCV would keep only the "
          "first): split it into single-page files first, e.g. `tiffsplit input.tif page-` (libtiff-tools)",
          pages));
    }
  }
  return Status();
}

bool own_codec(Format format) { return format == Format::kPng || format == Format::kJpeg; }

Status read_header(Format format, const uint8_t* data, size_t size, codec::Header* header, bool* declined) {
  return format == Format::kPng ? codec::png_read_header(data, size, header, declined)
                                : codec::jpeg_read_header(data, size, header, declined);
}

// Rows of the stored image (before orientation); on_rows as codec.h says.
Status decode_stored_rows(Format format, const uint8_t* data, size_t size, const codec::Header& header, int row0,
                          int row1, cv::Mat* rows, bool* declined, const RowsDecoded* on_rows) {
  return format == Format::kPng ? codec::png_decode_rows(data, size, header, row0, row1, rows, declined, on_rows)
                                : codec::jpeg_decode_rows(data, size, row0, row1, rows, declined);
}

// The rows asked for: the whole image (row1 < 0) or [row0, row1).
struct RowRange {
  int row0 = 0;
  int row1 = -1;
  bool whole() const { return row1 < 0; }
};

Status check_range(const RowRange& range, int height) {
  if (range.whole() || (range.row0 >= 0 && range.row0 < range.row1 && range.row1 <= height)) return Status();
  return Status::Error(fmt::format("cannot decode rows [{}, {}) of an image of {} rows", range.row0, range.row1, height));
}

Status take_rows(cv::Mat image, const RowRange& range, cv::Mat* out) {
  Status status = check_range(range, image.rows);
  if (!status.ok()) return status;
  *out = range.whole() ? image : image.rowRange(range.row0, range.row1).clone();
  return Status();
}

// PNG and JPEG: rows of an unrotated image straight from the decoder; a rotated one is decoded whole.
Status decode_own(Format format, const uint8_t* data, size_t size, const codec::Header& header, const RowRange& range,
                  cv::Mat* out, bool* declined, const RowsDecoded* on_rows) {
  const int height = header.orientation >= 5 ? header.width : header.height;  // 5-8 transpose
  Status status = check_range(range, height);
  if (!status.ok()) return status;
  if (header.orientation == 1) {
    return decode_stored_rows(format, data, size, header, range.whole() ? 0 : range.row0,
                              range.whole() ? height : range.row1, out, declined, range.whole() ? on_rows : nullptr);
  }
  cv::Mat image;
  status = decode_stored_rows(format, data, size, header, 0, header.height, &image, declined, nullptr);
  if (*declined || !status.ok()) return status;
  codec::apply_orientation(header.orientation, &image);
  return take_rows(image, range, out);
}

Status decode_checked(const uint8_t* data, size_t size, int64_t max_pixels, const RowRange& range, cv::Mat* out,
                      const RowsDecoded* on_rows) {
  Format format = Format::kOther;
  Status status = check_file(data, size, max_pixels, &format);
  if (!status.ok()) return status;
  if (own_codec(format)) {
    codec::Header header;
    bool declined = false;
    status = read_header(format, data, size, &header, &declined);
    if (!declined && status.ok()) status = decode_own(format, data, size, header, range, out, &declined, on_rows);
    if (!declined) return status;
  }
  cv::Mat image;
  status = codec::fallback_decode(data, size, &image);
  if (!status.ok()) return status;
  return take_rows(std::move(image), range, out);
}

Status decode(const uint8_t* data, size_t size, int64_t max_pixels, const RowRange& range, cv::Mat* out,
              const RowsDecoded* on_rows = nullptr) {
  try {
    return decode_checked(data, size, max_pixels, range, out, on_rows);
  } catch (const std::exception& e) {  // cv::Exception, std::bad_alloc
    return Status::Error(fmt::format("cannot decode image: {}", e.what()));
  }
}

}  // namespace

Status decode_image(const uint8_t* data, size_t size, int64_t max_pixels, cv::Mat* image) {
  return decode(data, size, max_pixels, RowRange(), image);
}

Status decode_image(const std::vector<uint8_t>& bytes, int64_t max_pixels, cv::Mat* image) {
  return decode_image(bytes.data(), bytes.size(), max_pixels, image);
}

Status decode_image(const uint8_t* data, size_t size, int64_t max_pixels, cv::Mat* image, const RowsDecoded& on_rows) {
  return decode(data, size, max_pixels, RowRange(), image, &on_rows);
}

Status decode_rows(const uint8_t* data, size_t size, int64_t max_pixels, int row0, int row1, cv::Mat* rows) {
  if (row0 < 0 || row1 <= row0) return Status::Error(fmt::format("cannot decode rows [{}, {}): an empty range", row0, row1));
  return decode(data, size, max_pixels, RowRange{row0, row1}, rows);
}

Status probe_image(const uint8_t* data, size_t size, int64_t max_pixels, ImageInfo* info) {
  Format format = Format::kOther;
  Status status = check_file(data, size, max_pixels, &format);
  if (!status.ok()) return status;
  *info = ImageInfo();
  if (!own_codec(format)) {
    sniff_image_size(data, size, &info->width, &info->height);
    // OpenCV turns a TIFF by its Orientation tag too (measured); a TIFF file starts as EXIF data does.
    if (format == Format::kTiff && codec::exif_orientation(data, size) >= 5) std::swap(info->width, info->height);
    return Status();
  }
  codec::Header header;
  bool declined = false;
  status = read_header(format, data, size, &header, &declined);
  if (!declined && !status.ok()) return status;
  if (header.width > 0 && header.orientation >= 1) {  // the header and its orientation are known
    const bool transposed = header.orientation >= 5;
    info->width = transposed ? header.height : header.width;
    info->height = transposed ? header.width : header.height;
    info->cheap_rows = !declined && format == Format::kJpeg && header.orientation == 1;
    return Status();
  }
  cv::Mat image;  // only OpenCV can tell how it will orient this one
  status = codec::fallback_decode(data, size, &image);
  if (!status.ok()) return status;
  info->width = image.cols;
  info->height = image.rows;
  return Status();
}

Status encode_image(const cv::Mat& image, const std::string& ext, std::vector<uint8_t>* bytes) {
  const bool png = is_png_ext(ext), jpeg = is_jpeg_ext(ext);
  const int channels = image.channels();
  if ((png || jpeg) && !image.empty() && image.depth() == CV_8U && (channels == 1 || channels == 3 || channels == 4)) {
    Status status;
    try {
      status = png ? codec::png_encode(image, bytes) : codec::jpeg_encode(image, bytes);
    } catch (const std::exception& e) {  // cv::Exception, std::bad_alloc
      status = Status::Error(e.what());
    }
    return status.ok() ? status : Status::Error(fmt::format("cannot encode as '{}': {}", ext, status.message()));
  }
  return codec::fallback_encode(image, ext, bytes);
}

bool can_encode_extension(const std::string& ext) {
  return is_png_ext(ext) || is_jpeg_ext(ext) || codec::fallback_can_write(ext);
}

Status load_opencv_codecs() { return codec::fallback_status(); }

bool can_encode_bands(const std::string& ext, int channels) {
  return (is_png_ext(ext) && (channels == 1 || channels == 3 || channels == 4)) ||
         (is_jpeg_ext(ext) && (channels == 1 || channels == 3));
}

int band_row_multiple(const std::string& ext, int channels) {
  if (!can_encode_bands(ext, channels)) return 0;
  return is_png_ext(ext) ? 1 : codec::jpeg_mcu_rows(channels);
}

Status encode_band(const cv::Mat& rows, const std::string& ext, int width, int height, int row0, EncodedBand* band) {
  const int multiple = band_row_multiple(ext, rows.channels());
  if (multiple == 0 || rows.depth() != CV_8U) {
    return Status::Error(fmt::format("cannot encode bands of a {}-channel image of depth {} as '{}'", rows.channels(),
                                     rows.depth(), ext));
  }
  const bool last = row0 + rows.rows == height;
  if (rows.empty() || rows.cols != width || row0 < 0 || row0 + rows.rows > height || row0 % multiple != 0 ||
      (!last && rows.rows % multiple != 0)) {
    return Status::Error(fmt::format("cannot encode a band of {}x{} at row {} of a {}x{} image as '{}' (bands start "
                                     "and end on multiples of {} rows, except at the bottom)",
                                     rows.cols, rows.rows, row0, width, height, ext, multiple));
  }
  *band = EncodedBand();
  band->width = width;
  band->height = height;
  band->channels = rows.channels();
  band->row0 = row0;
  band->rows = rows.rows;
  band->png = is_png_ext(ext);
  Status status;
  try {
    status = band->png ? codec::png_encode_band(rows, height, row0, band) : codec::jpeg_encode_band(rows, height, row0, band);
  } catch (const std::exception& e) {
    status = Status::Error(e.what());
  }
  return status.ok() ? status : Status::Error(fmt::format("cannot encode a band as '{}': {}", ext, status.message()));
}

Status assemble_bands(const std::vector<const EncodedBand*>& bands, AssembledFile* file) {
  if (bands.empty()) return Status::Error("cannot assemble a file of no bands");
  std::vector<const EncodedBand*> ordered = bands;
  std::sort(ordered.begin(), ordered.end(), [](const EncodedBand* a, const EncodedBand* b) { return a->row0 < b->row0; });
  const EncodedBand& first = *ordered.front();
  int next_row = 0;
  for (const EncodedBand* band : ordered) {
    if (band->width != first.width || band->height != first.height || band->channels != first.channels ||
        band->png != first.png) {
      return Status::Error("cannot assemble bands of different images");
    }
    if (band->row0 != next_row || band->rows <= 0) {
      return Status::Error(fmt::format("cannot assemble the bands: rows from {} are missing or repeated", next_row));
    }
    next_row += band->rows;
  }
  if (next_row != first.height) {
    return Status::Error(fmt::format("cannot assemble the bands: rows from {} of {} are missing", next_row, first.height));
  }
  if (first.png) {
    codec::png_band_trailer(ordered, &file->trailer);
  } else {
    codec::jpeg_band_trailer(&file->trailer);
  }
  file->parts.clear();
  for (const EncodedBand* band : ordered) file->parts.push_back(ByteRange{band->bytes.data(), band->bytes.size()});
  file->parts.push_back(ByteRange{file->trailer.data(), file->trailer.size()});
  return Status();
}

}  // namespace dips
