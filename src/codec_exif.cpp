// EXIF orientation exactly as OpenCV 4.6 reads and applies it (imgcodecs exif.cpp and loadsave.cpp).
//
// OpenCV's ExifReader walks IFD0 entry by entry, keeping the first value of each tag it knows, and stops
// at the first read past the end of the data (an exception it swallows): an orientation entry counts
// only when no earlier entry's read failed. So that the result is OpenCV's for any bytes, the walk below
// makes the same reads with the same bounds; where OpenCV's exact reads are not certain (a rational
// array that is partly out of bounds) it answers -1 and OpenCV decodes the file itself.
#include <opencv2/core.hpp>

#include "codec_internal.h"

namespace dips::codec {
namespace {

class ExifWalk {
 public:
  ExifWalk(const uint8_t* data, size_t size)
      : data_(data), size_(size), little_(size > 1 && data[0] == 'I' && data[1] == 'I') {}

  // OpenCV's getU16/getU32: false where they throw.
  bool u16(size_t at, uint32_t* value) const {
    if (at + 1 >= size_) return false;
    *value = little_ ? data_[at] | (data_[at + 1] << 8) : (data_[at] << 8) | data_[at + 1];
    return true;
  }
  bool u32(size_t at, uint32_t* value) const {
    if (at + 3 >= size_) return false;
    const uint8_t* p = data_ + at;
    *value = little_ ? p[0] | (p[1] << 8) | (p[2] << 16) | (uint32_t(p[3]) << 24)
                     : (uint32_t(p[0]) << 24) | (p[1] << 16) | (p[2] << 8) | p[3];
    return true;
  }
  size_t size() const { return size_; }

 private:
  const uint8_t* data_;
  size_t size_;
  bool little_;  // OpenCV: "II" is Intel order; anything else, even garbage, is read as Motorola order
};

enum class Read { kFine, kThrows, kUnsure };

// getString: a count, then the text inline (count <= 4) or at an offset; throws when it runs past the end.
Read read_string(const ExifWalk& exif, size_t entry) {
  uint32_t count = 0, offset = 8;
  if (!exif.u32(entry + 4, &count)) return Read::kThrows;
  if (count > 4 && !exif.u32(entry + 8, &offset)) return Read::kThrows;
  return offset > exif.size() || size_t(offset) + count > exif.size() ? Read::kThrows : Read::kFine;
}

// Up to `count` unsigned rationals (8 bytes each) at the offset in the entry's value field.
Read read_rationals(const ExifWalk& exif, size_t entry, size_t count) {
  uint32_t offset = 0;
  if (!exif.u32(entry + 8, &offset)) return Read::kThrows;
  if (size_t(offset) + 8 * count <= exif.size()) return Read::kFine;
  return size_t(offset) + 8 > exif.size() ? Read::kThrows : Read::kUnsure;
}

// The reads OpenCV's parseExifEntry makes for a tag it knows, beyond the tag number itself.
Read read_entry_value(const ExifWalk& exif, uint32_t tag, size_t entry) {
  uint32_t value = 0;
  switch (tag) {
    case 0x010E: case 0x010F: case 0x0110: case 0x0131: case 0x0132: case 0x8298:  // text
      return read_string(exif, entry);
    case 0x0128: case 0x0213:  // resolution unit, YCbCr positioning
      return exif.u16(entry + 8, &value) ? Read::kFine : Read::kThrows;
    case 0x011A: case 0x011B: return read_rationals(exif, entry, 1);  // resolutions
    case 0x013E: return read_rationals(exif, entry, 2);               // white point
    case 0x0211: return read_rationals(exif, entry, 3);               // YCbCr coefficients
    case 0x013F: case 0x0214: return read_rationals(exif, entry, 6);  // primaries, reference black/white
    default: return Read::kFine;                                      // not read (EXIF IFD offset, unknown)
  }
}

}  // namespace

int exif_orientation(const uint8_t* data, size_t size) {
  constexpr int kNone = 1;
  const ExifWalk exif(data, size);
  uint32_t mark = 0, ifd = 0, entries = 0;
  if (!exif.u16(2, &mark) || mark != 0x2A) return kNone;
  if (!exif.u32(4, &ifd) || !exif.u16(ifd, &entries)) return kNone;
  for (uint32_t i = 0; i < entries; ++i) {
    const size_t entry = size_t(ifd) + 2 + size_t(i) * 12;
    uint32_t tag = 0;
    if (!exif.u16(entry, &tag)) return kNone;
    if (tag == 0x0112) {
      uint32_t orientation = 0;  // OpenCV reads 16 bits whatever the entry's type says, and ignores
      const bool read = exif.u16(entry + 8, &orientation);  // values outside 1..8
      return read && orientation >= 1 && orientation <= 8 ? static_cast<int>(orientation) : kNone;
    }
    const Read read = read_entry_value(exif, tag, entry);
    if (read == Read::kThrows) return kNone;
    if (read == Read::kUnsure) return -1;
  }
  return kNone;
}

void apply_orientation(int orientation, cv::Mat* image) {
  if (orientation >= 5 && orientation <= 8) cv::transpose(*image, *image);
  switch (orientation) {
    case 2: case 6: cv::flip(*image, *image, 1); break;
    case 3: case 7: cv::flip(*image, *image, -1); break;
    case 4: case 8: cv::flip(*image, *image, 0); break;
    default: break;  // 1, 5 (a transpose alone) and values outside 1..8, which OpenCV ignores
  }
}

}  // namespace dips::codec
