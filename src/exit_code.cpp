#include "dips/exit_code.h"

#include <cstdio>
#include <vector>

#include "dips/image_io.h"

namespace dips {

void write_status_file(const std::string& path, ExitCode code) {
  if (path.empty()) return;
  const std::string text = std::to_string(static_cast<int>(code)) + "\n";
  if (!write_file_atomic(path, std::vector<uint8_t>(text.begin(), text.end()), true).ok()) {
    std::fprintf(stderr, "dips: warning: cannot write status file '%s'\n", path.c_str());
  }
}

}  // namespace dips
