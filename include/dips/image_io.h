#pragma once
#include <cstdint>
#include <filesystem>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "dips/status.h"

namespace dips {

// Reads a whole regular file. Directories, missing files, unreadable files and files larger than
// max_bytes are errors that say which.
Status read_file(const std::filesystem::path& path, uint64_t max_bytes, std::vector<uint8_t>* bytes);

// The pixel size an image file's header claims, read without decoding: every format OpenCV 4.6 decodes
// (PNG, JPEG, BMP, PNM/PFM/PAM, WebP, TIFF, Radiance HDR, Sun raster, JPEG 2000, OpenEXR). Returns false
// when the format is not recognised or the header is cut short.
bool sniff_image_size(const std::vector<uint8_t>& bytes, int* width, int* height);

// Decodes an image file's bytes to 8-bit BGR (imread's IMREAD_COLOR). Images whose header claims more
// than max_pixels, or whose size cannot be read from the header, are refused before any decoder runs.
Status decode_image(const std::vector<uint8_t>& bytes, int64_t max_pixels, cv::Mat* image);

// Encodes an image in the format named by ext (".png", ".jpg", ...).
Status encode_image(const cv::Mat& image, const std::string& ext, std::vector<uint8_t>* bytes);

// Writes bytes to path atomically: a temporary file in the same folder (".dips-tmp-HOST-PID-N", unique
// across the hosts of a shared file system; see temp_files.h), then renamed over path, so that a reader or a crash never
// sees a partial file. With `sync` the data and the rename are also made durable (fsync of the file and
// its folder) before returning. On any failure (disk full, permission) the temporary file is removed and
// path is left as it was.
Status write_file_atomic(const std::filesystem::path& path, const std::vector<uint8_t>& bytes, bool sync = false);

// True for file names whose extension OpenCV can decode (".jpg", ".PNG", ".tiff", ...).
bool has_image_extension(const std::filesystem::path& path);

// True when OpenCV can write this extension.
bool can_encode_extension(const std::string& ext);

}  // namespace dips
