// cli: parse_options' modes, defaults and errors, and the help and --list-ops texts.
#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "dips/cli.h"
#include "dips/operation.h"

namespace fs = std::filesystem;
using namespace dips;

TEST_CASE("command line: modes, defaults and errors", "[cli]") {
  Options o;
  const char* ok[] = {"dips", "--op", "blur=3", "--output", "out", "a.png", "dir"};
  REQUIRE(parse_options(7, ok, &o).ok());
  CHECK(o.job.inputs == std::vector<std::string>{"a.png", "dir"});
  CHECK(o.report == fs::path("out/report.jsonl"));
  CHECK(o.tile_rows == 0);
  Options none;
  const char* no_output[] = {"dips", "--op", "blur", "a.png"};
  CHECK(parse_options(4, no_output, &none).message().find("--output") != std::string::npos);
  Options both;
  const char* two_modes[] = {"dips", "--op", "blur", "--manifest", "m", "--output", "o"};
  CHECK_FALSE(parse_options(7, two_modes, &both).ok());
  Options bad;
  const char* unknown[] = {"dips", "--frobnicate", "--output", "o"};
  CHECK(parse_options(4, unknown, &bad).message().find("--help") != std::string::npos);
  CHECK(list_ops_text().find("equalize_histogram") != std::string::npos);
  for (const auto& op : operations()) CHECK(list_ops_text().find(std::string(op.name)) != std::string::npos);
  CHECK(help_text().find("Exit status") != std::string::npos);
}
