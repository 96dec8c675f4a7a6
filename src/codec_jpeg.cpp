// JPEG through libjpeg-turbo, as OpenCV 4.6's grfmt_jpeg.cpp drives it (the same library: Debian's
// imgcodecs links libjpeg62-turbo), so that pixels and bytes are OpenCV's.
//
// Decoding: default parameters (JDCT_ISLOW, fancy upsampling), BGR output, OpenCV's memory source that
// suspends instead of inventing an end of image, EXIF orientation from the first APP1 marker. Declined
// (left to OpenCV): 4-component (CMYK/YCCK) files, which OpenCV converts itself; files without Huffman
// tables (Motion-JPEG frames, arithmetic coding), for which OpenCV installs tables of its own; sizes
// OpenCV refuses; EXIF it cannot be predicted on; and any file that runs out of bytes while decoding.
// Encoding: jpeg_set_defaults, quality 95 limited to baseline tables, no restart interval.
//
// libjpeg reports errors by calling error_exit, which must not return: it longjmps back to the setjmp of
// the function that made the call. Those functions keep no objects with destructors of their own.
#include <fmt/format.h>

#include <algorithm>
#include <csetjmp>
#include <cstdio>  // before jpeglib.h, which uses FILE and size_t
#include <cstring>
#include <opencv2/imgproc.hpp>

#include <jpeglib.h>

#include "codec_internal.h"

namespace dips::codec {
namespace {

// OpenCV's validateInputImageSize (CV_IO_MAX_IMAGE_WIDTH/HEIGHT/PIXELS defaults).
bool opencv_accepts_size(uint64_t width, uint64_t height) {
  return width > 0 && height > 0 && width <= (1u << 20) && height <= (1u << 20) && width * height <= (1u << 30);
}

struct ErrorManager {
  jpeg_error_mgr pub;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void on_error(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  longjmp(err->jump, 1);
}

// Warnings ("Corrupt JPEG data: ...") change no pixel; OpenCV lets libjpeg print them, dips does not.
void on_output_message(j_common_ptr) {}

void attach_errors(ErrorManager* err, jpeg_error_mgr** slot) {
  *slot = jpeg_std_error(&err->pub);
  err->pub.error_exit = on_error;
  err->pub.output_message = on_output_message;
  err->message[0] = '\0';
}

// ------------------------------------------------------------------------------------------ decoding

// OpenCV's memory source: a read past the end suspends the decoder. starved records that it happened,
// since what OpenCV then produces is left to OpenCV.
struct Source {
  jpeg_source_mgr pub;
  bool starved;
};

void source_noop(j_decompress_ptr) {}

boolean source_fill(j_decompress_ptr cinfo) {
  reinterpret_cast<Source*>(cinfo->src)->starved = true;
  return FALSE;
}

void source_skip(j_decompress_ptr cinfo, long count) {
  jpeg_source_mgr* src = cinfo->src;
  const size_t n = static_cast<size_t>(std::max(count, 0L));
  if (n > src->bytes_in_buffer) {  // as OpenCV: consume what is there; the next read suspends
    src->next_input_byte += src->bytes_in_buffer;
    src->bytes_in_buffer = 0;
  } else {
    src->next_input_byte += n;
    src->bytes_in_buffer -= n;
  }
}

struct Decompressor {
  jpeg_decompress_struct cinfo{};  // zeroed: jpeg_destroy_decompress is safe even if creation failed
  ErrorManager err{};
  Source source{};
  ~Decompressor() { jpeg_destroy_decompress(&cinfo); }
};

bool open(Decompressor* d, const uint8_t* data, size_t size) {
  attach_errors(&d->err, &d->cinfo.err);
  if (setjmp(d->err.jump) != 0) return false;
  jpeg_create_decompress(&d->cinfo);
  d->source.pub.init_source = source_noop;
  d->source.pub.fill_input_buffer = source_fill;
  d->source.pub.skip_input_data = source_skip;
  d->source.pub.resync_to_restart = jpeg_resync_to_restart;
  d->source.pub.term_source = source_noop;
  d->source.pub.next_input_byte = data;
  d->source.pub.bytes_in_buffer = size;
  d->cinfo.src = &d->source.pub;
  jpeg_save_markers(&d->cinfo, JPEG_APP0 + 1, 0xFFFF);
  jpeg_read_header(&d->cinfo, TRUE);
  return true;
}

// The EXIF orientation OpenCV applies: from the first APP1 marker, whatever it holds, past 6 bytes
// ("Exif\0\0"). -1: unpredictable.
int orientation_of(const jpeg_decompress_struct& cinfo) {
  for (jpeg_saved_marker_ptr marker = cinfo.marker_list; marker != nullptr; marker = marker->next) {
    if (marker->marker != JPEG_APP0 + 1) continue;
    return marker->data_length > 6 ? exif_orientation(marker->data + 6, marker->data_length - 6) : 1;
  }
  return 1;
}

bool reproduced(const Decompressor& d) {
  const jpeg_decompress_struct& c = d.cinfo;
  const bool huffman_tables = c.ac_huff_tbl_ptrs[0] || c.ac_huff_tbl_ptrs[1] || c.dc_huff_tbl_ptrs[0] || c.dc_huff_tbl_ptrs[1];
  return !d.source.starved && (c.num_components == 1 || c.num_components == 3) && huffman_tables &&
         opencv_accepts_size(c.image_width, c.image_height);
}

Status decode_error(const ErrorManager& err) {
  return Status::Error(
      fmt::format("cannot decode image: corrupt, truncated or not a supported image format (libjpeg: {})", err.message));
}

bool start(Decompressor* d) {
  if (setjmp(d->err.jump) != 0) return false;
  d->cinfo.out_color_space = JCS_EXT_BGR;  // gray and RGB files too: libjpeg expands them
  jpeg_start_decompress(&d->cinfo);
  return true;
}

bool skip(Decompressor* d, int rows) {
  if (setjmp(d->err.jump) != 0) return false;
  jpeg_skip_scanlines(&d->cinfo, static_cast<JDIMENSION>(rows));
  return true;
}

// Reads `discard` rows into scratch, then out->rows rows into out.
bool read_rows(Decompressor* d, int discard, cv::Mat* scratch, cv::Mat* out) {
  if (setjmp(d->err.jump) != 0) return false;
  for (int y = 0; y < discard + out->rows && !d->source.starved; ++y) {
    JSAMPROW row = y < discard ? scratch->ptr<uint8_t>(0) : out->ptr<uint8_t>(y - discard);
    jpeg_read_scanlines(&d->cinfo, &row, 1);
  }
  return true;
}

// ------------------------------------------------------------------------------------------ encoding

// Output into a growing vector.
struct Destination {
  jpeg_destination_mgr pub;
  std::vector<uint8_t>* out;
};

void destination_init(j_compress_ptr cinfo) {
  auto* dest = reinterpret_cast<Destination*>(cinfo->dest);
  dest->out->resize(std::max<size_t>(dest->out->capacity(), size_t(1) << 16));
  dest->pub.next_output_byte = dest->out->data();
  dest->pub.free_in_buffer = dest->out->size();
}

boolean destination_grow(j_compress_ptr cinfo) {  // called when the buffer is full
  auto* dest = reinterpret_cast<Destination*>(cinfo->dest);
  const size_t used = dest->out->size();
  dest->out->resize(used * 2);
  dest->pub.next_output_byte = dest->out->data() + used;
  dest->pub.free_in_buffer = dest->out->size() - used;
  return TRUE;
}

void destination_term(j_compress_ptr cinfo) {
  auto* dest = reinterpret_cast<Destination*>(cinfo->dest);
  dest->out->resize(dest->out->size() - dest->pub.free_in_buffer);
}

struct Compressor {
  jpeg_compress_struct cinfo{};
  ErrorManager err{};
  Destination dest{};
  ~Compressor() { jpeg_destroy_compress(&cinfo); }
};

// OpenCV's JpegEncoder::write with default parameters; restart_rows adds a restart marker after every
// MCU row (for bands). image is 8-bit, 1 or 3 channels.
bool compress(Compressor* c, const cv::Mat& image, bool restart_rows, std::vector<uint8_t>* out) {
  attach_errors(&c->err, &c->cinfo.err);
  if (setjmp(c->err.jump) != 0) return false;
  jpeg_create_compress(&c->cinfo);
  c->dest.pub.init_destination = destination_init;
  c->dest.pub.empty_output_buffer = destination_grow;
  c->dest.pub.term_destination = destination_term;
  c->dest.out = out;
  c->cinfo.dest = &c->dest.pub;
  c->cinfo.image_width = static_cast<JDIMENSION>(image.cols);
  c->cinfo.image_height = static_cast<JDIMENSION>(image.rows);
  c->cinfo.input_components = image.channels();
  c->cinfo.in_color_space = image.channels() == 1 ? JCS_GRAYSCALE : JCS_EXT_BGR;  // OpenCV: BGR->RGB, JCS_RGB
  jpeg_set_defaults(&c->cinfo);
  if (restart_rows) c->cinfo.restart_in_rows = 1;
  jpeg_set_quality(&c->cinfo, 95, TRUE);
  jpeg_start_compress(&c->cinfo, TRUE);
  for (int y = 0; y < image.rows; ++y) {
    JSAMPROW row = const_cast<uint8_t*>(image.ptr<uint8_t>(y));
    jpeg_write_scanlines(&c->cinfo, &row, 1);
  }
  jpeg_finish_compress(&c->cinfo);
  return true;
}

Status encode_error(const ErrorManager& err) {
  return Status::Error(fmt::format("libjpeg: {}", err.message));
}

// Offsets in a libjpeg-written file: the frame header and the first byte after the scan header.
struct Layout {
  size_t sof = 0;
  size_t entropy = 0;
};

bool find_layout(const std::vector<uint8_t>& b, Layout* layout) {
  size_t pos = 2;  // after SOI; libjpeg writes segments back to back
  while (pos + 4 <= b.size() && b[pos] == 0xFF) {
    const uint8_t marker = b[pos + 1];
    const size_t length = (size_t(b[pos + 2]) << 8) | b[pos + 3];
    if (marker == 0xC0) layout->sof = pos;
    pos += 2 + length;
    if (marker == 0xDA) {
      layout->entropy = pos;
      return layout->sof != 0 && pos <= b.size();
    }
  }
  return false;
}

// Renumbers the restart markers RSTn of entropy-coded data to RST((n + shift) mod 8). In entropy-coded
// data an FF byte is always followed by 00 (a stuffed FF) or by a marker.
void shift_restart_markers(uint8_t* data, size_t size, int shift) {
  for (uint8_t* p = data; size >= 2;) {
    uint8_t* ff = static_cast<uint8_t*>(std::memchr(p, 0xFF, size - 1));
    if (ff == nullptr) return;
    if (ff[1] >= 0xD0 && ff[1] <= 0xD7) ff[1] = static_cast<uint8_t>(0xD0 + ((ff[1] - 0xD0 + shift) & 7));
    size -= static_cast<size_t>(ff + 2 - p);
    p = ff + 2;
  }
}

}  // namespace

Status jpeg_read_header(const uint8_t* data, size_t size, Header* header, bool* declined) {
  Decompressor d;
  if (!open(&d, data, size)) {
    *declined = d.source.starved;
    return d.source.starved ? Status() : decode_error(d.err);
  }
  header->orientation = orientation_of(d.cinfo);
  *declined = !reproduced(d) || header->orientation < 0;
  header->width = static_cast<int>(d.cinfo.image_width);
  header->height = static_cast<int>(d.cinfo.image_height);
  header->interlaced = false;
  return Status();
}

Status jpeg_decode_rows(const uint8_t* data, size_t size, int row0, int row1, cv::Mat* rows, bool* declined) {
  Decompressor d;
  if (!open(&d, data, size)) {
    *declined = d.source.starved;
    return d.source.starved ? Status() : decode_error(d.err);
  }
  *declined = !reproduced(d);
  if (*declined) return Status();
  // Fancy upsampling of the rows right after a skip needs the chroma row above them. libjpeg-turbo 2.1.5
  // gets it right (measured on real 4:2:0, 4:2:2 and 4:4:4 photos, baseline and progressive), but earlier
  // releases had skip bugs in exactly this area and the library is linked dynamically: start one iMCU row
  // early and drop the rows above row0, at the price of up to 2 x 16 rows decoded for nothing.
  // tests/test_codec.cpp checks every band start against the whole decode.
  const int imcu_rows = d.cinfo.max_v_samp_factor * DCTSIZE;
  const int first = std::max(0, (row0 / imcu_rows - 1) * imcu_rows);
  cv::Mat out(row1 - row0, static_cast<int>(d.cinfo.image_width), CV_8UC3);
  cv::Mat scratch(1, out.cols, CV_8UC3);
  if (!start(&d) || !skip(&d, first) || !read_rows(&d, row0 - first, &scratch, &out)) {
    *declined = d.source.starved;
    return d.source.starved ? Status() : decode_error(d.err);
  }
  *declined = d.source.starved;
  if (!*declined) *rows = out;
  return Status();
}

Status jpeg_encode(const cv::Mat& image, std::vector<uint8_t>* bytes) {
  cv::Mat three;
  if (image.channels() == 4) cv::cvtColor(image, three, cv::COLOR_BGRA2BGR);  // OpenCV drops alpha too
  Compressor c;
  bytes->clear();
  if (!compress(&c, image.channels() == 4 ? three : image, false, bytes)) return encode_error(c.err);
  return Status();
}

int jpeg_mcu_rows(int channels) { return channels == 1 ? 8 : 16; }

Status jpeg_encode_band(const cv::Mat& rows, int height, int row0, EncodedBand* band) {
  if (height > JPEG_MAX_DIMENSION) {
    return Status::Error(fmt::format("libjpeg: {} rows, over JPEG's limit of {}", height, JPEG_MAX_DIMENSION));
  }
  std::vector<uint8_t> file;
  Compressor c;
  Layout layout;
  if (!compress(&c, rows, true, &file)) return encode_error(c.err);
  if (!find_layout(file, &layout) || file.size() < layout.entropy + 2) {
    return Status::Error("cannot encode JPEG band: libjpeg wrote an unexpected layout");
  }
  const size_t end = file.size() - 2;  // the end-of-image marker belongs to the trailer
  const int mcu_row = row0 / jpeg_mcu_rows(rows.channels());
  band->bytes.clear();
  if (row0 == 0) {
    file[layout.sof + 5] = static_cast<uint8_t>(height >> 8);
    file[layout.sof + 6] = static_cast<uint8_t>(height & 0xFF);
    file.resize(end);
    band->bytes = std::move(file);
    return Status();
  }
  // The restart marker that ends the previous band's last MCU row, then this band's entropy-coded data.
  band->bytes.reserve(2 + end - layout.entropy);
  band->bytes.push_back(0xFF);
  band->bytes.push_back(static_cast<uint8_t>(0xD0 + ((mcu_row - 1) & 7)));
  band->bytes.insert(band->bytes.end(), file.begin() + static_cast<long>(layout.entropy), file.begin() + static_cast<long>(end));
  shift_restart_markers(band->bytes.data() + 2, band->bytes.size() - 2, mcu_row);
  return Status();
}

void jpeg_band_trailer(std::vector<uint8_t>* trailer) { *trailer = {0xFF, 0xD9}; }

}  // namespace dips::codec
