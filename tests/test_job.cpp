// job: parse_manifest, resolve_output and build_job with hostile and broken jobs: every manifest problem
// named by file and line, outputs outside the output folder or onto inputs, colliding outputs, symbolic
// links and loops. A refused job is refused before anything runs, with every problem listed.
//
// docs/bad-inputs.md tabulates what dips does with each input tried here (tag [bad_input]).
#include <catch2/catch.hpp>
#include <algorithm>

#include <sys/stat.h>

#include <tuple>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "dips/image_io.h"
#include "dips/job.h"
#include "dips/pipeline.h"
#include "harness.h"

namespace fs = std::filesystem;
using Catch::Contains;
using dips::Status;
using namespace dips::testing;

// ============================================================================================ manifests

namespace {

struct ManifestRun {
  Status status;
  std::vector<dips::Task> tasks;
};

// Parses text as the manifest <dir>/jobs/m.tsv with output folder <dir>/out.
ManifestRun parse(const TempDir& dir, const std::string& text, const std::string& format = "") {
  ManifestRun run;
  run.status = dips::parse_manifest(text, dir / "jobs/m.tsv", dir / "out", format, &run.tasks);
  return run;
}

std::string where(const TempDir& dir, int line) { return (dir / "jobs/m.tsv").string() + ":" + std::to_string(line) + ": "; }

}  // namespace

TEST_CASE("manifest errors name the file and line, and each problem", "[bad_input][manifest]") {
  TempDir dir;
  fs::create_directories(dir / "jobs");
  fs::create_directories(dir / "out");

  SECTION("unknown operation") {
    const ManifestRun run = parse(dir, "a.jpg\tblur=3\nb.jpg\tsharpen\n");
    REQUIRE_FALSE(run.status.ok());
    CHECK_THAT(run.status.message(), Contains("1 problem in the job, nothing was run"));
    CHECK_THAT(run.status.message(), Contains(where(dir, 2) + "unknown operation 'sharpen'"));
  }
  SECTION("bad parameters, all reported") {
    const ManifestRun run = parse(dir, "a.jpg\tblur=0\nb.jpg\tblur=abc\nc.jpg\tgrayscale=3\nd.jpg\tresize=99999999999\n");
    REQUIRE_FALSE(run.status.ok());
    const std::string& m = run.status.message();
    CHECK_THAT(m, Contains("4 problems in the job, nothing was run"));
    CHECK_THAT(m, Contains(where(dir, 1) + "blur: parameter 0 is out of range"));
    CHECK_THAT(m, Contains(where(dir, 2) + "blur: parameter 'abc' is not an integer"));
    CHECK_THAT(m, Contains(where(dir, 3) + "grayscale takes no parameter"));
    CHECK_THAT(m, Contains(where(dir, 4) + "resize: parameter 99999999999 is out of range"));
    CHECK(run.tasks.size() == 0);
  }
  SECTION("empty pipeline column and steps") {
    const ManifestRun run = parse(dir, "a.jpg\t\tout.png\nb.jpg\tblur,,grayscale\nc.jpg\tblur,\n");
    REQUIRE_FALSE(run.status.ok());
    const std::string& m = run.status.message();
    CHECK_THAT(m, Contains(where(dir, 1) + "the pipeline column is empty"));
    CHECK_THAT(m, Contains(where(dir, 2) + "empty step in pipeline 'blur,,grayscale'"));
    CHECK_THAT(m, Contains(where(dir, 3) + "empty step in pipeline 'blur,'"));
  }
  SECTION("missing and extra columns") {
    const ManifestRun run = parse(dir, "a.jpg\nb.jpg blur\nc.jpg\tblur\tc.png\textra\n\tblur\n");
    REQUIRE_FALSE(run.status.ok());
    const std::string& m = run.status.message();
    CHECK_THAT(m, Contains(where(dir, 1) + "expected 'input<TAB>pipeline[<TAB>output]', got 1 tab-separated column"));
    CHECK_THAT(m, Contains(where(dir, 2) + "expected 'input<TAB>pipeline[<TAB>output]', got 1 tab-separated column"));
    CHECK_THAT(m, Contains(where(dir, 3) + "expected 'input<TAB>pipeline[<TAB>output]', got 4 tab-separated columns"));
    CHECK_THAT(m, Contains(where(dir, 4) + "the input column is empty"));
    CHECK_THAT(m, Contains("4 problems"));
  }
  SECTION("overlong line") {
    const std::string longline = std::string(64 * 1024 + 1, 'x');
    const ManifestRun run = parse(dir, "a.jpg\tblur\n" + longline + "\nb.jpg\tblur\n");
    REQUIRE_FALSE(run.status.ok());
    CHECK_THAT(run.status.message(), Contains(where(dir, 2) + "line is longer than 65536 bytes"));
    CHECK_THAT(run.status.message(), Contains("1 problem"));
    CHECK(run.status.message().size() < 1000);  // the line itself is not echoed back
  }
  SECTION("a line of exactly 64 KiB is not too long") {
    std::string line = "a.jpg\tblur\t" + std::string(64 * 1024 - 15, 'o') + ".png";
    REQUIRE(line.size() == 64 * 1024);
    const ManifestRun run = parse(dir, line + "\n");
    if (!run.status.ok()) CHECK_THAT(run.status.message(), !Contains("longer than"));
  }
  SECTION("NUL byte") {
    const ManifestRun run = parse(dir, std::string("a.jpg\tblur\nb\0.jpg\tblur\n", 22));
    REQUIRE_FALSE(run.status.ok());
    CHECK_THAT(run.status.message(), Contains(where(dir, 2) + "line contains a NUL byte"));
  }
  SECTION("invalid UTF-8") {
    // The last two: an overlong '/' and a UTF-16 surrogate, not UTF-8 either (RFC 3629).
    const ManifestRun run = parse(dir, "\xff.jpg\tblur\n\xc3\tblur\nx\x80y.jpg\tblur\na.jpg\tblur\t\xe2\x82\n\xc0\xaf.jpg\tblur\n\xed\xa0\x80.jpg\tblur\n");
    REQUIRE_FALSE(run.status.ok());
    for (int line = 1; line <= 6; ++line) CHECK_THAT(run.status.message(), Contains(where(dir, line) + "line is not valid UTF-8"));
  }
  SECTION("a problem on the last line without a newline, and in a CRLF file") {
    ManifestRun run = parse(dir, "a.jpg\tblur\nb.jpg\tnope");
    CHECK_THAT(run.status.message(), Contains(where(dir, 2) + "unknown operation 'nope'"));
    run = parse(dir, "a.jpg\tblur\r\nb.jpg\tnope\r\n");
    CHECK_THAT(run.status.message(), Contains(where(dir, 2) + "unknown operation 'nope'"));
    CHECK_THAT(run.status.message(), !Contains("\r"));
  }
  SECTION("more than 50 problems are summarised") {
    std::string text;
    for (int i = 0; i < 60; ++i) text += "a.jpg\tbad\n";
    const ManifestRun run = parse(dir, text);
    CHECK_THAT(run.status.message(), Contains("60 problems") && Contains(where(dir, 50)) && Contains("... and 10 more"));
    CHECK_THAT(run.status.message(), !Contains(where(dir, 51)));
  }
}

TEST_CASE("manifest lines that are accepted", "[bad_input][manifest]") {
  TempDir dir;
  fs::create_directories(dir / "jobs");
  fs::create_directories(dir / "out");
  const fs::path base = dir / "jobs", out = dir / "out";
  const fs::path out_canonical = fs::canonical(out);

  SECTION("CRLF line ends") {
    const ManifestRun run = parse(dir, "a.jpg\tblur=3\r\nb.jpg\tgrayscale\tb.png\r\n");
    REQUIRE(run.status.ok());
    REQUIRE(run.tasks.size() == 2);
    CHECK(run.tasks[0].input == base / "a.jpg");
    CHECK(run.tasks[0].output == out_canonical / "a.jpg");
    CHECK(run.tasks[1].output == out_canonical / "b.png");  // no stray '\r' in the last column
    CHECK(dips::pipeline_text(run.tasks[0].pipeline) == "blur=3");
  }
  SECTION("comments, blank and whitespace-only lines") {
    const ManifestRun run = parse(dir, "# a comment\n\n   \n\t\n  # indented comment\n\t# tab comment\na.jpg\tblur\n\n");
    REQUIRE(run.status.ok());
    REQUIRE(run.tasks.size() == 1);
    CHECK(run.tasks[0].origin == (dir / "jobs/m.tsv").string() + ":7");
  }
  SECTION("an empty manifest gives no tasks") {
    const ManifestRun run = parse(dir, "");
    CHECK(run.status.ok());
    CHECK(run.tasks.empty());
  }
  SECTION("spaces, parentheses and UTF-8 in names") {
    const ManifestRun run = parse(dir, "Image 1 (Panda).jpg\tgrayscale\nBild \xc3\xbc \xe6\x97\xa5.png\tblur\tOut (1).png\n");
    REQUIRE(run.status.ok());
    REQUIRE(run.tasks.size() == 2);
    CHECK(run.tasks[0].input == base / "Image 1 (Panda).jpg");
    CHECK(run.tasks[0].output == out_canonical / "Image 1 (Panda).jpg");
    CHECK(run.tasks[1].input == base / "Bild \xc3\xbc \xe6\x97\xa5.png");
    CHECK(run.tasks[1].output == out_canonical / "Out (1).png");
  }
  SECTION("relative inputs are relative to the manifest, relative outputs to the output folder") {
    const ManifestRun run = parse(dir,
                                  "sub/a.jpg\tblur\n"
                                  "sub/b.jpg\tblur\tres/b.png\n"
                                  "../elsewhere/c.jpg\tblur\n"
                                  "/data/d.jpg\tblur\n"
                                  "./e.jpg\tblur\n"
                                  "sub/f.jpg\tblur\tsub/../f.png\n");
    REQUIRE(run.status.ok());
    REQUIRE(run.tasks.size() == 6);
    CHECK(run.tasks[0].input == base / "sub/a.jpg");
    CHECK(run.tasks[0].output == out_canonical / "sub/a.jpg");
    CHECK(run.tasks[1].output == out_canonical / "res/b.png");
    CHECK(run.tasks[2].input == base / "../elsewhere/c.jpg");
    CHECK(run.tasks[2].output == out_canonical / "c.jpg");  // an input outside: its name only
    CHECK(run.tasks[3].input == fs::path("/data/d.jpg"));
    CHECK(run.tasks[3].output == out_canonical / "d.jpg");
    CHECK(run.tasks[4].output == out_canonical / "e.jpg");
    CHECK(run.tasks[5].output == out_canonical / "f.png");
  }
  SECTION("format replaces the output extension") {
    const ManifestRun run = parse(dir, "a.jpg\tblur\nb.tif\tblur\tx/b.bmp\n", "png");
    REQUIRE(run.status.ok());
    CHECK(run.tasks[0].output == out_canonical / "a.png");
    CHECK(run.tasks[1].output == out_canonical / "x/b.png");
  }
  SECTION("absolute output inside the output folder") {
    const ManifestRun run = parse(dir, "a.jpg\tblur\t" + (out / "deep/a.png").string() + "\n");
    REQUIRE(run.status.ok());
    CHECK(run.tasks[0].output == out_canonical / "deep/a.png");
  }
  SECTION("a trailing tab means 'default output'") {
    const ManifestRun run = parse(dir, "a.jpg\tblur\t\n");
    REQUIRE(run.status.ok());
    CHECK(run.tasks[0].output == out_canonical / "a.jpg");
  }
}

TEST_CASE("manifest outputs outside the output folder are refused", "[bad_input][manifest]") {
  TempDir dir;
  fs::create_directories(dir / "jobs");
  fs::create_directories(dir / "out");
  fs::create_directories(dir / "elsewhere");
  fs::create_directory_symlink(dir / "elsewhere", dir / "out/link");
  fs::create_directories(dir / "out-sibling");
  fs::create_directory_symlink(dir / "out-sibling", dir / "out/sibling");  // its target shares a prefix with out
  const std::vector<std::string> outputs = {
      "../evil.png",
      "sub/../../evil.png",
      "..",
      "sub/",
      (dir / "evil.png").string(),
      "/etc/passwd",
      (dir / "out").string(),
      (dir / "out-sibling/x.png").string(),  // shares a prefix with the output folder's name
  };
  std::string text;
  for (const std::string& output : outputs) text += "a.jpg\tblur\t" + output + "\n";
  // Through symbolic links: a plain name (resolved on the strings) and another spelling (through paths).
  const std::vector<std::string> linked = {"link/x.png", "sibling/x.png", "./link/y.png"};
  for (const std::string& output : linked) text += "b.jpg\tblur\t" + output + "\n";
  const ManifestRun run = parse(dir, text);
  REQUIRE_FALSE(run.status.ok());
  const std::string& m = run.status.message();
  CHECK_THAT(m, Contains(std::to_string(outputs.size() + linked.size()) + " problems"));
  for (size_t i = 0; i < outputs.size(); ++i) {
    INFO(outputs[i]);
    const bool folder = outputs[i] == ".." || outputs[i] == "sub/" || outputs[i] == (dir / "out").string();
    CHECK_THAT(m, Contains(where(dir, static_cast<int>(i + 1)) + "output '" + outputs[i] +
                           (folder ? "' names a folder, not a file" : "' is outside the output directory")));
  }
  for (size_t i = 0; i < linked.size(); ++i) {
    CHECK_THAT(m, Contains(where(dir, static_cast<int>(outputs.size() + i + 1)) + "output '" + linked[i] +
                           "' leads outside the output directory '" + (dir / "out").string() + "' through a symbolic link"));
  }
  CHECK_FALSE(fs::exists(dir / "evil.png"));
}

// lexically_normal turns "out/." into "out/" (a trailing separator): "." and "sub/.." must be refused as
// naming a folder, not accepted as the output folder itself.
TEST_CASE("an output that names a folder is refused", "[bad_input][manifest]") {
  TempDir dir;
  fs::create_directories(dir / "out/x/y");
  // "a/b/.." is the folder a, inside the output folder: still a folder, not a file named a; so is an
  // absolute ".../x/y/.." of existing folders (resolved, it is .../x, with no ".." left to see).
  for (const std::string& requested : std::vector<std::string>{".", "sub/..", "sub/.", "./", (dir / "out/.").string(), "a/b/..",
                                                              (dir / "out/x/y/..").string()}) {
    INFO(requested);
    std::string resolved;
    const Status status = dips::resolve_output(dir / "out", requested, &resolved);
    CHECK_FALSE(status.ok());
    CHECK(status.message().find("names a folder") != std::string::npos);
    CHECK(resolved.empty());
  }
}

// with_format() must not give a folder output ("sub/") an extension: it would become the hidden file
// "sub/.png" with --format png.
TEST_CASE("--format does not turn a folder output into a hidden file", "[bad_input][manifest]") {
  TempDir dir;
  fs::create_directories(dir / "jobs");
  fs::create_directories(dir / "out");
  REQUIRE_FALSE(parse(dir, "a.jpg\tblur\tsub/\n").status.ok());
  const ManifestRun run = parse(dir, "a.jpg\tblur\tsub/\n", "png");
  INFO((run.tasks.empty() ? std::string("no task") : run.tasks[0].output));
  CHECK_FALSE(run.status.ok());
}

// A plain relative name ("a.png", "sub/b.png") is resolved on the strings, any other through paths: both
// must name the same file, however the output folder is spelled.
TEST_CASE("plain and other spellings of an output resolve to the same name", "[manifest]") {
  TempDir dir;
  fs::create_directories(dir / "out/sub");
  const std::string expected_dir = fs::weakly_canonical(dir / "out").string();
  for (const fs::path& output_dir : {dir / "out", dir / "out/", dir / "out/sub/..", dir / "out/."}) {
    for (const std::string name : {"a.png", "sub/b.png", "new/deeper/c.PNG"}) {
      INFO(output_dir.string() << " " << name);
      std::string plain, spelled;
      bool plain_exists = true, spelled_exists = true;
      REQUIRE(dips::resolve_output(output_dir, name, &plain, &plain_exists).ok());
      REQUIRE(dips::resolve_output(output_dir, "./" + name, &spelled, &spelled_exists).ok());
      CHECK(plain == expected_dir + "/" + name);
      CHECK(spelled == plain);
      CHECK_FALSE(plain_exists);
      CHECK_FALSE(spelled_exists);
    }
  }
  std::ofstream(dir / "out/sub/b.png") << "x";
  std::string resolved;
  bool exists = false;
  REQUIRE(dips::resolve_output(dir / "out", "sub/b.png", &resolved, &exists).ok());
  CHECK(exists);
}

// An absolute output spelled through the same symlink as the output folder is inside it.
TEST_CASE("an absolute output inside an output folder named through a symlink is accepted",
          "[bad_input][manifest]") {
  TempDir dir;
  fs::create_directories(dir / "real");
  fs::create_directory_symlink(dir / "real", dir / "outlink");
  std::string resolved;
  const Status status = dips::resolve_output(dir / "outlink", dir / "outlink/x.png", &resolved);
  INFO(status.message());
  CHECK(status.ok());
}

// ============================================================================================ build_job

namespace {

ManifestRun build(const dips::JobSpec& spec) {
  ManifestRun run;
  run.status = dips::build_job(spec, &run.tasks);
  return run;
}

void touch_image(const fs::path& path) { write_text(path, "not decoded by build_job"); }

}  // namespace

TEST_CASE("build_job refuses jobs whose outputs collide or overwrite inputs", "[bad_input][job]") {
  TempDir dir;

  SECTION("two manifest tasks with one output") {
    write_text(dir / "m.tsv", "a.jpg\tblur\tsame.png\nb.jpg\tgrayscale\tsame.png\nc.jpg\tblur\tother.png\n");
    dips::JobSpec spec;
    spec.manifest = (dir / "m.tsv").string();
    spec.output_dir = dir / "out";
    const ManifestRun run = build(spec);
    REQUIRE_FALSE(run.status.ok());
    CHECK_THAT(run.status.message(), Contains("1 problem in the job, nothing was run"));
    CHECK_THAT(run.status.message(), Contains((dir / "m.tsv").string() + ":2: output '") &&
                                         Contains("same.png' is also the output of " + (dir / "m.tsv").string() + ":1"));
    CHECK_FALSE(fs::exists(dir / "out"));  // nothing ran, nothing was created
  }
  SECTION("two inputs of one name in --op mode") {
    touch_image(dir / "d1/x.jpg");
    touch_image(dir / "d2/x.jpg");
    dips::JobSpec spec;
    spec.inputs = {(dir / "d1/x.jpg").string(), (dir / "d2/x.jpg").string()};
    spec.ops = "blur";
    spec.output_dir = dir / "out";
    const ManifestRun run = build(spec);
    REQUIRE_FALSE(run.status.ok());
    CHECK_THAT(run.status.message(), Contains("is also the output of " + (dir / "d1/x.jpg").string()));
  }
  SECTION("--format makes two inputs collide") {
    touch_image(dir / "in/a.jpg");
    touch_image(dir / "in/a.tif");
    dips::JobSpec spec;
    spec.inputs = {(dir / "in").string()};
    spec.ops = "blur";
    spec.output_dir = dir / "out";
    spec.format = "png";
    const ManifestRun run = build(spec);
    REQUIRE_FALSE(run.status.ok());
    CHECK_THAT(run.status.message(), Contains("a.png' is also the output of"));
  }
  SECTION("output equal to an input (manifest)") {
    write_text(dir / "m.tsv", "a.png\tblur\ta.png\n");
    dips::JobSpec spec;
    spec.manifest = (dir / "m.tsv").string();
    spec.output_dir = dir.path();
    const ManifestRun run = build(spec);
    REQUIRE_FALSE(run.status.ok());
    CHECK_THAT(run.status.message(), Contains((dir / "m.tsv").string() + ":1: output '") &&
                                         Contains("is an input of this job; inputs are never overwritten"));
  }
  SECTION("output equal to another task's input") {
    write_text(dir / "m.tsv", "a.png\tblur\tb.png\nb.png\tblur\tc.png\n");
    dips::JobSpec spec;
    spec.manifest = (dir / "m.tsv").string();
    spec.output_dir = dir.path();
    const ManifestRun run = build(spec);
    REQUIRE_FALSE(run.status.ok());
    CHECK_THAT(run.status.message(), Contains(":1: output '") && Contains("b.png' is an input of this job"));
  }
  SECTION("output folder equal to the input folder (--op mode)") {
    touch_image(dir / "in/a.png");
    dips::JobSpec spec;
    spec.inputs = {(dir / "in").string()};
    spec.ops = "blur";
    spec.output_dir = dir / "in";
    const ManifestRun run = build(spec);
    REQUIRE_FALSE(run.status.ok());
    CHECK_THAT(run.status.message(), Contains("is an input of this job"));
  }
  SECTION("a listed input that is a symbolic link to an existing output (--op mode)") {
    touch_image(dir / "out/a.png");
    fs::create_directories(dir / "in");
    fs::create_symlink(dir / "out/a.png", dir / "in/a.png");
    dips::JobSpec spec;
    spec.inputs = {(dir / "in").string()};
    spec.ops = "blur";
    spec.output_dir = dir / "out";
    const ManifestRun run = build(spec);
    REQUIRE_FALSE(run.status.ok());
    CHECK_THAT(run.status.message(), Contains("a.png' is an input of this job"));
  }
  SECTION("an output reaching an input through a symlinked folder") {
    touch_image(dir / "in/a.png");
    fs::create_directories(dir / "out");
    fs::create_directory_symlink(dir / "in", dir / "out/in");
    write_text(dir / "m.tsv", (dir / "in/a.png").string() + "\tblur\tin/a.png\n");
    dips::JobSpec spec;
    spec.manifest = (dir / "m.tsv").string();
    spec.output_dir = dir / "out";
    const ManifestRun run = build(spec);
    REQUIRE_FALSE(run.status.ok());  // refused one way or the other: outside, or an input
    CHECK_THAT(run.status.message(), Contains("through a symbolic link") || Contains("is an input of this job"));
  }
}

TEST_CASE("a recursive listing keeps std::filesystem::path's order, folder by folder", "[job]") {
  TempDir dir;
  for (const char* name : {"in/a.png", "in/a-c.png", "in/a/b.png", "in/a/b/c.png", "in/ab.png", "in/B.png"}) touch_image(dir / name);
  dips::JobSpec spec;
  spec.inputs = {(dir / "in").string()};
  spec.recursive = true;
  spec.ops = "blur";
  spec.output_dir = dir / "out";
  const ManifestRun run = build(spec);
  REQUIRE(run.status.ok());
  std::vector<fs::path> inputs, expected;
  for (const dips::Task& task : run.tasks) inputs.push_back(task.input);
  expected = inputs;
  std::sort(expected.begin(), expected.end());
  CHECK(inputs == expected);
  // A folder's name sorts as itself: "a" before "a-c.png" and "a.png", "b" before "b.png".
  CHECK(inputs == std::vector<fs::path>{dir / "in/B.png", dir / "in/a/b/c.png", dir / "in/a/b.png", dir / "in/a-c.png",
                                        dir / "in/a.png", dir / "in/ab.png"});
}

// A listed file's output is named by its path below the folder listed, however that folder is spelled.
TEST_CASE("a folder named in other spellings lists the same outputs", "[job]") {
  TempDir dir;
  for (const char* name : {"in/a.png", "in/sub/b.png"}) touch_image(dir / name);
  std::vector<std::string> expected_outputs;
  const std::string out = fs::weakly_canonical(dir / "out").string();
  for (const std::string& folder : {(dir / "in").string(), (dir / "in/").string(), (dir / "in/.").string(), (dir / "in//").string(),
                                    (dir / "in/sub/..").string()}) {
    INFO(folder);
    dips::JobSpec spec;
    spec.inputs = {folder};
    spec.recursive = true;
    spec.ops = "blur";
    spec.output_dir = dir / "out";
    const ManifestRun run = build(spec);
    REQUIRE(run.status.ok());
    std::vector<std::string> outputs;
    for (const dips::Task& task : run.tasks) outputs.push_back(task.output);
    CHECK(outputs == std::vector<std::string>{out + "/a.png", out + "/sub/b.png"});
  }
}

TEST_CASE("build_job and symbolic links", "[bad_input][job]") {
  TempDir dir;

  SECTION("a symlinked folder inside the output folder that points outside (--op, recursive)") {
    touch_image(dir / "in/sub/a.png");
    fs::create_directories(dir / "out");
    fs::create_directories(dir / "elsewhere");
    fs::create_directory_symlink(dir / "elsewhere", dir / "out/sub");
    dips::JobSpec spec;
    spec.inputs = {(dir / "in").string()};
    spec.ops = "blur";
    spec.output_dir = dir / "out";
    spec.recursive = true;
    const ManifestRun run = build(spec);
    REQUIRE_FALSE(run.status.ok());
    CHECK_THAT(run.status.message(), Contains((dir / "in/sub/a.png").string() + ": output 'sub/a.png' leads outside the output directory") &&
                                         Contains("through a symbolic link"));
  }
  SECTION("a symlink loop in a recursive directory job terminates") {
    touch_image(dir / "in/a.png");
    touch_image(dir / "in/sub/b.png");
    touch_image(dir / "in/sub/deeper/c.png");
    fs::create_directory_symlink(dir / "in", dir / "in/sub/up");       // a cycle back to the root
    fs::create_directory_symlink(dir / "in/sub", dir / "in/sub/deeper/again");
    fs::create_directory_symlink("self", dir / "in/self");           // points at itself: ELOOP
    fs::create_symlink(dir / "in/l2.jpg", dir / "in/l1.jpg");          // a file-name loop
    fs::create_symlink(dir / "in/l1.jpg", dir / "in/l2.jpg");
    dips::JobSpec spec;
    spec.inputs = {(dir / "in").string()};
    spec.ops = "blur";
    spec.output_dir = dir / "out";
    spec.recursive = true;
    const ManifestRun run = build(spec);
    REQUIRE(run.status.ok());
    std::vector<std::string> inputs;
    for (const auto& task : run.tasks) inputs.push_back(fs::path(task.input).lexically_relative(dir / "in").string());
    // The looped file names become tasks that fail with a clear read error; no directory symlink is
    // followed (they are counted, with the link that loops onto itself).
    CHECK(inputs == std::vector<std::string>{"a.png", "l1.jpg", "l2.jpg", "sub/b.png", "sub/deeper/c.png"});
    dips::SkippedFiles skipped;
    std::vector<dips::Task> tasks;
    REQUIRE(dips::build_job(spec, &tasks, &skipped).ok());
    CHECK(skipped == dips::SkippedFiles{{"directory symlink", 2}, {"not a regular file", 1}});
    std::vector<uint8_t> bytes;
    CHECK_THAT(dips::read_file(dir / "in/l1.jpg", 1 << 20, &bytes).message(), Contains("symbolic link loop"));
  }
  SECTION("the output folder inside a recursive input folder is not scanned") {
    touch_image(dir / "in/a.png");
    touch_image(dir / "in/sub/b.png");
    touch_image(dir / "in/out/a.png");  // a previous run's output
    touch_image(dir / "in/out/sub/b.png");
    for (const std::string out : {"in/out", "in/out/", "in/./out", "in/sub/../out"}) {
      INFO("output folder " << out);
      dips::JobSpec spec;
      spec.inputs = {(dir / "in").string()};
      spec.ops = "blur";
      spec.output_dir = dir.path() / out;
      spec.recursive = true;
      const ManifestRun run = build(spec);
      REQUIRE(run.status.ok());
      REQUIRE(run.tasks.size() == 2);
      CHECK(run.tasks[0].input == dir / "in/a.png");
      CHECK(run.tasks[1].input == dir / "in/sub/b.png");
      CHECK(run.tasks[1].output == fs::canonical(dir / "in/out") / "sub/b.png");
    }
  }
  SECTION("a directory without images") {
    write_text(dir / "in/readme.txt", "hi");
    fs::create_directories(dir / "in/sub.png");  // a directory with an image name is not an image
    dips::JobSpec spec;
    spec.inputs = {(dir / "in").string()};
    spec.ops = "blur";
    spec.output_dir = dir / "out";
    const ManifestRun run = build(spec);
    // Non-recursive: sub.png is listed as a file name and becomes a task that fails on read.
    if (run.status.ok()) {
      REQUIRE(run.tasks.size() == 1);
      std::vector<uint8_t> bytes;
      CHECK_THAT(dips::read_file(run.tasks[0].input, 1 << 20, &bytes).message(), Contains("it is a directory"));
    } else {
      CHECK_THAT(run.status.message(), Contains("no image files in this directory"));
    }
    write_text(dir / "empty/readme.txt", "hi");
    spec.inputs = {(dir / "empty").string()};
    const ManifestRun empty = build(spec);
    REQUIRE_FALSE(empty.status.ok());
    CHECK_THAT(empty.status.message(), Contains("no image files in this directory (it has 1 .txt)"));
  }
  SECTION("a manifest that does not exist, and a bad --format") {
    dips::JobSpec spec;
    spec.manifest = (dir / "missing.tsv").string();
    spec.output_dir = dir / "out";
    CHECK_THAT(build(spec).status.message(), Contains("cannot read manifest") && Contains("missing.tsv"));
    spec.format = "docx";
    CHECK_THAT(build(spec).status.message(), Contains("--format docx: OpenCV cannot write this format"));
  }
}

// std::ifstream opens a directory without error on Linux and reading it yields nothing: `--manifest
// some_folder` must be an error, not an ok job of zero tasks.
TEST_CASE("a manifest that is a directory is an error", "[bad_input][job]") {
  TempDir dir;
  fs::create_directories(dir / "manifest.tsv");
  dips::JobSpec spec;
  spec.manifest = (dir / "manifest.tsv").string();
  spec.output_dir = dir / "out";
  const ManifestRun run = build(spec);
  INFO("tasks: " << run.tasks.size());
  CHECK_FALSE(run.status.ok());
}

// ============================================================================ scans, inputs, formats, lists

TEST_CASE("directory scans take image files and count what they leave out, by reason", "[bad_input][job][scan]") {
  TempDir dir;
  for (const char* name : {"a.png", "b.PAM", "c.jfif", "d.JPG", "e.gif", "f.pfm", "readme.txt", "notes.TXT", "Makefile", ".hidden", "sub/g.png"}) {
    touch_image(dir / "in" / name);
  }
  REQUIRE(::mkfifo((dir / "in/pipe").c_str(), 0600) == 0);
  REQUIRE(::mkfifo((dir / "in/pipe.png").c_str(), 0600) == 0);    // taken: fails as a task, saying why
  fs::create_symlink(dir / "in/nowhere.png", dir / "in/dangling.jpg");  // the same
  fs::create_symlink(dir / "in/nowhere.txt", dir / "in/dangling.txt");
  fs::create_directory_symlink(dir / "in/sub", dir / "in/link");
  dips::JobSpec spec;
  spec.inputs = {(dir / "in").string()};
  spec.ops = "blur";
  spec.output_dir = dir / "out";
  dips::SkippedFiles skipped;
  std::vector<dips::Task> tasks;

  SECTION("not recursive") {
    REQUIRE(dips::build_job(spec, &tasks, &skipped).ok());
    std::vector<std::string> inputs, outputs;
    for (const auto& task : tasks) inputs.push_back(fs::path(task.input).filename().string()), outputs.push_back(fs::path(task.output).filename().string());
    CHECK(inputs == std::vector<std::string>{"a.png", "b.PAM", "c.jfif", "d.JPG", "dangling.jpg", "pipe.png"});
    // OpenCV writes JPEG as .jpg, not .jfif
    CHECK(outputs == std::vector<std::string>{"a.png", "b.PAM", "c.jpg", "d.JPG", "dangling.jpg", "pipe.png"});
    CHECK(skipped == dips::SkippedFiles{{".gif", 1}, {".pfm", 1}, {".txt", 2}, {"no extension", 2}, {"sub-directory", 1},
                                        {"directory symlink", 1}, {"not a regular file", 2}});
    CHECK(dips::skipped_files_text(skipped) ==
          "2 .txt, 2 no extension, 2 not a regular file, 1 .gif (GIF is not supported), 1 .pfm (floating point: name them to convert), "
          "1 directory symlink, 1 sub-directory (--recursive descends)");
  }
  SECTION("recursive: sub-directories are descended, directory symlinks still counted") {
    spec.recursive = true;
    REQUIRE(dips::build_job(spec, &tasks, &skipped).ok());
    CHECK(tasks.size() == 7);
    CHECK(skipped.count("sub-directory") == 0);
    CHECK(skipped.at("directory symlink") == 1);
  }
  SECTION("named on the command line, a file is taken whatever its name") {
    spec.inputs = {(dir / "in/Makefile").string(), (dir / "in/f.pfm").string()};
    REQUIRE(dips::build_job(spec, &tasks, &skipped).ok());
    CHECK(tasks.size() == 2);
    CHECK(skipped.empty());
  }
}

TEST_CASE("an INPUT that does not exist is refused with the system's reason", "[bad_input][job]") {
  TempDir dir;
  touch_image(dir / "in/a.png");
  dips::JobSpec spec;
  spec.inputs = {(dir / "in/a.png").string(), (dir / "missing/").string(), (dir / "gone.png").string()};
  spec.ops = "blur";
  spec.output_dir = dir / "out";
  const ManifestRun run = build(spec);
  REQUIRE_FALSE(run.status.ok());
  CHECK_THAT(run.status.message(), Contains("2 problems in the job, nothing was run") &&
                                       Contains((dir / "missing/").string() + ": No such file or directory") &&
                                       Contains((dir / "gone.png").string() + ": No such file or directory"));
  CHECK_THAT(run.status.message(), !Contains("names a folder"));
}

TEST_CASE("a report onto a task's output or onto an input is refused", "[bad_input][job]") {
  TempDir dir;
  touch_image(dir / "in/a.png");
  dips::JobSpec spec;
  spec.inputs = {(dir / "in").string()};
  spec.ops = "blur";
  spec.output_dir = dir / "out";
  spec.report = dir / "out/./a.png";
  CHECK_THAT(build(spec).status.message(), Contains("output '" + (dir / "out/a.png").string() + "' is the report (--report)"));
  spec.report = dir / "in/a.png";
  CHECK_THAT(build(spec).status.message(), Contains("--report '" + (dir / "in/a.png").string() + "' is an input of this job"));
  spec.report = dir / "out/report.jsonl";
  CHECK(build(spec).status.ok());
}

TEST_CASE("output formats that cannot hold the pipeline's result are refused before anything runs", "[bad_input][job][format]") {
  TempDir dir;
  touch_image(dir / "in/a.png");
  dips::JobSpec spec;
  spec.inputs = {(dir / "in").string()};
  spec.output_dir = dir / "out";

  SECTION("--format: the whole job, once per problem") {
    for (const auto& [format, ops, ok] : std::vector<std::tuple<std::string, std::string, bool>>{
             {"ppm", "edge_detection", false},       // PPM takes colour only
             {"ppm", "grayscale,find_contours", true},  // contours are drawn in colour
             {"pgm", "blur", false},                 // PGM takes gray only
             {"pgm", "blur,threshold", true},
             {"pnm", "blur", true}, {"pnm", "grayscale", true},
             {"pam", "grayscale", true}}) {
      INFO(format << " " << ops);
      spec.format = format;
      spec.ops = ops;
      const ManifestRun run = build(spec);
      CHECK(run.status.ok() == ok);
      if (!ok) CHECK_THAT(run.status.message(), Contains("--format " + format + ": a ." + format + " cannot hold this pipeline's"));
      for (const auto& task : run.tasks) CHECK(task.refused.empty());
    }
  }
  SECTION("an output named after its input: only that task is refused") {
    touch_image(dir / "in/b.pgm");
    touch_image(dir / "in/c.exr");
    touch_image(dir / "in/d.jp2");
    spec.ops = "blur";
    const ManifestRun run = build(spec);
    REQUIRE(run.status.ok());
    REQUIRE(run.tasks.size() == 4);
    CHECK(run.tasks[0].refused.empty());
    CHECK_THAT(run.tasks[1].refused, Contains("b.pgm': a .pgm cannot hold this pipeline's colour (3-channel) result") &&
                                         Contains("choose another --format"));
    CHECK_THAT(run.tasks[2].refused, Contains("c.exr': OpenCV cannot write .exr files here"));
    CHECK(run.tasks[3].refused.empty());
  }
  SECTION("a manifest's output column: the job, with its line") {
    write_text(dir / "m.tsv", "in/a.png\tblur\ta.png\nin/a.png\tgrayscale\tgray.ppm\n");
    dips::JobSpec manifest;
    manifest.manifest = (dir / "m.tsv").string();
    manifest.output_dir = dir / "out";
    CHECK_THAT(build(manifest).status.message(), Contains((dir / "m.tsv").string() + ":2: output '") &&
                                                     Contains("gray.ppm': a .ppm cannot hold this pipeline's gray (1-channel) result"));
  }
}

TEST_CASE("file lists (--files-from): one input per line or per NUL, errors with their line", "[bad_input][job][list]") {
  TempDir dir;
  dips::Pipeline pipeline;
  REQUIRE(dips::parse_pipeline("blur", &pipeline).ok());
  std::vector<dips::Task> tasks;

  SECTION("lines: CRLF, blank lines, relative, absolute and upward paths") {
    const std::string text = "photos/a.png\r\n\n./photos/sub/b.jpg\n" + (dir / "abs/c.png").string() + "\n../up/d.jfif\n";
    REQUIRE(dips::parse_file_list(text, "<stdin>", pipeline, dir / "out", "", &tasks).ok());
    REQUIRE(tasks.size() == 4);
    CHECK(tasks[0].input == "photos/a.png");
    CHECK(tasks[0].output == dir / "out/photos/a.png");
    CHECK(tasks[0].origin == "<stdin>:1");
    CHECK(tasks[1].output == dir / "out/photos/sub/b.jpg");
    CHECK(tasks[1].origin == "<stdin>:3");
    CHECK(tasks[2].output == dir / "out/c.png");
    CHECK(tasks[3].output == dir / "out/d.jpg");
  }
  SECTION("NUL-separated (find -print0): names with newlines") {
    const std::string text = std::string("a\nb.png") + '\0' + "c d.png" + '\0';
    REQUIRE(dips::parse_file_list(text, "list", pipeline, dir / "out", "png", &tasks).ok());
    REQUIRE(tasks.size() == 2);
    CHECK(tasks[0].input == "a\nb.png");
    CHECK(tasks[1].output == dir / "out/c d.png");
  }
  SECTION("errors name the list and the line") {
    const Status status = dips::parse_file_list("a.png\nsub/\n", "<stdin>", pipeline, dir / "out", "", &tasks);
    CHECK_THAT(status.message(), Contains("<stdin>:2: output 'sub/' names a folder"));
    tasks.clear();
    CHECK_THAT(dips::parse_file_list("\n\n", "<stdin>", pipeline, dir / "out", "", &tasks).message(), Contains("<stdin>: the list of inputs is empty"));
  }
  SECTION("a manifest from standard input: relative inputs from the working folder, errors as <stdin>:LINE") {
    const ManifestRun run = [&] {
      ManifestRun r;
      r.status = dips::parse_manifest("a.png\tblur\nb.png\tfrobnicate\n", "<stdin>", dir / "out", "", &r.tasks);
      return r;
    }();
    CHECK_THAT(run.status.message(), Contains("<stdin>:2: unknown operation"));
    std::vector<dips::Task> ok;
    REQUIRE(dips::parse_manifest("a.png\tblur\n", "<stdin>", dir / "out", "", &ok).ok());
    CHECK(ok[0].input == "a.png");
    CHECK(ok[0].origin == "<stdin>:1");
  }
  SECTION("build_job reads a list file alongside INPUT arguments") {
    touch_image(dir / "x.png");
    write_text(dir / "list.txt", (dir / "x.png").string() + "\n");
    dips::JobSpec spec;
    spec.ops = "blur";
    spec.files_from = (dir / "list.txt").string();
    spec.output_dir = dir / "out";
    const ManifestRun run = build(spec);
    REQUIRE(run.status.ok());
    REQUIRE(run.tasks.size() == 1);
    CHECK(run.tasks[0].origin == (dir / "list.txt").string() + ":1");
    spec.files_from = (dir / "nope.txt").string();
    CHECK_THAT(build(spec).status.message(), Contains("cannot read file list '" + (dir / "nope.txt").string() + "'"));
  }
}

TEST_CASE("path_extension reads a file name's extension as std::filesystem::path::extension does", "[job]") {
  for (const char* path : {"a.png", "/d/a.png", "d.x/a", "d.x/a.", "a.tar.gz", ".hidden", "/d/.hidden", "/d/.hidden.png", ".", "..",
                           "/d/.", "/d/..", "", "/", "a", "/d.e/f.g/h.JPG", "./a.jpeg", "../a", "a..b", "d/a b (1).png", "d//x.tif"}) {
    INFO(path);
    CHECK(dips::path_extension(path) == std::filesystem::path(path).extension().native());
  }
}
