// dips-reference: the plain whole-image OpenCV reference, one process, no MPI.
// Usage: dips-reference PIPELINE INPUT OUTPUT   (prints the decoded strings, one per line)
// Used by tests to compare files and by bench/ as the "plain OpenCV loop" baseline:
//        dips-reference --loop PIPELINE OUTDIR [--files-from LIST] [INPUT...]
//        (imread, pipeline, imwrite for each input, one after another; OUTDIR/<input's file name>, or for a
//        LIST line "INPUT<TAB>OUTPUT" OUTDIR/OUTPUT: LIST holds jobs too long for a command line)
//        dips-reference --same A B   (exit 0 when both images decode to the same pixels: dips and OpenCV
//        may encode the same pixels into different PNG bytes, so scripts compare pixels, not files)
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <string>
#include <utility>
#include <vector>

#include "dips/pipeline.h"

namespace {

int run_one(const dips::Pipeline& pipeline, const std::string& input, const std::string& output, bool print) {
  cv::Mat image = cv::imread(input, cv::IMREAD_COLOR);
  if (image.empty()) {
    std::fprintf(stderr, "dips-reference: cannot read %s\n", input.c_str());
    return 1;
  }
  dips::OpResult result;
  dips::Status status = dips::run_pipeline_whole(image, pipeline, &result);
  if (!status.ok()) {
    std::fprintf(stderr, "dips-reference: %s: %s\n", input.c_str(), status.message().c_str());
    return 1;
  }
  if (!cv::imwrite(output, result.image)) {
    std::fprintf(stderr, "dips-reference: cannot write %s\n", output.c_str());
    return 1;
  }
  if (print) for (const auto& text : result.decoded) std::printf("%s\n", text.c_str());
  return 0;
}

using Job = std::vector<std::pair<std::string, std::string>>;  // (input, output relative to OUTDIR)

// Reads LIST ("INPUT" or "INPUT<TAB>OUTPUT" per line, blank lines skipped) into job; false if unreadable.
bool read_list(const std::string& list, Job* job) {
  std::ifstream in(list);
  if (!in) return false;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const auto tab = line.find('\t');
    if (tab == std::string::npos) {
      job->emplace_back(line, std::filesystem::path(line).filename().string());
    } else {
      job->emplace_back(line.substr(0, tab), line.substr(tab + 1));
    }
  }
  return true;
}

// Exit status of --same: 0 same pixels, 1 different (or unreadable), said on stderr.
int same_pixels(const std::string& a, const std::string& b) {
  const cv::Mat first = cv::imread(a, cv::IMREAD_UNCHANGED);
  const cv::Mat second = cv::imread(b, cv::IMREAD_UNCHANGED);
  if (first.empty() || second.empty()) {
    std::fprintf(stderr, "dips-reference: cannot read %s\n", (first.empty() ? a : b).c_str());
    return 1;
  }
  const bool same = first.size() == second.size() && first.type() == second.type() &&
                    cv::norm(first, second, cv::NORM_INF) == 0;
  if (!same) std::fprintf(stderr, "dips-reference: %s and %s differ\n", a.c_str(), b.c_str());
  return same ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  cv::setNumThreads(1);
  if (argc == 4 && std::string(argv[1]) == "--same") return same_pixels(argv[2], argv[3]);
  const bool loop = argc >= 2 && std::string(argv[1]) == "--loop";
  if ((!loop && argc != 4) || (loop && argc < 5)) {
    std::fprintf(stderr, "usage: dips-reference PIPELINE INPUT OUTPUT | "
                         "dips-reference --loop PIPELINE OUTDIR [--files-from LIST] [INPUT...]\n");
    return 2;
  }
  dips::Pipeline pipeline;
  dips::Status status = dips::parse_pipeline(argv[loop ? 2 : 1], &pipeline);
  if (!status.ok()) {
    std::fprintf(stderr, "dips-reference: %s\n", status.message().c_str());
    return 2;
  }
  if (!loop) return run_one(pipeline, argv[2], argv[3], true);
  Job job;
  for (int i = 4; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--files-from") {
      if (i + 1 == argc || !read_list(argv[++i], &job)) {
        std::fprintf(stderr, "dips-reference: --files-from needs a readable list file\n");
        return 2;
      }
    } else {
      job.emplace_back(arg, std::filesystem::path(arg).filename().string());
    }
  }
  const std::filesystem::path outdir(argv[3]);
  int failures = 0;
  for (const auto& [input, output] : job) failures += run_one(pipeline, input, (outdir / output).string(), false);
  return failures ? 1 : 0;
}
