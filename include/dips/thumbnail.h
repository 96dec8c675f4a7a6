#pragma once
#include <opencv2/core.hpp>
#include <string>

#include "dips/wire.h"

namespace dips {

// A small JPEG of an image for the report's gallery: scaled down (area averaging) so that its long side is
// at most long_side pixels (never scaled up), 8-bit gray or BGR as the image is. Empty when the image is
// empty or cannot be encoded: a missing thumbnail never fails a task.
Bytes make_thumbnail(const cv::Mat& image, int long_side);

// Bytes as base64 (RFC 4648, padded): how the journal stores thumbnails.
std::string base64_encode(const Bytes& bytes);

}  // namespace dips
