#pragma once
// The interface between dips (codec_fallback.cpp) and libdips_imgcodecs.so (imgcodecs_module.cpp), the
// one part of dips that links OpenCV's imgcodecs and is loaded with dlopen on first use. Both sides are
// built together with the same compiler and link the same libopencv_core, so C++ types may cross; no
// exception does.
#include <cstddef>
#include <cstdint>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

namespace dips::imgcodecs_module {

// Raised with any change below, so that a module left over from another build is refused.
constexpr int kAbiVersion = 1;

// The module's file name, looked for in the folders codec_fallback.cpp lists.
constexpr const char* kFileName = "libdips_imgcodecs.so";

// What a call did: kFailed is OpenCV's own failure (an empty image, imencode returning false), kThrew
// an OpenCV exception whose text is in *error.
enum Result : int { kOk = 0, kFailed = 1, kThrew = 2 };

using DecodeFunction = int (*)(const uint8_t* data, size_t size, cv::Mat* image, std::string* error);
using EncodeFunction = int (*)(const cv::Mat* image, const char* ext, std::vector<uint8_t>* bytes, std::string* error);
using CanWriteFunction = int (*)(const char* ext);

}  // namespace dips::imgcodecs_module

extern "C" {
// kAbiVersion of the module.
int dips_imgcodecs_abi();
// cv::imdecode(data, IMREAD_COLOR).
int dips_imgcodecs_decode(const uint8_t* data, size_t size, cv::Mat* image, std::string* error);
// cv::imencode(ext, *image, *bytes) with default parameters.
int dips_imgcodecs_encode(const cv::Mat* image, const char* ext, std::vector<uint8_t>* bytes, std::string* error);
// 1 when cv::haveImageWriter knows the extension, else 0.
int dips_imgcodecs_can_write(const char* ext);
}
