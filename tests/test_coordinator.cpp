// coordinator: a whole job through the in-process transport (one rank, no MPI), outputs equal to the
// whole-image reference and decoded strings in the report.
#include <catch2/catch.hpp>
#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <string>
#include <vector>

#include "dips/cli.h"
#include "dips/coordinator.h"
#include "dips/pipeline.h"
#include "dips/transport.h"
#include "harness.h"
#include "test_images.h"

namespace fs = std::filesystem;
using namespace dips;
using namespace dips::testing;

TEST_CASE("a whole job through the in-process transport (single rank)", "[coordinator]") {
  TempDir dir;
  fs::create_directories(dir / "in");
  REQUIRE(cv::imwrite((dir / "in/a.png").string(), photo_like(50, 60, 1)));
  REQUIRE(cv::imwrite((dir / "in/b.png").string(), qr_image({"dips"})));
  Options options;
  const std::string in = (dir / "in").string(), out = (dir / "out").string();
  const char* argv[] = {"dips", "--quiet", "--tile-rows", "7", "--op", "blur=3,read_qr_code", "--output", out.c_str(), in.c_str()};
  REQUIRE(parse_options(9, argv, &options).ok());
  std::vector<Task> tasks;
  REQUIRE(build_job(options.job, &tasks).ok());
  auto transport = make_local_transport(2);
  CHECK(run_coordinator(options, *transport, std::move(tasks), "test") == ExitCode::kOk);
  Pipeline pipeline;
  REQUIRE(parse_pipeline("blur=3,read_qr_code", &pipeline).ok());
  for (const char* name : {"a.png", "b.png"}) {
    OpResult expected;
    REQUIRE(run_pipeline_whole(cv::imread((dir / "in" / name).string()), pipeline, &expected).ok());
    CHECK(identical(read_output(dir / "out" / name), expected.image));
  }
  CHECK(report_tasks(dir / "out/report.jsonl").at((dir / "out/b.png").string())["decoded"] == std::vector<std::string>{"dips"});
}
