// Format sniffing: sizes and kinds of image files read from their headers, without decoding.
#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>

#include "codec_internal.h"

namespace dips {
namespace codec {

const uint8_t kPngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

uint32_t be32(const uint8_t* p) { return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3]; }

}  // namespace codec

namespace {

using codec::be32;

// The bytes of a file, read-only (what std::span<const uint8_t> would be).
struct Bytes {
  const uint8_t* ptr;
  size_t length;
  const uint8_t* data() const { return ptr; }
  size_t size() const { return length; }
  const uint8_t* begin() const { return ptr; }
  const uint8_t* end() const { return ptr + length; }
  const uint8_t& operator[](size_t i) const { return ptr[i]; }
};

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
uint32_t le32(const uint8_t* p) { return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24); }
uint16_t le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

bool sniff_png(Bytes b, int* w, int* h) {
  if (b.size() < 24 || std::memcmp(b.data(), codec::kPngSignature, 8) != 0 || std::memcmp(&b[12], "IHDR", 4) != 0) return false;
  *w = static_cast<int>(std::min<uint32_t>(be32(&b[16]), INT32_MAX));
  *h = static_cast<int>(std::min<uint32_t>(be32(&b[20]), INT32_MAX));
  return true;
}

// Walks a JPEG's marker segments up to its first scan, as libjpeg does (bytes between segments that are
// not 0xFF are skipped). Sets *sof to the first frame header and *sos to the first scan, when found.
bool walk_jpeg(Bytes b, size_t* sof, size_t* sos) {
  if (b.size() < 4 || b[0] != 0xFF || b[1] != 0xD8) return false;
  *sof = *sos = 0;
  size_t pos = 2;
  while (pos + 4 <= b.size()) {
    if (b[pos] != 0xFF) { ++pos; continue; }
    const uint8_t marker = b[pos + 1];
    if (marker == 0xFF || marker == 0x00) { ++pos; continue; }
    if (marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) { pos += 2; continue; }
    const bool frame = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (frame && *sof == 0) *sof = pos;
    if (marker == 0xDA) {
      *sos = pos;
      break;
    }
    pos += 2 + be16(&b[pos + 2]);
  }
  return true;
}

bool sniff_jpeg(Bytes b, int* w, int* h) {
  size_t sof = 0, sos = 0;
  if (!walk_jpeg(b, &sof, &sos) || sof == 0 || sof + 9 > b.size()) return false;
  *h = be16(&b[sof + 5]);
  *w = be16(&b[sof + 7]);
  return true;
}

bool sniff_bmp(Bytes b, int* w, int* h) {
  if (b.size() < 26 || b[0] != 'B' || b[1] != 'M') return false;
  if (le32(&b[14]) == 12) {  // OS/2 BITMAPCOREHEADER: 16-bit sizes
    *w = le16(&b[18]);
    *h = le16(&b[20]);
    return true;
  }
  const int32_t width = static_cast<int32_t>(le32(&b[18])), height = static_cast<int32_t>(le32(&b[22]));
  *w = width == INT32_MIN ? INT32_MAX : std::abs(width);
  *h = height == INT32_MIN ? INT32_MAX : std::abs(height);
  return true;
}

bool sniff_pnm(Bytes b, int* w, int* h) {
  const bool pnm = b.size() >= 3 && b[0] == 'P' && ((b[1] >= '1' && b[1] <= '6') || b[1] == 'F' || b[1] == 'f');
  if (!pnm) return false;
  long long values[2] = {0, 0};
  size_t pos = 2;
  for (long long& value : values) {
    while (pos < b.size() && (std::isspace(b[pos]) || b[pos] == '#')) {
      if (b[pos] == '#') while (pos < b.size() && b[pos] != '\n') ++pos;
      else ++pos;
    }
    if (pos >= b.size() || !std::isdigit(b[pos])) return false;
    while (pos < b.size() && std::isdigit(b[pos]) && value < INT32_MAX) value = value * 10 + (b[pos++] - '0');
  }
  *w = static_cast<int>(std::min<long long>(values[0], INT32_MAX));
  *h = static_cast<int>(std::min<long long>(values[1], INT32_MAX));
  return true;
}

bool sniff_webp(Bytes b, int* w, int* h) {
  if (b.size() < 30 || std::memcmp(&b[0], "RIFF", 4) != 0 || std::memcmp(&b[8], "WEBP", 4) != 0) return false;
  if (std::memcmp(&b[12], "VP8X", 4) == 0) {
    *w = 1 + (b[24] | (b[25] << 8) | (b[26] << 16));
    *h = 1 + (b[27] | (b[28] << 8) | (b[29] << 16));
    return true;
  }
  if (std::memcmp(&b[12], "VP8L", 4) == 0) {
    const uint32_t bits = le32(&b[21]);
    *w = 1 + static_cast<int>(bits & 0x3FFF);
    *h = 1 + static_cast<int>((bits >> 14) & 0x3FFF);
    return true;
  }
  if (std::memcmp(&b[12], "VP8 ", 4) == 0) {
    *w = le16(&b[26]) & 0x3FFF;
    *h = le16(&b[28]) & 0x3FFF;
    return true;
  }
  return false;
}

bool sniff_tiff(Bytes b, int* w, int* h) {
  if (b.size() < 8) return false;
  const bool little = b[0] == 'I' && b[1] == 'I' && b[2] == 42 && b[3] == 0;
  const bool big = b[0] == 'M' && b[1] == 'M' && b[2] == 0 && b[3] == 42;
  if (!little && !big) return false;
  const auto u16 = [&](size_t at) { return little ? le16(&b[at]) : be16(&b[at]); };
  const auto u32 = [&](size_t at) { return little ? le32(&b[at]) : be32(&b[at]); };
  const uint64_t ifd = u32(4);
  if (ifd + 2 > b.size()) return false;
  const uint16_t entries = u16(ifd);
  long long width = -1, height = -1;
  for (uint16_t i = 0; i < entries; ++i) {
    const uint64_t at = ifd + 2 + uint64_t(i) * 12;
    if (at + 12 > b.size()) return false;
    const uint16_t tag = u16(at), type = u16(at + 2);
    const uint32_t value = type == 3 ? u16(at + 8) : u32(at + 8);
    if (tag == 256) width = value;
    if (tag == 257) height = value;
  }
  if (width < 0 || height < 0) return false;
  *w = static_cast<int>(std::min<long long>(width, INT32_MAX));
  *h = static_cast<int>(std::min<long long>(height, INT32_MAX));
  return true;
}

// Text header fields of PAM ("WIDTH n", "HEIGHT n") and Radiance HDR ("-Y n +X n").
bool header_number_after(const std::string& header, const std::string& key, long long* value) {
  const size_t at = header.find(key);
  if (at == std::string::npos) return false;
  size_t pos = at + key.size();
  while (pos < header.size() && (header[pos] == ' ' || header[pos] == '\t')) ++pos;
  if (pos >= header.size() || !std::isdigit(static_cast<unsigned char>(header[pos]))) return false;
  *value = 0;
  while (pos < header.size() && std::isdigit(static_cast<unsigned char>(header[pos])) && *value < INT32_MAX) {
    *value = *value * 10 + (header[pos++] - '0');
  }
  return true;
}

bool set_size(long long width, long long height, int* w, int* h) {
  *w = static_cast<int>(std::min<long long>(std::max<long long>(width, 0), INT32_MAX));
  *h = static_cast<int>(std::min<long long>(std::max<long long>(height, 0), INT32_MAX));
  return true;
}

bool sniff_pam(Bytes b, int* w, int* h) {
  if (b.size() < 3 || b[0] != 'P' || b[1] != '7' || !std::isspace(b[2])) return false;
  const std::string header(b.begin(), b.begin() + static_cast<long>(std::min<size_t>(b.size(), 4096)));
  long long width = 0, height = 0;
  if (!header_number_after(header, "\nWIDTH", &width) || !header_number_after(header, "\nHEIGHT", &height)) return false;
  return set_size(width, height, w, h);
}

bool sniff_hdr(Bytes b, int* w, int* h) {
  if (b.size() < 6 || b[0] != '#' || b[1] != '?') return false;
  const std::string header(b.begin(), b.begin() + static_cast<long>(std::min<size_t>(b.size(), 8192)));
  const size_t end = header.find("\n\n");
  if (end == std::string::npos) return false;
  const std::string resolution = header.substr(end + 2, header.find('\n', end + 2) - end - 2);
  long long width = 0, height = 0;
  const bool y = header_number_after(resolution, "Y", &height), x = header_number_after(resolution, "X", &width);
  return x && y && set_size(width, height, w, h);
}

bool sniff_sun_raster(Bytes b, int* w, int* h) {
  if (b.size() < 12 || be32(&b[0]) != 0x59a66a95u) return false;
  return set_size(be32(&b[4]), be32(&b[8]), w, h);
}

bool sniff_jpeg2000(Bytes b, int* w, int* h) {
  static const uint8_t kJp2[12] = {0, 0, 0, 0x0C, 'j', 'P', ' ', ' ', 0x0D, 0x0A, 0x87, 0x0A};
  if (b.size() >= 24 && b[0] == 0xFF && b[1] == 0x4F && b[2] == 0xFF && b[3] == 0x51) {  // raw codestream: SIZ
    return set_size(static_cast<long long>(be32(&b[8])) - be32(&b[16]), static_cast<long long>(be32(&b[12])) - be32(&b[20]), w, h);
  }
  if (b.size() < 12 || std::memcmp(b.data(), kJp2, 12) != 0) return false;
  const size_t limit = std::min<size_t>(b.size(), 1 << 16);
  for (size_t i = 12; i + 12 <= limit; ++i) {
    if (std::memcmp(&b[i], "ihdr", 4) == 0) return set_size(be32(&b[i + 8]), be32(&b[i + 4]), w, h);
  }
  return false;
}

bool sniff_exr(Bytes b, int* w, int* h) {
  static const uint8_t kMagic[4] = {0x76, 0x2f, 0x31, 0x01};
  if (b.size() < 8 || std::memcmp(b.data(), kMagic, 4) != 0) return false;
  size_t pos = 8;
  while (pos < b.size() && b[pos] != 0) {  // attributes: name\0 type\0 size value
    const size_t name_end = std::find(b.begin() + pos, b.end(), 0) - b.begin();
    const size_t type_end = name_end < b.size() ? std::find(b.begin() + name_end + 1, b.end(), 0) - b.begin() : b.size();
    if (type_end + 5 > b.size()) return false;
    const std::string name(b.begin() + pos, b.begin() + name_end);
    const uint32_t size = le32(&b[type_end + 1]);
    const size_t value = type_end + 5;
    if (value + size > b.size()) return false;
    if (name == "dataWindow" && size == 16) {
      const auto i32 = [&](size_t at) { return static_cast<long long>(static_cast<int32_t>(le32(&b[at]))); };
      return set_size(i32(value + 8) - i32(value) + 1, i32(value + 12) - i32(value + 4) + 1, w, h);
    }
    pos = value + size;
  }
  return false;
}

}  // namespace

bool sniff_image_size(const uint8_t* data, size_t size, int* width, int* height) {
  const Bytes bytes{data, size};
  return sniff_png(bytes, width, height) || sniff_jpeg(bytes, width, height) || sniff_bmp(bytes, width, height) ||
         sniff_pnm(bytes, width, height) || sniff_pam(bytes, width, height) || sniff_webp(bytes, width, height) ||
         sniff_tiff(bytes, width, height) || sniff_hdr(bytes, width, height) || sniff_sun_raster(bytes, width, height) ||
         sniff_jpeg2000(bytes, width, height) || sniff_exr(bytes, width, height);
}

bool sniff_image_size(const std::vector<uint8_t>& bytes, int* width, int* height) {
  return sniff_image_size(bytes.data(), bytes.size(), width, height);
}

bool decodes_top_down(const uint8_t* data, size_t size) {
  constexpr size_t kInterlaceAt = 8 + 8 + 12;  // signature, IHDR's length and type, then width ... filter
  int width = 0, height = 0;
  return sniff_png(Bytes{data, size}, &width, &height) && size > kInterlaceAt && data[kInterlaceAt] == 0;
}

SniffedImage sniff_image(const std::vector<uint8_t>& bytes) {
  SniffedImage image;
  if (!sniff_image_size(bytes, &image.width, &image.height)) return SniffedImage();
  image.top_down = decodes_top_down(bytes.data(), bytes.size());
  return image;
}

namespace codec {

// libjpeg decodes a JPEG cut short without complaint, filling the missing rows with gray. A complete
// JPEG has an end-of-image marker after its first scan (entropy-coded data cannot contain FF D9, and an
// EXIF thumbnail's own marker comes before the scan).
bool jpeg_truncated(const uint8_t* data, size_t size) {
  const Bytes b{data, size};
  size_t sof = 0, sos = 0;
  if (!walk_jpeg(b, &sof, &sos)) return false;
  if (sos == 0) return true;  // no scan at all
  for (size_t i = sos; i + 1 < b.size(); ++i) {
    if (b[i] == 0xFF && b[i + 1] == 0xD9) return false;
  }
  return true;
}

Format sniff_format(const uint8_t* data, size_t size) {
  const auto starts = [&](const void* signature, size_t length) {
    return size >= length && std::memcmp(data, signature, length) == 0;
  };
  if (starts(kPngSignature, 8)) return Format::kPng;
  if (starts("\xFF\xD8\xFF", 3)) return Format::kJpeg;
  if (starts("II\x2A\x00", 4) || starts("MM\x00\x2A", 4)) return Format::kTiff;
  if (starts("GIF87a", 6) || starts("GIF89a", 6)) return Format::kGif;
  return Format::kOther;
}

int tiff_page_count(const uint8_t* data, size_t size) {
  const Bytes b{data, size};
  if (b.size() < 8) return 1;
  const bool little = b[0] == 'I';
  const auto u16 = [&](uint64_t at) { return little ? le16(&b[at]) : be16(&b[at]); };
  const auto u32 = [&](uint64_t at) { return little ? le32(&b[at]) : be32(&b[at]); };
  constexpr int kMaxPages = 65535;
  std::set<uint64_t> seen;  // a chain that loops back is damaged, not endless
  int pages = 0;
  for (uint64_t ifd = u32(4); ifd != 0 && ifd + 2 <= b.size() && seen.insert(ifd).second && pages < kMaxPages;) {
    const uint16_t entries = u16(ifd);
    const uint64_t next_at = ifd + 2 + uint64_t(entries) * 12;
    if (next_at + 4 > b.size()) break;
    uint32_t subfile_type = 0;
    for (uint16_t i = 0; i < entries; ++i) {
      const uint64_t at = ifd + 2 + uint64_t(i) * 12;
      if (u16(at) == 254) subfile_type = u16(at + 2) == 3 ? u16(at + 8) : u32(at + 8);
    }
    if ((subfile_type & 5u) == 0) ++pages;  // bit 0: reduced-resolution copy; bit 2: transparency mask
    ifd = u32(next_at);
  }
  return std::max(pages, 1);
}

}  // namespace codec
}  // namespace dips
