#include "test_images.h"

#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>
#include <zbar.h>

#include <algorithm>
#include <climits>
#include <random>
#include <sstream>
#include <stdexcept>

namespace dips::testing {

cv::Mat photo_like(int rows, int cols, unsigned seed) {
  std::mt19937 rng(seed);
  cv::Mat image(rows, cols, CV_8UC3);
  const int phase = static_cast<int>(rng() % 97);
  for (int y = 0; y < rows; ++y) {
    for (int x = 0; x < cols; ++x) {
      image.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uchar>((x * 255) / std::max(1, cols - 1)),
                                            static_cast<uchar>((y * 255) / std::max(1, rows - 1)),
                                            static_cast<uchar>((x + y + phase) % 256));
    }
  }
  std::uniform_int_distribution<int> coord_x(0, std::max(0, cols - 1)), coord_y(0, std::max(0, rows - 1));
  std::uniform_int_distribution<int> colour(0, 255), radius(1, std::max(2, std::min(rows, cols) / 4));
  for (int i = 0; i < 6; ++i) {
    cv::Scalar c(colour(rng), colour(rng), colour(rng));
    cv::circle(image, {coord_x(rng), coord_y(rng)}, radius(rng), c, i % 2 ? -1 : 2);
    cv::rectangle(image, {coord_x(rng), coord_y(rng)}, {coord_x(rng), coord_y(rng)}, c, i % 3 ? 1 : -1);
    cv::line(image, {coord_x(rng), coord_y(rng)}, {coord_x(rng), coord_y(rng)}, c, 1 + i % 3);
  }
  cv::putText(image, "dips 42", {coord_x(rng) / 2, coord_y(rng) / 2 + 10}, cv::FONT_HERSHEY_SIMPLEX,
              std::max(0.3, rows / 200.0), cv::Scalar(colour(rng), colour(rng), colour(rng)), 1);
  cv::Mat grain(rows, cols, CV_8UC3);
  cv::randu(grain, 0, 24);
  image += grain;
  return image;
}

cv::Mat noise(int rows, int cols, unsigned seed) {
  cv::RNG rng(seed);
  cv::Mat image(rows, cols, CV_8UC3);
  rng.fill(image, cv::RNG::UNIFORM, 0, 256);
  return image;
}

cv::Mat gray_as_colour(int rows, int cols, unsigned seed) {
  cv::Mat gray, colour;
  cv::cvtColor(photo_like(rows, cols, seed), gray, cv::COLOR_BGR2GRAY);
  cv::cvtColor(gray, colour, cv::COLOR_GRAY2BGR);
  return colour;
}

cv::Mat qr_image(const std::vector<std::string>& texts, int module) {
  std::vector<cv::Mat> codes;
  int height = 40, width = 40;
  for (const std::string& text : texts) {
    cv::Mat code, big;
    cv::QRCodeEncoder::create()->encode(text, code);
    cv::resize(code, big, code.size() * module, 0, 0, cv::INTER_NEAREST);
    codes.push_back(big);
    width += big.cols + 40;
    height = std::max(height, big.rows + 160);
  }
  if (codes.empty()) return photo_like(120, 160, 7);
  cv::Mat page(height, width, CV_8UC3, cv::Scalar(255, 255, 255));
  int x = 40;
  for (const cv::Mat& code : codes) {
    cv::Mat bgr;
    cv::cvtColor(code, bgr, cv::COLOR_GRAY2BGR);
    bgr.copyTo(page(cv::Rect(x, 40, bgr.cols, bgr.rows)));
    x += bgr.cols + 40;
  }
  return page;
}

bool identical(const cv::Mat& a, const cv::Mat& b) {
  if (a.size() != b.size() || a.type() != b.type()) return false;
  if (a.empty()) return true;
  cv::Mat diff;
  cv::compare(a.reshape(1), b.reshape(1), diff, cv::CMP_NE);
  return cv::countNonZero(diff) == 0;
}


// ---- Added for the unit tests ----

cv::Mat qr_code(const std::string& text, int module) {
  cv::Mat code, big;
  cv::QRCodeEncoder::create()->encode(text, code);
  if (code.empty()) throw std::runtime_error("QRCodeEncoder could not encode '" + text + "'");
  cv::resize(code, big, code.size() * module, 0, 0, cv::INTER_NEAREST);
  return big;
}

cv::Mat qr_on_canvas(int rows, int cols, const std::vector<std::string>& texts,
                     const std::vector<cv::Point>& positions, int module) {
  cv::Mat page(rows, cols, CV_8UC3, cv::Scalar(255, 255, 255));
  for (size_t i = 0; i < texts.size(); ++i) {
    cv::Mat bgr;
    cv::cvtColor(qr_code(texts[i], module), bgr, cv::COLOR_GRAY2BGR);
    bgr.copyTo(page(cv::Rect(positions.at(i).x, positions.at(i).y, bgr.cols, bgr.rows)));
  }
  return page;
}

cv::Mat ean13_image(const std::string& digits, int module) {
  static const char* const kL[10] = {"0001101", "0011001", "0010011", "0111101", "0100011",
                                     "0110001", "0101111", "0111011", "0110111", "0001011"};
  static const char* const kG[10] = {"0100111", "0110011", "0011011", "0100001", "0011101",
                                     "0111001", "0000101", "0010001", "0001001", "0010111"};
  static const char* const kR[10] = {"1110010", "1100110", "1101100", "1000010", "1011100",
                                     "1001110", "1010000", "1000100", "1001000", "1110100"};
  static const char* const kParity[10] = {"LLLLLL", "LLGLGG", "LLGGLG", "LLGGGL", "LGLLGG",
                                          "LGGLLG", "LGGGLL", "LGLGLG", "LGLGGL", "LGGLGL"};
  if (digits.size() != 13) throw std::invalid_argument("ean13_image needs 13 digits");
  std::string bits = "101";
  const char* parity = kParity[digits[0] - '0'];
  for (int i = 1; i <= 6; ++i) bits += parity[i - 1] == 'L' ? kL[digits[i] - '0'] : kG[digits[i] - '0'];
  bits += "01010";
  for (int i = 7; i <= 12; ++i) bits += kR[digits[i] - '0'];
  bits += "101";
  const int quiet = 12 * module;
  cv::Mat page(40 * module + 40, static_cast<int>(bits.size()) * module + 2 * quiet, CV_8UC3,
               cv::Scalar(255, 255, 255));
  for (size_t i = 0; i < bits.size(); ++i) {
    if (bits[i] == '1') page(cv::Rect(quiet + static_cast<int>(i) * module, 20, module, 40 * module)).setTo(0);
  }
  return page;
}

std::vector<ZbarSymbol> zbar_symbols(const cv::Mat& bgr) {
  CV_Assert(bgr.type() == CV_8UC3);
  cv::Mat gray;
  cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
  zbar::ImageScanner scanner;
  // ZBar's default configuration (operations.md); it leaves UPC-A/E and ISBN off, so those codes come
  // back as EAN-13.
  // operations.md: "the data is the symbol's bytes taken as UTF-8 text". Without ZBAR_CFG_BINARY, ZBar
  // guesses a character set for QR byte segments and converts them: UTF-8 "Grüße" comes back as Shift-JIS
  // read text ("Grﾃｼﾃ歹"). With it, get_data() is the symbol's bytes.
  scanner.set_config(zbar::ZBAR_QRCODE, zbar::ZBAR_CFG_BINARY, 1);
  zbar::Image zimage(static_cast<unsigned>(gray.cols), static_cast<unsigned>(gray.rows), "Y800", gray.data,
                     gray.total());
  scanner.scan(zimage);
  std::vector<ZbarSymbol> symbols;
  for (auto symbol = zimage.symbol_begin(); symbol != zimage.symbol_end(); ++symbol) {
    int x0 = INT_MAX, y0 = INT_MAX, x1 = INT_MIN, y1 = INT_MIN;
    for (int i = 0; i < symbol->get_location_size(); ++i) {
      x0 = std::min(x0, symbol->get_location_x(i));
      y0 = std::min(y0, symbol->get_location_y(i));
      x1 = std::max(x1, symbol->get_location_x(i));
      y1 = std::max(y1, symbol->get_location_y(i));
    }
    if (symbol->get_location_size() == 0) x0 = y0 = x1 = y1 = 0;
    symbols.push_back(ZbarSymbol{symbol->get_data(), symbol->get_type_name(), cv::Rect(x0, y0, x1 - x0, y1 - y0)});
  }
  zimage.set_data(nullptr, 0);
  return symbols;
}

cv::Mat reference_read_qr(const cv::Mat& bgr, std::vector<std::string>* decoded) {
  cv::Mat out = bgr.clone();
  const cv::Scalar green(0, 255, 0);
  for (const ZbarSymbol& symbol : zbar_symbols(bgr)) {
    const cv::Rect& r = symbol.box;
    cv::rectangle(out, cv::Point(r.x, r.y), cv::Point(r.x + r.width, r.y + r.height), green, 2);
    const double s = std::min(1.0, 1000.0 / static_cast<double>(symbol.data.size()));
    const int t = std::max(1, static_cast<int>(s));
    int baseline = 0;
    const cv::Size text = cv::getTextSize(symbol.data, cv::FONT_HERSHEY_SIMPLEX, s, t, &baseline);
    int x = std::max(r.x, 0);
    const int y = r.y + r.height + text.height + 10;
    if (x + text.width > out.cols) x = out.cols - text.width - 10;
    cv::putText(out, symbol.data, cv::Point(x, y), cv::FONT_HERSHEY_SIMPLEX, s, green, t);
    if (decoded != nullptr) decoded->push_back(symbol.data);
  }
  return out;
}

namespace {

cv::Mat own_gray(const cv::Mat& image) {
  if (image.channels() == 1) return image.clone();
  cv::Mat gray;
  cv::cvtColor(image, gray, cv::COLOR_BGR2GRAY);
  return gray;
}

cv::Mat as_bgr(const cv::Mat& image) {
  if (image.channels() == 3) return image.clone();
  cv::Mat bgr;
  cv::cvtColor(image, bgr, cv::COLOR_GRAY2BGR);
  return bgr;
}

int odd(int k) { return k % 2 == 0 ? k - 1 : k; }

}  // namespace

cv::Mat reference_step(const std::string& name, int param, const cv::Mat& image, std::vector<std::string>* decoded) {
  cv::Mat out;
  if (name == "edge_detection") {
    cv::Canny(image, out, 100, 200);
  } else if (name == "color_inversion") {
    cv::bitwise_not(image, out);
  } else if (name == "grayscale") {
    out = own_gray(image);
  } else if (name == "threshold") {
    cv::threshold(own_gray(image), out, 128, 255, cv::THRESH_BINARY);
  } else if (name == "blur") {
    const int k = odd(param < 0 ? 5 : param);
    cv::GaussianBlur(image, out, cv::Size(k, k), 0);
  } else if (name == "dilate" || name == "erode") {
    const int k = odd(param < 0 ? 5 : param);
    const cv::Mat kernel = cv::Mat::ones(k, k, CV_8U);
    if (name == "dilate") {
      cv::dilate(image, out, kernel, cv::Point(-1, -1), 2);
    } else {
      cv::erode(image, out, kernel, cv::Point(-1, -1), 2);
    }
  } else if (name == "resize") {
    if (param < 0) return image.clone();
    cv::resize(image, out, cv::Size(param, param), 0, 0, cv::INTER_AREA);
  } else if (name == "equalize_histogram") {
    cv::equalizeHist(own_gray(image), out);
  } else if (name == "find_contours") {
    const cv::Mat bgr = as_bgr(image);
    cv::Mat gray, edges;
    cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
    cv::Canny(gray, edges, 30, 100);
    std::vector<std::vector<cv::Point>> contours;
    cv::findContours(edges, contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE);
    out = bgr.clone();
    cv::drawContours(out, contours, -1, cv::Scalar(0, 255, 0), 1);
  } else if (name == "read_qr_code") {
    out = reference_read_qr(as_bgr(image), decoded);
  } else {
    throw std::invalid_argument("reference_step: unknown operation " + name);
  }
  return out;
}

cv::Mat reference_pipeline(const std::string& pipeline, const cv::Mat& image, std::vector<std::string>* decoded) {
  cv::Mat current = image;
  std::stringstream steps(pipeline);
  std::string item;
  while (std::getline(steps, item, ',')) {
    const size_t eq = item.find('=');
    const int param = eq == std::string::npos ? -1 : std::stoi(item.substr(eq + 1));
    current = reference_step(item.substr(0, eq), param, current, decoded);
  }
  return current;
}

int count_different(const cv::Mat& a, const cv::Mat& b) {
  CV_Assert(a.size() == b.size() && a.type() == b.type());
  if (a.empty()) return 0;
  cv::Mat diff, any;
  cv::compare(a.reshape(1, a.rows), b.reshape(1, b.rows), diff, cv::CMP_NE);
  if (a.channels() == 1) return cv::countNonZero(diff);
  cv::Mat per_pixel = diff.reshape(a.channels(), a.rows);
  std::vector<cv::Mat> planes;
  cv::split(per_pixel, planes);
  any = planes[0].clone();
  for (size_t i = 1; i < planes.size(); ++i) any |= planes[i];
  return cv::countNonZero(any);
}

}  // namespace dips::testing
