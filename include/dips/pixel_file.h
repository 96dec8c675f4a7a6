#pragma once
// A decoded image kept in a file for other workers' pieces, on a file system they all see (--io shared or
// auto): the worker that decodes an image cut into bands writes it once, the band pieces read their rows
// from it, and rank 0 moves the file's name instead of the image's bytes (rank 0's CPU is taken from the
// workers on the same cores, and a 15 MP photo is 44 MB of pixels each way).
//
// The file is a 32-byte header (magic, width, height, OpenCV type, all little-endian) and the rows as they
// are in memory, 8-bit, 1 or 3 channels. It is written atomically (write_file_atomic), so that a reader
// sees the whole image or no file.
#include <filesystem>
#include <opencv2/core.hpp>

#include "dips/status.h"

namespace dips {

// Writes `image` (8-bit, 1 or 3 channels) to path, replacing what is there. *bytes: the file's size.
Status write_pixel_file(const std::filesystem::path& path, const cv::Mat& image, uint64_t* bytes);

// Reads rows [row0, row1) of the image in a pixel file, in memory of their own. A file that is not a
// pixel file, or is shorter than its header says, or rows outside the image, are errors saying which.
// row1 < 0 reads to the last row.
Status read_pixel_rows(const std::filesystem::path& path, int row0, int row1, cv::Mat* rows);

}  // namespace dips
