#include "module_loader.h"

#include <dlfcn.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <vector>

#if !defined(DIPS_MODULE_DIR) || !defined(DIPS_MODULE_RELDIR)
#error "DIPS_MODULE_DIR and DIPS_MODULE_RELDIR (the modules' install folder, absolute and under the prefix) come from CMakeLists.txt"
#endif

namespace dips {
namespace fs = std::filesystem;
namespace {

std::vector<fs::path> candidates(const ModuleSpec& spec) {
  const char* override_path = std::getenv(spec.env);
  if (override_path != nullptr && *override_path != '\0') return {override_path};
  std::vector<fs::path> paths;
  std::error_code ec;
  const fs::path executable = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    paths.push_back(executable.parent_path() / spec.file_name);
    // Installed under any prefix (cmake --install --prefix P, the .deb): P/bin/dips, P/DIPS_MODULE_RELDIR/.
    paths.push_back(executable.parent_path().parent_path() / DIPS_MODULE_RELDIR / spec.file_name);
  }
  paths.push_back(fs::path(DIPS_MODULE_DIR) / spec.file_name);
  return paths;
}

// Opens one candidate; on failure says why in *why.
void* open_one(const fs::path& path, const ModuleSpec& spec, std::string* why) {
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    *why = dlerror();  // names the path and the reason (no such file, a missing library, ...)
    return nullptr;
  }
  const auto abi = reinterpret_cast<int (*)()>(dlsym(handle, spec.abi_symbol));
  const bool complete = std::all_of(spec.functions.begin(), spec.functions.end(), [&](const char* name) { return dlsym(handle, name) != nullptr; });
  if (abi == nullptr || abi() != spec.abi || !complete) {
    *why = fmt::format("{}: made by another build of dips", path.string());
    dlclose(handle);
    return nullptr;
  }
  return handle;
}

}  // namespace

void* OpenedModule::symbol(const char* name) const { return handle == nullptr ? nullptr : dlsym(handle, name); }

OpenedModule open_module(const ModuleSpec& spec) {
  OpenedModule module;
  std::vector<std::string> failures;
  for (const fs::path& path : candidates(spec)) {
    std::string why;
    module.handle = open_one(path, spec, &why);
    if (module.handle != nullptr) return module;
    failures.push_back(why);
  }
  module.error = fmt::format("dips loads it from {}, but it could not be loaded ({}); set {} to the file's path", spec.file_name,
                             fmt::join(failures, "; "), spec.env);
  return module;
}

}  // namespace dips
