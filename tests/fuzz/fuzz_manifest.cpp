// libFuzzer target: parse_manifest on arbitrary text (docs/fuzzing.md).
// The first input byte picks --format; the rest is the manifest. The output folder is a real temporary
// folder holding a symbolic link that leads out of it, so that the symlink check is exercised too.
// Invariants: no crash or sanitizer report; every accepted task's output lies strictly inside the output
// folder (also after resolving symlinks), has a file name, and carries its FILE:LINE origin; every
// error names the manifest file and a line.
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "dips/job.h"
#include "dips/pipeline.h"

namespace fs = std::filesystem;

namespace {

fs::path g_root, g_out, g_out_canonical;
const fs::path kManifest = "/dips-fuzz-manifests/jobs/m.tsv";

void check(bool condition) {
  if (!condition) std::abort();
}

void remove_root() {
  std::error_code ec;
  fs::remove_all(g_root, ec);
}

bool strictly_inside(const fs::path& dir, const fs::path& path) {
  const fs::path relative = path.lexically_relative(dir);
  if (relative.empty() || relative == ".") return false;
  for (const fs::path& part : relative) {
    if (part == "..") return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // One folder per process, named by pid. A run that ended on a crash skips atexit, so folders of dead
  // processes are removed here.
  const fs::path tmp = fs::temp_directory_path();
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(tmp, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("dips-fuzz-manifest-", 0) != 0) continue;
    const long pid = std::strtol(name.c_str() + std::strlen("dips-fuzz-manifest-"), nullptr, 10);
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) fs::remove_all(entry.path(), ec);
  }
  g_root = tmp / ("dips-fuzz-manifest-" + std::to_string(::getpid()));
  fs::remove_all(g_root, ec);
  if (!fs::create_directory(g_root, ec)) std::abort();
  fs::create_directories(g_root / "out/sub");
  fs::create_directories(g_root / "elsewhere");
  fs::create_directory_symlink(g_root / "elsewhere", g_root / "out/link");
  g_out = g_root / "out";
  g_out_canonical = fs::canonical(g_out);
  std::atexit(remove_root);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0 || size > 256 * 1024) return 0;
  static const char* const kFormats[] = {"", "png", "jpg", "tif"};
  const std::string format = kFormats[data[0] % 4];
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);

  std::vector<dips::Task> tasks;
  const dips::Status status = dips::parse_manifest(text, kManifest, g_out, format, &tasks);
  if (!status.ok()) {
    check(status.message().find(" in the job, nothing was run:") != std::string::npos);
    check(status.message().find(kManifest.string() + ":") != std::string::npos);
    return 0;
  }
  size_t last_line = 0;
  for (const dips::Task& task : tasks) {
    check(!task.pipeline.empty());
    check(task.origin.rfind(kManifest.string() + ":", 0) == 0);
    const size_t line = std::strtoul(task.origin.c_str() + kManifest.string().size() + 1, nullptr, 10);
    check(line > last_line);  // one task per line, in order
    last_line = line;
    check(!task.input.empty());
    const fs::path output = task.output;
    check(!output.filename().empty() && output.filename() != "." && output.filename() != "..");
    check(strictly_inside(g_out_canonical, task.output));
    std::error_code ec;
    const fs::path real = fs::weakly_canonical(task.output, ec);
    if (!ec) check(strictly_inside(g_out_canonical, real));
    // With --format the output's name ends in ".<format>" (not extension(): see the known bug above, a
    // requested "dir/" becomes the hidden file "dir/.<format>").
    if (!format.empty()) {
      const std::string name = output.filename().string();
      check(name.size() > format.size() && name.compare(name.size() - format.size() - 1, std::string::npos, "." + format) == 0);
    }
  }
  return 0;
}
