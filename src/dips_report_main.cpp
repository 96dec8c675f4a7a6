// dips-report REPORT.jsonl [-o FILE] [--all]: writes the report page of a journal (html_report.h), by default
// beside it as REPORT.html. Exit status: 0 written, 2 usage error, 1 the journal cannot be read or the
// page cannot be written.
#include <cstdio>
#include <cstring>
#include <string>

#include "dips/html_report.h"

namespace {

constexpr const char* kUsage =
    "usage: dips-report REPORT.jsonl [-o FILE] [--all]\n"
    "Writes the report page of a dips report (journal) - summary, workers, timeline, throughput and the\n"
    "gallery of tasks - as one self-contained HTML file, by default beside it (REPORT.html). Works on any\n"
    "report: finished, interrupted, resumed, of any format version. A page holds 5,000 tasks (failures,\n"
    "then those with thumbnails, then the latest) and the latest 50,000 pieces; --all puts every one in\n"
    "(the page of a huge job is then large).\n";

}  // namespace

int main(int argc, char** argv) {
  std::string journal, page;
  dips::PageLimits limits = dips::kWrittenPageLimits;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (arg == "--all") {
      limits = dips::PageLimits{};
    } else if ((arg == "-o" || arg == "--output") && i + 1 < argc) {
      page = argv[++i];
    } else if (!arg.empty() && arg[0] != '-' && journal.empty()) {
      journal = arg;
    } else {
      std::fprintf(stderr, "dips-report: unexpected argument '%s'\n%s", arg.c_str(), kUsage);
      return 2;
    }
  }
  if (journal.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  if (page.empty()) page = dips::report_page_path(journal).string();
  const dips::Status status = dips::write_report_page(journal, page, limits);
  if (!status.ok()) {
    std::fprintf(stderr, "dips-report: error: %s\n", status.message().c_str());
    return 1;
  }
  std::fprintf(stderr, "dips-report: wrote %s\n", page.c_str());
  return 0;
}
