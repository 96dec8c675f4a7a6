#pragma once
#include <opencv2/core.hpp>
#include <string>

#include "dips/wire.h"

namespace dips {

// The largest thumbnail kept: a picture of noise at 160 px is not worth its bytes in the journal (a
// photo's is 2-13 KB), and the cap bounds what thumbnails add to a report.
constexpr size_t kMaxThumbnailBytes = 24 * 1024;

// A small JPEG of an image for the report's gallery: scaled down (area averaging) so that its long side is
// at most long_side pixels (never scaled up; the average is over a grid of 4 x 4 of its pixels per
// thumbnail pixel, not all of them: cheap at any size), 8-bit gray or BGR as the image is. Empty when the image is
// empty, cannot be encoded, or its JPEG is over kMaxThumbnailBytes: a missing thumbnail never fails a task.
Bytes make_thumbnail(const cv::Mat& image, int long_side);

// A band's share of the thumbnail of a whole image of width x height that it belongs to: `rows`, the
// image's rows row0 .. row0 + rows.rows, scaled to that thumbnail's rows (make_thumbnail's size, the
// band's edges rounded to the nearest thumbnail row) by area averaging. The shares of bands that cover the
// image stack into the thumbnail (stack_thumbnail_rows), so that an image cut in bands gets one without
// any piece holding all of it. Empty when the band covers no row of the thumbnail.
cv::Mat thumbnail_rows(const cv::Mat& rows, int row0, int width, int height, int long_side);

// The JPEG of the shares of a thumbnail stacked in order; empty when there are none, they do not stack
// (widths or types differ), or it is over kMaxThumbnailBytes.
Bytes stack_thumbnail_rows(const std::vector<cv::Mat>& shares);

// Bytes as base64 (RFC 4648, padded): how the journal stores thumbnails.
std::string base64_encode(const Bytes& bytes);

}  // namespace dips
