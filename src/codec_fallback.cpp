// The fallback codec: OpenCV's imgcodecs, in libdips_imgcodecs.so, loaded with dlopen the first time a
// file needs it (every format but PNG and JPEG, and the PNG/JPEG cases codec_png.cpp and
// codec_jpeg.cpp decline). A process that never needs it never maps imgcodecs and its libraries.
#include <dlfcn.h>
#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>

#include "codec_internal.h"
#include "imgcodecs_module.h"

#if !defined(DIPS_MODULE_DIR) || !defined(DIPS_MODULE_RELDIR)
#error "DIPS_MODULE_DIR and DIPS_MODULE_RELDIR (the install folder of libdips_imgcodecs.so, absolute and under the prefix) come from CMakeLists.txt"
#endif

namespace dips::codec {
namespace fs = std::filesystem;
namespace {

namespace module = dips::imgcodecs_module;

// Where the module may be, in order: $DIPS_IMGCODECS_MODULE alone when it is set (tests, unusual
// installs); else next to the running executable (the build tree), the module folder relative to it (an
// install), and the install folder configured at build time. New locations go here.
std::vector<fs::path> module_candidates() {
  const char* override_path = std::getenv("DIPS_IMGCODECS_MODULE");
  if (override_path != nullptr && *override_path != '\0') return {override_path};
  std::vector<fs::path> candidates;
  std::error_code ec;
  const fs::path executable = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    candidates.push_back(executable.parent_path() / module::kFileName);
    // Installed under any prefix (cmake --install --prefix P, the .deb): P/bin/dips, P/DIPS_MODULE_RELDIR/.
    candidates.push_back(executable.parent_path().parent_path() / DIPS_MODULE_RELDIR / module::kFileName);
  }
  candidates.push_back(fs::path(DIPS_MODULE_DIR) / module::kFileName);
  return candidates;
}

struct Module {
  module::DecodeFunction decode = nullptr;
  module::EncodeFunction encode = nullptr;
  module::CanWriteFunction can_write = nullptr;
  std::string error;  // why it could not be loaded; empty when it was
};

// Opens one candidate; on failure says why in *why.
bool open_module(const fs::path& path, Module* module, std::string* why) {
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    *why = dlerror();  // names the path and the reason (no such file, a missing library, ...)
    return false;
  }
  const auto abi = reinterpret_cast<module::AbiFunction>(dlsym(handle, "dips_imgcodecs_abi"));
  module->decode = reinterpret_cast<module::DecodeFunction>(dlsym(handle, "dips_imgcodecs_decode"));
  module->encode = reinterpret_cast<module::EncodeFunction>(dlsym(handle, "dips_imgcodecs_encode"));
  module->can_write = reinterpret_cast<module::CanWriteFunction>(dlsym(handle, "dips_imgcodecs_can_write"));
  if (abi == nullptr || abi() != module::kAbiVersion || !module->decode || !module->encode || !module->can_write) {
    *why = fmt::format("{}: made by another build of dips", path.string());
    dlclose(handle);
    return false;
  }
  return true;  // never closed: the process keeps it to the end
}

Module load_module() {
  Module module;
  std::vector<std::string> failures;
  for (const fs::path& path : module_candidates()) {
    std::string why;
    if (open_module(path, &module, &why)) return module;
    failures.push_back(why);
  }
  module = Module();
  module.error = fmt::format("this image needs OpenCV's image codecs, which dips loads from {}, but it could not be "
                             "loaded ({}); set DIPS_IMGCODECS_MODULE to the file's path",
                             module::kFileName, fmt::join(failures, "; "));
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
