#pragma once
// Generated test images: deterministic for a seed, photo-like enough to exercise every operation.
#include <cstdint>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

namespace dips::testing {

// A colour image with gradients, noise, filled shapes, lines and text (8-bit BGR).
cv::Mat photo_like(int rows, int cols, unsigned seed);

// Uniform random noise (8-bit BGR): a worst case for edges and morphology.
cv::Mat noise(int rows, int cols, unsigned seed);

// A gray image expanded to three equal channels, as imread gives for a gray file.
cv::Mat gray_as_colour(int rows, int cols, unsigned seed);

// A white image with the given QR codes (OpenCV's QRCodeEncoder), each at a scale of `module` pixels,
// laid out left to right with a quiet zone. An empty list gives a plain photo-like image.
cv::Mat qr_image(const std::vector<std::string>& texts, int module = 4);

// True when both images have the same size, type and every pixel equal.
bool identical(const cv::Mat& a, const cv::Mat& b);


// ---- Added for the unit tests (test_operation, test_tiling, test_operation_qr) ----

// One QR code (OpenCV's QRCodeEncoder) as an 8-bit gray image, each module `module` pixels (the encoder's
// own 2-module white margin included).
cv::Mat qr_code(const std::string& text, int module = 4);

// A white BGR canvas of rows x cols with QR codes of the given texts (qr_code), the top-left corner of each
// code image at the given position.
cv::Mat qr_on_canvas(int rows, int cols, const std::vector<std::string>& texts,
                     const std::vector<cv::Point>& positions, int module = 4);

// A white BGR image with an EAN-13 barcode of the 13 digits (check digit included), `module` pixels a bar.
cv::Mat ean13_image(const std::string& digits, int module = 3);

// The plain-OpenCV reference of docs/operations.md, written independently of dips' own operation code.
// One step `name` with parameter `param` (-1: the default) on an 8-bit image of 1 or 3 channels, with the
// 1-channel convention: grayscale/threshold/equalize_histogram use a 1-channel image as its own gray;
// find_contours and read_qr_code expand it with GRAY2BGR first; the others run on it as it is.
// Decoded strings (read_qr_code) are appended to *decoded when it is not null.
cv::Mat reference_step(const std::string& name, int param, const cv::Mat& image,
                       std::vector<std::string>* decoded = nullptr);

// The reference of a pipeline text such as "blur=3,edge_detection", applied step by step (its own parser:
// names and "=N", no validation beyond what the tests need).
cv::Mat reference_pipeline(const std::string& pipeline, const cv::Mat& image,
                           std::vector<std::string>* decoded = nullptr);

// read_qr_code's reference on a BGR image: ZBar (every symbology enabled; QR data as the symbol's raw
// bytes, ZBAR_CFG_BINARY) on the gray image, drawing as docs/operations.md says. Returns the annotated copy; decoded strings go to *decoded when not null.
cv::Mat reference_read_qr(const cv::Mat& bgr, std::vector<std::string>* decoded = nullptr);

// A symbol as ZBar reports it on the gray image of a BGR image: data and location bounding box.
struct ZbarSymbol {
  std::string data;
  std::string type;
  cv::Rect box;  // x = min x, y = min y, width = max x - min x, height = max y - min y
};
std::vector<ZbarSymbol> zbar_symbols(const cv::Mat& bgr);

// Number of pixels that differ between two images of the same size and type (any channel differing).
int count_different(const cv::Mat& a, const cv::Mat& b);

}  // namespace dips::testing
