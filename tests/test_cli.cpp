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

TEST_CASE("command line: no arguments, repeated options, --format values, --files-from", "[cli]") {
  Options none;
  const char* bare[] = {"dips"};
  const Status usage = parse_options(1, bare, &none);
  CHECK_THAT(usage.message(), Catch::Contains("no arguments") && Catch::Contains("Usage:") && Catch::Contains("--files-from"));

  Options flags;
  const char* repeated_flags[] = {"dips", "-q", "--quiet", "--resume", "--resume", "--op", "blur", "-o", "out", "a.png"};
  REQUIRE(parse_options(10, repeated_flags, &flags).ok());
  CHECK(flags.quiet);
  CHECK(flags.resume);

  Options values;
  const char* repeated_op[] = {"dips", "--op", "blur", "--op", "grayscale", "-o", "out", "a.png"};
  CHECK(parse_options(8, repeated_op, &values).message() == "--op is given twice ('blur' and 'grayscale'); give it once (see dips --help)");
  Options outputs;
  const char* repeated_output[] = {"dips", "--op", "blur", "-o", "one", "--output", "two", "a.png"};
  CHECK_THAT(parse_options(8, repeated_output, &outputs).message(), Catch::Contains("--output is given twice ('one' and 'two')"));

  for (const char* format : {"p ng", "../png", "png/x", "", "png;rm", "."}) {
    INFO(format);
    Options o;
    const char* argv[] = {"dips", "--format", format, "--op", "blur", "-o", "out", "a.png"};
    CHECK_THAT(parse_options(8, argv, &o).message(), Catch::Contains("--format takes a file extension such as png"));
  }
  Options dotted;
  const char* dot_png[] = {"dips", "--format", ".PNG", "--op", "blur", "-o", "out", "a.png"};
  REQUIRE(parse_options(8, dot_png, &dotted).ok());
  CHECK(dotted.job.format == "PNG");

  Options list;
  const char* files_from[] = {"dips", "--op", "blur", "--files-from", "-", "-o", "out", "--report", "r.jsonl"};
  REQUIRE(parse_options(9, files_from, &list).ok());
  CHECK(list.job.files_from == "-");
  CHECK(list.job.report == fs::path("r.jsonl"));
  Options mixed;
  const char* manifest_and_list[] = {"dips", "--manifest", "m.tsv", "--files-from", "l", "-o", "out"};
  CHECK_THAT(parse_options(7, manifest_and_list, &mixed).message(), Catch::Contains("--files-from goes with --op"));
}

TEST_CASE("command line: --worker-program and --spawn-timeout", "[cli]") {
  Options o;
  const char* defaults[] = {"dips", "--op", "blur", "--output", "out", "a.png"};
  REQUIRE(parse_options(6, defaults, &o).ok());
  CHECK(o.worker_program.empty());
  CHECK(o.spawn_timeout == 60);
  Options set;
  const char* given[] = {"dips", "--op", "blur", "--output", "out", "--worker-program", "dips", "--spawn-timeout", "0", "a.png"};
  REQUIRE(parse_options(10, given, &set).ok());
  CHECK(set.worker_program == "dips");
  CHECK(set.spawn_timeout == 0);
  for (const char* bad : {"-1", "nan", "86401"}) {
    INFO(bad);
    Options refused;
    const char* args[] = {"dips", "--op", "blur", "--output", "out", "--spawn-timeout", bad, "a.png"};
    CHECK(parse_options(8, args, &refused).message().find("--spawn-timeout must be 0..86400") != std::string::npos);
  }
}

TEST_CASE("command line: --host-cores", "[cli]") {
  Options o;
  const char* defaults[] = {"dips", "--op", "blur", "--output", "out", "a.png"};
  REQUIRE(parse_options(6, defaults, &o).ok());
  CHECK(o.host_cores == kHostCoresAuto);
  for (const auto& [given, cores] : std::vector<std::pair<const char*, int>>{{"auto", kHostCoresAuto}, {"all", kHostCoresAll}, {"1", 1}, {"64", 64}}) {
    INFO(given);
    Options set;
    const char* args[] = {"dips", "--op", "blur", "--output", "out", "--host-cores", given, "a.png"};
    REQUIRE(parse_options(8, args, &set).ok());
    CHECK(set.host_cores == cores);
  }
  for (const char* bad : {"0", "-1", "two", "1.5", "", "65537", "99999999999"}) {
    INFO(bad);
    Options refused;
    const char* args[] = {"dips", "--op", "blur", "--output", "out", "--host-cores", bad, "a.png"};
    CHECK(parse_options(8, args, &refused).message().find("--host-cores must be auto, all or a number") != std::string::npos);
  }
}
