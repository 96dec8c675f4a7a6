#include "dips/operation.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <opencv2/imgproc.hpp>
#include <stdexcept>

#include "module_loader.h"
#include "qr_module.h"

namespace dips {
namespace {

constexpr int kMaxKernel = 255;
constexpr int kMaxResize = 32768;

// docs/operations.md: "an even k is taken as k-1".
int odd_kernel(int k) { return k % 2 == 0 ? k - 1 : k; }

cv::Mat to_gray(const cv::Mat& image) {
  if (image.channels() == 1) return image;  // BGR2GRAY of (v,v,v) is v: the gray image is its own gray
  cv::Mat gray;
  cv::cvtColor(image, gray, cv::COLOR_BGR2GRAY);
  return gray;
}

cv::Mat to_bgr(const cv::Mat& image) {
  cv::Mat bgr;
  if (image.channels() == 1) {
    cv::cvtColor(image, bgr, cv::COLOR_GRAY2BGR);
  } else {
    bgr = image.clone();
  }
  return bgr;
}

int no_halo(int) { return 0; }
int blur_halo(int k) { return odd_kernel(k) / 2; }
int morph_halo(int k) { return 2 * (odd_kernel(k) / 2); }
// Canny's 3x3 Sobel needs one row, its non-maximum suppression the gradient one row further.
int canny_halo(int) { return 2; }

OpResult image_only(cv::Mat image) { return OpResult{std::move(image), {}}; }

constexpr int kEdgeLow = 100, kEdgeHigh = 200;
constexpr int kContourLow = 30, kContourHigh = 100;

OpResult edge_detection(const cv::Mat& image, int) {
  cv::Mat edges;
  cv::Canny(image, edges, kEdgeLow, kEdgeHigh);
  return image_only(edges);
}

// Rows y-1, y and y+1 of an image, its edges replicated as cv::Canny's own Sobel does (a ROI is taken as
// isolated, as Canny takes it).
struct RowTriple {
  const uchar* up;
  const uchar* mid;
  const uchar* down;
};

RowTriple rows_around(const cv::Mat& image, int y) {
  return {image.ptr<uchar>(std::max(0, y - 1)), image.ptr<uchar>(y), image.ptr<uchar>(std::min(image.rows - 1, y + 1))};
}

// cv::Canny's gradient magnitude at column x: L1, |dx| + |dy| of the 3x3 Sobel, the largest over the
// channels.
int canny_magnitude(const RowTriple& r, int x, int cols, int channels) {
  const int left = std::max(0, x - 1) * channels, right = std::min(cols - 1, x + 1) * channels;
  const int centre = x * channels;
  int magnitude = 0;
  for (int k = 0; k < channels; ++k) {
    const int dx = (r.up[right + k] + 2 * r.mid[right + k] + r.down[right + k]) -
                   (r.up[left + k] + 2 * r.mid[left + k] + r.down[left + k]);
    const int dy = (r.down[left + k] + 2 * r.down[centre + k] + r.down[right + k]) -
                   (r.up[left + k] + 2 * r.up[centre + k] + r.up[right + k]);
    magnitude = std::max(magnitude, std::abs(dx) + std::abs(dy));
  }
  return magnitude;
}

// Canny at the low threshold alone gives the candidates (pixels that survive non-maximum suppression
// with a magnitude above it). The strong pixels are the candidates whose magnitude is above the high
// threshold: Canny's own test, so that a second Canny at the high threshold (as much work again) is not
// needed. Candidates are a few percent of the pixels: the scan skips eight empty ones at a time.
cv::Mat canny_marks(const cv::Mat& image, int) {
  cv::Mat marks;
  cv::Canny(image, marks, kEdgeLow, kEdgeLow);
  for (int y = 0; y < marks.rows; ++y) {
    const RowTriple rows = rows_around(image, y);
    uchar* m = marks.ptr<uchar>(y);
    for (int x = 0; x < marks.cols; ++x) {
      if (x + 8 <= marks.cols) {
        uint64_t eight;
        std::memcpy(&eight, m + x, sizeof eight);
        if (eight == 0) {
          x += 7;
          continue;
        }
      }
      if (m[x] != 0) m[x] = canny_magnitude(rows, x, image.cols, image.channels()) > kEdgeHigh ? kStrong : kCandidate;
    }
  }
  return marks;
}

cv::Mat finish_canny(const cv::Mat& marks, const std::vector<double>&) { return canny_hysteresis(marks); }

OpResult color_inversion(const cv::Mat& image, int) {
  cv::Mat out;
  cv::bitwise_not(image, out);
  return image_only(out);
}

// A gray input is its own gray: copied, as every operation's result is an image of its own.
OpResult grayscale(const cv::Mat& image, int) { return image_only(image.channels() == 1 ? image.clone() : to_gray(image)); }

OpResult threshold(const cv::Mat& image, int) {
  cv::Mat out;
  cv::threshold(to_gray(image), out, 128, 255, cv::THRESH_BINARY);
  return image_only(out);
}

OpResult blur(const cv::Mat& image, int k) {
  const int odd = odd_kernel(k);
  cv::Mat out;
  cv::GaussianBlur(image, out, cv::Size(odd, odd), 0);
  return image_only(out);
}

cv::Mat morph_kernel(int k) {
  const int odd = odd_kernel(k);
  return cv::Mat::ones(odd, odd, CV_8U);
}

OpResult dilate(const cv::Mat& image, int k) {
  cv::Mat out;
  cv::dilate(image, out, morph_kernel(k), cv::Point(-1, -1), 2);
  return image_only(out);
}

OpResult erode(const cv::Mat& image, int k) {
  cv::Mat out;
  cv::erode(image, out, morph_kernel(k), cv::Point(-1, -1), 2);
  return image_only(out);
}

OpResult resize(const cv::Mat& image, int n) {
  if (n == 0) return image_only(image.clone());
  cv::Mat out;
  cv::resize(image, out, cv::Size(n, n), 0, 0, cv::INTER_AREA);
  return image_only(out);
}

OpResult equalize_histogram(const cv::Mat& image, int) {
  cv::Mat out;
  cv::equalizeHist(to_gray(image), out);
  return image_only(out);
}

cv::Mat gray_partial(const cv::Mat& image, int) { return to_gray(image).clone(); }

cv::Mat finish_equalize(const cv::Mat& gray, const std::vector<double>& histogram) {
  cv::Mat lut = equalize_lut(histogram);
  if (lut.empty()) return gray.clone();
  cv::Mat out;
  cv::LUT(gray, lut, out);
  return out;
}

OpResult find_contours(const cv::Mat& image, int) {
  cv::Mat edges;
  cv::Canny(to_gray(image), edges, kContourLow, kContourHigh);
  std::vector<std::vector<cv::Point>> contours;
  cv::findContours(edges, contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE);
  cv::Mat out = to_bgr(image);
  cv::drawContours(out, contours, -1, cv::Scalar(0, 255, 0), 1);
  return image_only(out);
}

// Draws one decoded symbol as docs/operations.md's read_qr_code section says.
void annotate_symbol(cv::Mat& image, const cv::Rect& box, const std::string& data) {
  const cv::Scalar green(0, 255, 0);
  cv::rectangle(image, cv::Point(box.x, box.y), cv::Point(box.x + box.width, box.y + box.height), green, 2);
  const double scale = data.empty() ? 1.0 : std::min(1.0, 1000.0 / static_cast<double>(data.size()));
  const int thickness = std::max(1, static_cast<int>(scale));
  int baseline = 0;
  const cv::Size text = cv::getTextSize(data, cv::FONT_HERSHEY_SIMPLEX, scale, thickness, &baseline);
  int x = std::max(box.x, 0);
  const int y = box.y + box.height + text.height + 10;
  if (x + text.width > image.cols) x = image.cols - text.width - 10;
  cv::putText(image, data, cv::Point(x, y), cv::FONT_HERSHEY_SIMPLEX, scale, green, thickness);
}

// ZBar's scan, from libdips_qr.so: opened by the first scan of the process (qr_module.h).
qr_module::ScanFunction qr_scanner() {
  static const auto scan = []() -> qr_module::ScanFunction {
    const OpenedModule opened = open_module({qr_module::kFileName, "DIPS_QR_MODULE", "dips_qr_abi", qr_module::kAbiVersion, {"dips_qr_scan"}});
    if (!opened.error.empty()) throw std::runtime_error("ZBar is not available: " + opened.error);
    return reinterpret_cast<qr_module::ScanFunction>(opened.symbol("dips_qr_scan"));
  }();  // a failure throws, and the next scan tries again
  return scan;
}

OpResult read_qr_code(const cv::Mat& image, int) {
  const qr_module::ScanFunction scan = qr_scanner();
  cv::Mat gray = to_gray(image);
  if (!gray.isContinuous()) gray = gray.clone();
  std::vector<qr_module::Symbol> symbols;
  std::string error;
  if (scan(gray.data, gray.cols, gray.rows, &symbols, &error) != qr_module::kOk) throw std::runtime_error("ZBar: " + error);
  OpResult result{to_bgr(image), {}};
  for (qr_module::Symbol& symbol : symbols) {
    annotate_symbol(result.image, cv::Rect(symbol.min_x, symbol.min_y, symbol.max_x - symbol.min_x, symbol.max_y - symbol.min_y), symbol.data);
    result.decoded.push_back(std::move(symbol.data));
  }
  return result;
}

constexpr ParamSpec kNoParam{};
constexpr ParamSpec kKernelParam{true, 5, 1, kMaxKernel};
constexpr ParamSpec kResizeParam{true, 0, 1, kMaxResize};

// The registry: one line per operation.
const std::vector<Operation> kOperations = {
    {"edge_detection", "Canny edges (thresholds 100, 200) of the colour image; 1 channel 0/255", kNoParam, Tiling::kCanny, OutputChannels::kGray, canny_halo, edge_detection, canny_marks, finish_canny, 1.2},
    {"color_inversion", "bitwise NOT of every channel", kNoParam, Tiling::kPointwise, OutputChannels::kSame, no_halo, color_inversion, nullptr, nullptr},
    {"grayscale", "BGR to gray; 1 channel", kNoParam, Tiling::kPointwise, OutputChannels::kGray, no_halo, grayscale, nullptr, nullptr},
    {"threshold", "gray, then binary threshold at 128; 1 channel 0/255", kNoParam, Tiling::kPointwise, OutputChannels::kGray, no_halo, threshold, nullptr, nullptr},
    {"blur", "Gaussian blur with a k x k kernel (even k taken as k-1)", kKernelParam, Tiling::kNeighbourhood, OutputChannels::kSame, blur_halo, blur, nullptr, nullptr},
    {"dilate", "dilation by a k x k square, 2 iterations (even k taken as k-1)", kKernelParam, Tiling::kNeighbourhood, OutputChannels::kSame, morph_halo, dilate, nullptr, nullptr},
    {"erode", "erosion by a k x k square, 2 iterations (even k taken as k-1)", kKernelParam, Tiling::kNeighbourhood, OutputChannels::kSame, morph_halo, erode, nullptr, nullptr},
    {"resize", "area resize to n x n; without n the image is unchanged", kResizeParam, Tiling::kWholeImage, OutputChannels::kSame, no_halo, resize, nullptr, nullptr},
    {"equalize_histogram", "gray, then histogram equalization; 1 channel", kNoParam, Tiling::kHistogram, OutputChannels::kGray, no_halo, equalize_histogram, gray_partial, finish_equalize},
    {"find_contours", "external contours of Canny(gray, 30, 100) drawn in green", kNoParam, Tiling::kWholeImage, OutputChannels::kColour, no_halo, find_contours, nullptr, nullptr},
    {"read_qr_code", "decode QR codes and barcodes (ZBar), draw boxes and text in green", kNoParam, Tiling::kWholeImage, OutputChannels::kColour, no_halo, read_qr_code, nullptr, nullptr},
};

std::string range_text(const Operation& op) {
  if (op.name == "resize") return fmt::format("an output size n in {}..{} (no n: unchanged)", op.param.min, op.param.max);
  return fmt::format("a kernel size in {}..{} (default {})", op.param.min, op.param.max, op.param.default_value);
}

}  // namespace

const char* tiling_name(Tiling tiling) {
  switch (tiling) {
    case Tiling::kPointwise: return "pointwise";
    case Tiling::kNeighbourhood: return "neighbourhood";
    case Tiling::kCanny: return "canny";
    case Tiling::kHistogram: return "histogram";
    case Tiling::kWholeImage: return "whole-image";
  }
  return "?";
}

const std::vector<Operation>& operations() { return kOperations; }

const Operation* find_operation(std::string_view name) {
  for (const Operation& op : kOperations) {
    if (op.name == name) return &op;
  }
  return nullptr;
}

Status parse_param(const Operation& op, std::string_view text, bool given, int* param) {
  if (!given) {
    *param = op.param.default_value;
    return Status();
  }
  if (!op.param.accepted) {
    return Status::Error(fmt::format("{} takes no parameter (got '{}={}')", op.name, op.name, text));
  }
  int value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec == std::errc::invalid_argument || ptr != end) {
    return Status::Error(fmt::format("{}: parameter '{}' is not an integer; {} takes {}", op.name, text, op.name, range_text(op)));
  }
  if (ec == std::errc::result_out_of_range || value < op.param.min || value > op.param.max) {
    return Status::Error(fmt::format("{}: parameter {} is out of range; {} takes {}", op.name, text, op.name, range_text(op)));
  }
  *param = value;
  return Status();
}

int output_channels(const std::vector<Step>& pipeline, int input_channels) {
  int channels = input_channels;
  for (const Step& step : pipeline) {
    if (step.op->channels == OutputChannels::kGray) channels = 1;
    if (step.op->channels == OutputChannels::kColour) channels = 3;
  }
  return channels;
}

Status apply_step(const Step& step, const cv::Mat& image, OpResult* result) {
  try {
    *result = step.op->apply(image, step.param);
    return Status();
  } catch (const std::exception& e) {
    return Status::Error(fmt::format("{} failed: {}", step.op->name, e.what()));
  }
}

std::vector<double> gray_histogram(const cv::Mat& gray) {
  std::vector<double> histogram(256, 0.0);
  for (int y = 0; y < gray.rows; ++y) {
    const uchar* row = gray.ptr<uchar>(y);
    for (int x = 0; x < gray.cols; ++x) histogram[row[x]] += 1.0;
  }
  return histogram;
}

cv::Mat canny_hysteresis(const cv::Mat& marks) {
  CV_Assert(marks.type() == CV_8UC1);
  // A frame of kNotEdge around the map lets the walk step to all 8 neighbours without bounds checks;
  // pixels reached are marked kEdge in place, so each is pushed once.
  constexpr uchar kEdge = 3;
  cv::Mat walk;
  cv::copyMakeBorder(marks, walk, 1, 1, 1, 1, cv::BORDER_CONSTANT, cv::Scalar(kNotEdge));
  const ptrdiff_t step = static_cast<ptrdiff_t>(walk.step);
  const ptrdiff_t neighbours[8] = {-step - 1, -step, -step + 1, -1, 1, step - 1, step, step + 1};
  std::vector<uchar*> stack;
  for (int y = 1; y <= marks.rows; ++y) {
    uchar* row = walk.ptr<uchar>(y);
    for (int x = 1; x <= marks.cols; ++x) {
      if (row[x] != kStrong) continue;
      row[x] = kEdge;
      stack.push_back(row + x);
      while (!stack.empty()) {
        uchar* p = stack.back();
        stack.pop_back();
        for (const ptrdiff_t n : neighbours) {
          if (p[n] == kCandidate || p[n] == kStrong) {
            p[n] = kEdge;
            stack.push_back(p + n);
          }
        }
      }
    }
  }
  cv::Mat edges;
  cv::compare(walk(cv::Rect(1, 1, marks.cols, marks.rows)), kEdge, edges, cv::CMP_EQ);
  return edges;
}

cv::Mat equalize_lut(const std::vector<double>& histogram) {
  // Mirrors cv::equalizeHist (imgproc/src/histogram.cpp): integer counts, a float scale.
  double total = 0;
  for (double count : histogram) total += count;
  if (total == 0) return cv::Mat();
  int i = 0;
  while (histogram[i] == 0) ++i;
  cv::Mat lut(1, 256, CV_8U, cv::Scalar(i));
  if (histogram[i] == total) return lut;
  const float scale = 255.f / static_cast<float>(static_cast<long long>(total - histogram[i]));
  long long sum = 0;
  uchar* table = lut.ptr<uchar>();
  for (table[i++] = 0; i < 256; ++i) {
    sum += static_cast<long long>(histogram[i]);
    table[i] = cv::saturate_cast<uchar>(static_cast<float>(sum) * scale);
  }
  return lut;
}

}  // namespace dips
