// dips-reference: the plain whole-image OpenCV reference, one process, no MPI.
// Usage: dips-reference PIPELINE INPUT OUTPUT   (prints the decoded strings, one per line)
//        dips-reference --same-pixels A B   (exit 0 when A and B decode to the same pixels: dips' encoders
//        may write other bytes for the same image, e.g. a PNG deflated in bands)
// Used by tests to compare files and by bench/ as the "plain OpenCV loop" baseline:
//        dips-reference --loop PIPELINE OUTDIR [--files-from LIST] [INPUT...]
//        (imread, pipeline, imwrite for each input, one after another; OUTDIR/<input's file name>, or for a
//        LIST line "INPUT<TAB>OUTPUT" OUTDIR/OUTPUT: LIST holds jobs too long for a command line)
//        dips-reference --same-pixels A B   (exit 0 when both images decode to the same pixels: dips and OpenCV
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

// 0 when both files decode to images of one size, type and pixels; 1 (saying how they differ) otherwise.
int same_pixels(const std::string& a_path, const std::string& b_path) {
  const cv::Mat a = cv::imread(a_path, cv::IMREAD_UNCHANGED), b = cv::imread(b_path, cv::IMREAD_UNCHANGED);
  if (a.empty() || b.empty()) {
    std::fprintf(stderr, "dips-reference: cannot read %s\n", (a.empty() ? a_path : b_path).c_str());
    return 1;
  }
  if (a.size() != b.size() || a.type() != b.type()) {
    std::fprintf(stderr, "dips-reference: %dx%d (type %d) vs %dx%d (type %d)\n", a.cols, a.rows, a.type(), b.cols, b.rows, b.type());
    return 1;
  }
  cv::Mat diff;
  cv::absdiff(a, b, diff);
  const int differing = cv::countNonZero(diff.reshape(1));
  if (differing > 0) std::fprintf(stderr, "dips-reference: %d samples differ\n", differing);
  return differing > 0 ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  cv::setNumThreads(1);
  if (argc == 4 && std::string(argv[1]) == "--same-pixels") return same_pixels(argv[2], argv[3]);
  const bool loop = argc >= 2 && std::string(argv[1]) == "--loop";
  if ((!loop && argc != 4) || (loop && argc < 5)) {
    std::fprintf(stderr, "usage: dips-reference PIPELINE INPUT OUTPUT | "
                         "dips-reference --loop PIPELINE OUTDIR [--files-from LIST] [INPUT...] | dips-reference --same-pixels A B\n");
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
