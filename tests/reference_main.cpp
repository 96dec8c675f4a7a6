// dips-reference: the plain whole-image OpenCV reference, one process, no MPI.
// Usage: dips-reference PIPELINE INPUT OUTPUT   (prints the decoded strings, one per line)
// Used by tests to compare files and by bench/ as the "plain OpenCV loop" baseline:
//        dips-reference --loop PIPELINE OUTDIR INPUT...   (imread, pipeline, imwrite for each input)
#include <cstdio>
#include <filesystem>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <string>

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

}  // namespace

int main(int argc, char** argv) {
  cv::setNumThreads(1);
  const bool loop = argc >= 2 && std::string(argv[1]) == "--loop";
  if ((!loop && argc != 4) || (loop && argc < 5)) {
    std::fprintf(stderr, "usage: dips-reference PIPELINE INPUT OUTPUT | dips-reference --loop PIPELINE OUTDIR INPUT...\n");
    return 2;
  }
  dips::Pipeline pipeline;
  dips::Status status = dips::parse_pipeline(argv[loop ? 2 : 1], &pipeline);
  if (!status.ok()) {
    std::fprintf(stderr, "dips-reference: %s\n", status.message().c_str());
    return 2;
  }
  if (!loop) return run_one(pipeline, argv[2], argv[3], true);
  int failures = 0;
  for (int i = 4; i < argc; ++i) {
    const std::filesystem::path input(argv[i]);
    failures += run_one(pipeline, input.string(), (std::filesystem::path(argv[3]) / input.filename()).string(), false);
  }
  return failures ? 1 : 0;
}
