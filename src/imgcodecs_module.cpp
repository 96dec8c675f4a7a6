// libdips_imgcodecs.so: OpenCV's imgcodecs behind four C functions (imgcodecs_module.h), so that dips
// itself does not link it (with its ~140 libraries, GDAL among them, it costs every rank ~0.1 s at
// start-up) and loads it only for the formats and cases its own PNG/JPEG codecs leave to OpenCV.
#include "imgcodecs_module.h"

#include <climits>
#include <exception>
#include <opencv2/imgcodecs.hpp>

#define DIPS_EXPORT extern "C" __attribute__((visibility("default")))

using dips::imgcodecs_module::kAbiVersion;
using dips::imgcodecs_module::kFailed;
using dips::imgcodecs_module::kOk;
using dips::imgcodecs_module::kThrew;

DIPS_EXPORT int dips_imgcodecs_abi() { return kAbiVersion; }

DIPS_EXPORT int dips_imgcodecs_decode(const uint8_t* data, size_t size, cv::Mat* image, std::string* error) {
  if (size > INT_MAX) {  // imdecode takes its buffer as a 1-row Mat
    *error = "file too large for OpenCV's decoders (over 2 GiB)";
    return kThrew;
  }
  try {
    *image = cv::imdecode(cv::Mat(1, static_cast<int>(size), CV_8UC1, const_cast<uint8_t*>(data)), cv::IMREAD_COLOR);
    return image->empty() ? kFailed : kOk;
  } catch (const std::exception& e) {  // cv::Exception, std::bad_alloc
    *error = e.what();
    return kThrew;
  }
}

DIPS_EXPORT int dips_imgcodecs_encode(const cv::Mat* image, const char* ext, std::vector<uint8_t>* bytes, std::string* error) {
  try {
    return cv::imencode(ext, *image, *bytes) ? kOk : kFailed;
  } catch (const std::exception& e) {
    *error = e.what();
    return kThrew;
  }
}

DIPS_EXPORT int dips_imgcodecs_can_write(const char* ext) {
  try {
    return cv::haveImageWriter(std::string("x") + ext) ? 1 : 0;
  } catch (const std::exception&) {
    return 0;
  }
}
