// The fallback codec: OpenCV's imgcodecs, in libdips_imgcodecs.so, loaded with dlopen the first time a
// file needs it (every format but PNG and JPEG, and the PNG/JPEG cases codec_png.cpp and
// codec_jpeg.cpp decline). A process that never needs it never maps imgcodecs and its libraries.
#include <fmt/format.h>

#include "codec_internal.h"
#include "imgcodecs_module.h"
#include "module_loader.h"

namespace dips::codec {
namespace {

namespace module = dips::imgcodecs_module;

struct Module {
  module::DecodeFunction decode = nullptr;
  module::EncodeFunction encode = nullptr;
  module::CanWriteFunction can_write = nullptr;
  std::string error;  // why it could not be loaded; empty when it was
};

Module load_module() {
  const OpenedModule opened = open_module({module::kFileName, "DIPS_IMGCODECS_MODULE", "dips_imgcodecs_abi", module::kAbiVersion,
                                           {"dips_imgcodecs_decode", "dips_imgcodecs_encode", "dips_imgcodecs_can_write"}});
  Module module;
  module.decode = reinterpret_cast<module::DecodeFunction>(opened.symbol("dips_imgcodecs_decode"));
  module.encode = reinterpret_cast<module::EncodeFunction>(opened.symbol("dips_imgcodecs_encode"));
  module.can_write = reinterpret_cast<module::CanWriteFunction>(opened.symbol("dips_imgcodecs_can_write"));
  if (!opened.error.empty()) module.error = "this image needs OpenCV's image codecs: " + opened.error;
  return module;
}

const Module& loaded_module() {
  static const Module module = load_module();  // once per process, thread-safe
  return module;
}

}  // namespace

Status fallback_decode(const uint8_t* data, size_t size, cv::Mat* image) {
  const Module& module = loaded_module();
  if (!module.error.empty()) return Status::Error("cannot decode image: " + module.error);
  std::string error;
  switch (module.decode(data, size, image, &error)) {
    case module::kOk: return Status();
    case module::kFailed: return Status::Error("cannot decode image: corrupt, truncated or not a supported image format");
    default: return Status::Error("cannot decode image: " + error);
  }
}

Status fallback_encode(const cv::Mat& image, const std::string& ext, std::vector<uint8_t>* bytes) {
  const Module& module = loaded_module();
  if (!module.error.empty()) return Status::Error(fmt::format("cannot encode as '{}': {}", ext, module.error));
  std::string error;
  switch (module.encode(&image, ext.c_str(), bytes, &error)) {
    case module::kOk: return Status();
    case module::kFailed: return Status::Error(fmt::format("cannot encode as '{}'", ext));
    default: return Status::Error(fmt::format("cannot encode as '{}': {}", ext, error));
  }
}

bool fallback_can_write(const std::string& ext) {
  const Module& module = loaded_module();
  return module.error.empty() && module.can_write(ext.c_str()) != 0;
}

Status fallback_status() {
  const Module& module = loaded_module();
  return module.error.empty() ? Status() : Status::Error(module.error);
}

}  // namespace dips::codec
