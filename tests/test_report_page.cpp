// The report end to end, with real ranks and a real browser: the journal of a job in which a worker was
// killed (every piece once, with its outcome; the worker's events; thumbnails; rank 0's own work), its
// report page in headless Chromium (every task with its status, QR strings, the lost worker and its redone
// pieces, hostile names shown as text), version 1 journals resumed, interrupted and resumed runs' pages
// (scripts/dips-report), and the live dashboard while a job runs.
#include <httplib.h>
#include <signal.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <chrono>
#include <functional>
#include <cstdio>
#include <fstream>
#include <map>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <regex>
#include <set>
#include <thread>

#include "dips/report_model.h"
#include "harness.h"
#include "journal_samples.h"
#include "test_images.h"

namespace fs = std::filesystem;
using namespace dips;
using namespace dips::testing;
using Json = nlohmann::json;

namespace {

// --tail-copies off: the page shows the loss, which a job ended by copies of the lost worker's pieces may not declare.
constexpr const char* kOneAtATime = " --lookahead 0 --host-cores all --tail-copies off ";

// ---- the browser

// How this machine runs headless Chromium, or why it cannot (then the browser checks are skipped).
struct Browser {
  std::string binary, why_not;
};

const Browser& browser() {
  static const Browser found = [] {
    Browser b;
    const char* env = std::getenv("DIPS_CHROMIUM");
    b.binary = env != nullptr ? env : "chromium";
    const RunResult which = run_shell("command -v " + b.binary);
    if (which.code != 0) {
      b.why_not = b.binary + " is not installed (scripts/install-deps.sh --browser installs Debian's chromium)";
      return b;
    }
    TempDir profile;
    const RunResult probe = run_shell("timeout 90 " + b.binary + " --headless --no-sandbox --disable-gpu --disable-background-networking "
                                      "--disable-component-update --disable-sync --no-first-run --user-data-dir=" + quoted(profile.path()) +
                                      " --dump-dom 'data:text/html,<p id=probe>ok</p>' 2>/dev/null");
    if (probe.output.find("<p id=\"probe\">ok</p>") == std::string::npos) {
      b.why_not = b.binary + " cannot run headless here (exit " + std::to_string(probe.code) + "): " + probe.output.substr(0, 300);
    }
    return b;
  }();
  return found;
}

// Says why a browser check is skipped, where ctest sees it (SKIP_REGULAR_EXPRESSION).
bool browser_or_skip(const std::string& what) {
  if (browser().why_not.empty()) return true;
  std::printf("SKIPPED: %s: %s\n", what.c_str(), browser().why_not.c_str());
  std::fflush(stdout);
  return false;
}

std::string chromium(const std::string& mode, const std::string& url) {
  TempDir profile;
  const std::string command = "timeout 120 " + browser().binary +
                              " --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update --disable-sync"
                              " --no-first-run --hide-scrollbars --user-data-dir=" + quoted(profile.path()) + " " + mode + " " + quoted(fs::path(url));
  const RunResult run = run_shell(command + " 2>" + quoted(profile / "stderr"));
  INFO(read_text(profile / "stderr"));
  REQUIRE(run.code == 0);
  return run.output;
}

std::string dom_of(const std::string& url) { return chromium("--dump-dom", url); }

// Keeps a screenshot of the page in the build folder, as a test artifact.
void screenshot(const std::string& url, const std::string& name) {
  fs::create_directories(DIPS_ARTIFACT_DIR);
  const fs::path path = fs::path(DIPS_ARTIFACT_DIR) / name;
  fs::remove(path);
  chromium("--window-size=1400,2600 --screenshot=" + quoted(path), url);
  const cv::Mat shot = cv::imread(path.string());
  REQUIRE_FALSE(shot.empty());
  cv::Scalar mean, stddev;
  cv::meanStdDev(shot, mean, stddev);
  CHECK(stddev[0] > 10);  // not a blank page
  std::printf("screenshot kept: %s\n", path.c_str());
}

// How text appears in serialised HTML (text nodes).
std::string html_text(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '&') out += "&amp;";
    else if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else out += c;
  }
  return out;
}

// An attribute's value as the DOM holds it, from its serialised form.
std::string attribute_value(std::string value) {
  const std::vector<std::pair<std::string, std::string>> entities = {{"&quot;", "\""}, {"&lt;", "<"}, {"&gt;", ">"}, {"&#39;", "'"}, {"&nbsp;", "\xc2\xa0"}, {"&amp;", "&"}};
  for (const auto& [entity, plain] : entities) {
    for (size_t at = value.find(entity); at != std::string::npos; at = value.find(entity, at + plain.size())) value.replace(at, entity.size(), plain);
  }
  return value;
}

using Attributes = std::map<std::string, std::string>;

// The page without the contents of its <script> and <style> elements (code, and the data as JSON).
std::string markup_only(const std::string& dom) {
  std::string markup;
  size_t at = 0;
  while (at < dom.size()) {
    const size_t script = dom.find("<script", at), style = dom.find("<style", at);
    const size_t start = std::min(script, style);
    if (start == std::string::npos) break;
    const size_t open_end = dom.find('>', start);
    const size_t close = dom.find(start == script ? "</script>" : "</style>", open_end);
    if (open_end == std::string::npos || close == std::string::npos) break;
    markup.append(dom, at, open_end + 1 - at);
    at = close;
  }
  markup.append(dom, at, std::string::npos);
  return markup;
}

// Every start tag of the markup (tag name, attributes). A scanner rather than a regex: attribute values
// may hold '>' and run to many kilobytes (data: images). Text never holds '<': it is serialised as &lt;.
std::vector<std::pair<std::string, Attributes>> start_tags(const std::string& dom) {
  const std::string markup = markup_only(dom);
  std::vector<std::pair<std::string, Attributes>> tags;
  for (size_t at = markup.find('<'); at != std::string::npos; at = markup.find('<', at + 1)) {
    if (at + 1 >= markup.size() || !std::isalpha(static_cast<unsigned char>(markup[at + 1]))) continue;
    size_t i = markup.find_first_of(" />", at);
    if (i == std::string::npos) break;
    const std::string tag = markup.substr(at + 1, i - at - 1);
    Attributes values;
    while (i < markup.size() && markup[i] != '>') {
      if (markup[i] == ' ' || markup[i] == '/') {
        ++i;
        continue;
      }
      const size_t name_end = markup.find_first_of("= />", i);
      if (name_end == std::string::npos) break;
      const std::string name = markup.substr(i, name_end - i);
      if (markup[name_end] != '=' || name_end + 1 >= markup.size() || markup[name_end + 1] != '"') {
        values[name] = "";
        i = name_end;
        continue;
      }
      const size_t value_end = markup.find('"', name_end + 2);
      if (value_end == std::string::npos) break;
      values[name] = attribute_value(markup.substr(name_end + 2, value_end - name_end - 2));
      i = value_end + 1;
    }
    tags.emplace_back(tag, std::move(values));
  }
  return tags;
}

// The attributes of every element of this tag whose class is exactly `cls`.
std::vector<Attributes> elements(const std::string& dom, const std::string& tag, const std::string& cls) {
  std::vector<Attributes> found;
  for (auto& [name, values] : start_tags(dom)) {
    if (name == tag && values["class"] == cls) found.push_back(values);
  }
  return found;
}

// The attributes of every element of this tag whose class list holds all of `classes`.
std::vector<Attributes> elements_with(const std::string& dom, const std::string& tag, const std::vector<std::string>& classes) {
  std::vector<Attributes> found;
  for (auto& [name, values] : start_tags(dom)) {
    if (name != tag) continue;
    const std::string list = " " + values["class"] + " ";
    if (std::all_of(classes.begin(), classes.end(), [&](const std::string& c) { return list.find(" " + c + " ") != std::string::npos; })) {
      found.push_back(values);
    }
  }
  return found;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// ---- journals

cv::Mat thumbnail_of(const Json& task, const char* which) {
  REQUIRE(task.contains("thumbnails"));
  REQUIRE(task["thumbnails"].contains(which));
  const std::string text = task["thumbnails"][which];
  static const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::vector<uint8_t> bytes;
  int bits = 0, value = 0;
  for (char c : text) {
    if (c == '=') break;
    value = (value << 6) | static_cast<int>(alphabet.find(c));
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes.push_back(static_cast<uint8_t>((value >> bits) & 0xff));
    }
  }
  return cv::imdecode(bytes, cv::IMREAD_UNCHANGED);
}

// A thumbnail shows its image: close to the image scaled down by area averaging.
void check_thumbnail(const cv::Mat& thumbnail, const cv::Mat& image) {
  REQUIRE_FALSE(thumbnail.empty());
  CHECK(std::max(thumbnail.cols, thumbnail.rows) == std::min(160, std::max(image.cols, image.rows)));
  cv::Mat small, diff;
  cv::resize(image, small, thumbnail.size(), 0, 0, cv::INTER_AREA);
  if (small.channels() != thumbnail.channels()) cv::cvtColor(small, small, cv::COLOR_BGR2GRAY);
  cv::absdiff(small, thumbnail, diff);
  const cv::Scalar mean = cv::mean(diff);
  CHECK((mean[0] + mean[1] + mean[2]) / thumbnail.channels() < 20);  // JPEG's loss on small noisy photos (test_thumbnail.cpp)
}

// A job of photos in bands, a QR page, a file with a hostile name, a broken file; the worker first sent a
// whole file is killed holding it (--lookahead 0: the one piece it holds). Which worker that is, the report
// says: a plan for one rank after N pieces misses when the other worker does every piece after the N-th.
struct LostWorkerJob {
  TempDir dir;
  fs::path outdir = dir / "out";
  const std::string hostile = "<img src=x onerror=\"document.title='pwned'\">.png";
  const std::vector<std::string> qr_texts = {"https://example.org/dips?a=1&b=2", "<script>document.title='pwned'</script>"};
  std::vector<std::pair<std::string, std::string>> tasks;  // input (relative to dir), pipeline
  RunResult run;
  int lost = 0;      // the killed worker
  int survivor = 0;  // the other one

  LostWorkerJob() {
    fs::create_directories(dir / "in");
    for (int i = 0; i < 4; ++i) {
      const std::string name = "in/photo" + std::to_string(i) + ".png";
      REQUIRE(cv::imwrite((dir / name).string(), photo_like(64 + 8 * i, 96, 20 + i)));
      tasks.emplace_back(name, "blur=3,edge_detection");
    }
    REQUIRE(cv::imwrite((dir / "in/qr.png").string(), qr_image(qr_texts, 3)));
    tasks.emplace_back("in/qr.png", "read_qr_code");
    REQUIRE(cv::imwrite((dir / "in" / hostile).string(), photo_like(40, 60, 9)));
    tasks.emplace_back("in/" + hostile, "grayscale");
    write_text(dir / "in/broken.png", "this is not an image");
    tasks.emplace_back("in/broken.png", "blur=3");
    std::string manifest;
    for (const auto& [input, ops] : tasks) manifest += input + "\t" + ops + "\n";
    write_text(dir / "job.tsv", manifest);
    run = run_dips(3, "--tile-rows 8" + std::string(kOneAtATime) + "--manifest " + quoted(dir / "job.tsv") + " --output " + quoted(outdir),
                   "DIPS_FAULT='rank:any,piece:file,kind:kill'");
    const auto lines = read_report(report());
    if (!lines.empty() && lines.back().contains("summary") && lines.back()["summary"]["workers_lost"].size() == 1) {
      lost = lines.back()["summary"]["workers_lost"][0];
      survivor = 3 - lost;
    }
  }
  fs::path report() const { return outdir / "report.jsonl"; }
  std::string url() const { return "file://" + (outdir / "report.html").string(); }
};

LostWorkerJob& lost_worker_job() {
  static LostWorkerJob job;  // one run of the job for every check of this file
  return job;
}

}  // namespace

TEST_CASE("journal: every piece once with its outcome, the lost worker's events, thumbnails, rank 0's work", "[report][journal]") {
  LostWorkerJob& job = lost_worker_job();
  INFO(job.run.output);
  REQUIRE(job.run.code == 1);  // broken.png failed; everything else was done
  const auto lines = read_report(job.report());
  REQUIRE(lines.front()["dips_report"] == 2);
  REQUIRE(lines.back()["summary"]["workers_lost"].size() == 1);
  REQUIRE((job.lost == 1 || job.lost == 2));

  // Both workers greeted, with where they run.
  std::set<int> alive;
  for (const Json& e : report_events(job.report(), "worker_alive")) {
    alive.insert(e["worker"].get<int>());
    CHECK(e["pid"].get<int64_t>() > 0);
    CHECK(e["threads"] == 1);
    CHECK_FALSE(e["host"].get<std::string>().empty());
  }
  CHECK(alive == std::set<int>{1, 2});
  const auto lost = report_events(job.report(), "worker_lost");
  REQUIRE(lost.size() == 1);
  CHECK(lost[0]["worker"] == job.lost);
  const std::vector<uint64_t> held = lost[0]["piece_ids"];
  CHECK(held.size() == 1);

  // Every piece of the run appears once, with a final outcome; the one held by the lost worker was done
  // by the survivor, and the journal says where it went.
  std::map<uint64_t, Json> pieces;
  for (const Json& line : lines) {
    if (!line.contains("input")) continue;
    for (const Json& piece : line["pieces"]) {
      const uint64_t id = piece["id"];
      CHECK(pieces.count(id) == 0);
      pieces[id] = piece;
      const std::string outcome = piece["outcome"];
      CHECK((outcome == "ok" || outcome == "error" || outcome == "cancelled"));
      CHECK(piece["ok"] == (outcome == "ok"));
      if (piece.contains("lost_on")) {
        CHECK(piece["lost_on"] == std::vector<int>{job.lost});
        CHECK(piece["lost_sent"].size() == 1);
        CHECK(piece["worker"] == job.survivor);
        CHECK(outcome == (line["status"] == "ok" ? "ok" : "error"));  // it may have been broken.png's
        CHECK(std::find(held.begin(), held.end(), id) != held.end());
      }
    }
  }
  REQUIRE_FALSE(pieces.empty());
  CHECK(pieces.begin()->first == 1);
  CHECK(pieces.rbegin()->first == pieces.size());  // ids 1..N, none missing
  for (uint64_t id : held) CHECK(pieces.count(id) == 1);
  const auto resent = report_events(job.report(), "piece_resent");
  REQUIRE(resent.size() == held.size());
  CHECK(resent[0]["from"] == job.lost);
  CHECK(resent[0]["to"] == job.survivor);

  for (const auto& [input, ops] : job.tasks) {
    INFO(input);
    const Json task = report_tasks(job.report()).at((job.outdir / input).string());
    CHECK(task["ops"] == ops);
    if (input == "in/broken.png") {
      CHECK(task["status"] == "error");
      CHECK(task["pieces"].back()["outcome"] == "error");
      CHECK_FALSE(task.contains("thumbnails"));  // nothing decoded, nothing to show
      continue;
    }
    CHECK(task["status"] == "ok");
    const cv::Mat in = cv::imread((job.dir / input).string());
    check_thumbnail(thumbnail_of(task, "input"), in);
    check_thumbnail(thumbnail_of(task, "output"), read_output(job.outdir / input));
    std::set<std::string> spans;
    for (const Json& span : task["rank0"]) {
      spans.insert(span["op"].get<std::string>());
      CHECK(span["t1"] >= span["t0"]);
    }
    CHECK(spans.count("header") == 1);  // rank 0 sniffed its size to cut it
    // Blur's bands come back to rank 0 as rows; the last stage's bands come back encoded (no stitching).
    if (ops == "blur=3,edge_detection") CHECK(spans.count("stitch") == 1);
  }
  std::vector<std::string> decoded = report_tasks(job.report()).at((job.outdir / "in/qr.png").string())["decoded"];
  std::sort(decoded.begin(), decoded.end());  // in ZBar's order
  std::vector<std::string> expected = job.qr_texts;
  std::sort(expected.begin(), expected.end());
  CHECK(decoded == expected);
  CHECK(fs::exists(job.outdir / "report.html"));
}

TEST_CASE("report page in a browser: tasks, QR strings, the lost worker and its redone pieces, hostile texts as text", "[report][browser]") {
  LostWorkerJob& job = lost_worker_job();
  INFO(job.run.output);
  REQUIRE(job.run.code == 1);
  if (!browser_or_skip("the report page in a browser")) return;
  const std::string dom = dom_of(job.url());
  INFO(dom.substr(0, 2000));
  REQUIRE(elements(dom, "span", "badge finished-1").size() == 1);  // the script ran and rendered the summary

  // Every task, once, with its status.
  std::map<std::string, std::string> shown;
  for (const auto& card : elements(dom, "article", "task status-ok")) shown[card.at("data-input")] = card.at("data-status");
  for (const auto& card : elements(dom, "article", "task status-error")) shown[card.at("data-input")] = card.at("data-status");
  std::map<std::string, std::string> expected;
  for (const auto& [output, task] : report_tasks(job.report())) expected[task["input"]] = task["status"];
  CHECK(shown == expected);
  CHECK(expected.size() == job.tasks.size());

  // The QR strings, as text.
  for (const std::string& text : job.qr_texts) CHECK(count(dom, "<li>" + html_text(text) + "</li>") == 1);
  // The hostile file name and QR text are text, never markup: no element came from them.
  CHECK(dom.find(html_text(job.hostile)) != std::string::npos);
  for (const auto& [tag, attributes] : start_tags(dom)) {
    INFO("<" << tag << "> " << attributes.size() << " attributes");
    CHECK(attributes.count("onerror") == 0);
    CHECK_FALSE((tag == "img" && attributes.count("src") && attributes.at("src") == "x"));
  }
  CHECK(count(dom, "<script") == 2);
  CHECK(dom.find("<script>document.title") == std::string::npos);
  CHECK(dom.find("<title>dips report</title>") != std::string::npos);

  // The lost worker: its row, its moment on the timeline, the piece it held and where it was redone.
  const auto lost_rows = elements(dom, "tr", "worker lost");
  REQUIRE(lost_rows.size() == 1);
  CHECK(lost_rows[0].at("data-rank") == std::to_string(job.lost));
  CHECK(elements(dom, "line", "lost-marker").size() >= 1);
  size_t redone_pieces = 0;
  for (const auto& [output, task] : report_tasks(job.report())) {
    for (const Json& piece : task["pieces"]) redone_pieces += piece.contains("lost_on");
  }
  const auto redone = elements_with(dom, "rect", {"piece", "redone"});
  CHECK(redone.size() == redone_pieces);
  for (const auto& bar : redone) {
    CHECK(bar.at("data-lost-on") == std::to_string(job.lost));
    CHECK(bar.at("data-rank") == std::to_string(job.survivor));
  }
  const auto attempts = elements(dom, "rect", "piece lost-attempt");
  CHECK(attempts.size() == redone_pieces);
  for (const auto& bar : attempts) CHECK(bar.at("data-rank") == std::to_string(job.lost));
  const auto links = elements(dom, "path", "redo-link");
  CHECK(links.size() == redone_pieces);
  for (const auto& link : links) {
    CHECK(link.at("data-from") == std::to_string(job.lost));
    CHECK(link.at("data-to") == std::to_string(job.survivor));
  }
  CHECK(elements(dom, "p", "redone").size() >= 1);  // the task's card says so too
  CHECK(elements(dom, "rect", "span stitch").size() >= 1);  // rank 0's own row
  CHECK(count(dom, "src=\"data:image/jpeg;base64,") >= 2 * (job.tasks.size() - 1));
  screenshot(job.url(), "report-lost-worker.png");
}

TEST_CASE("report page in a browser: a worker killed at the tail, the pieces it held copied to the other", "[report][browser]") {
  // --tail-copies (the default) with a ping timeout the job never reaches: the worker first sent a band,
  // killed holding it, is suspect at the end and never lost; the piece it held was copied to the other,
  // whose result counted. (A kind of piece, not a rank after N pieces: on a loaded machine one worker may
  // do every piece after the N-th.)
  TempDir dir;
  fs::create_directories(dir / "in");
  for (int i = 0; i < 4; ++i) REQUIRE(cv::imwrite((dir / "in" / ("p" + std::to_string(i) + ".png")).string(), photo_like(64 + 8 * i, 96, 40 + i)));
  const fs::path outdir = dir / "out";
  const RunResult run = run_dips(3, "--tile-rows 8 --lookahead 0 --ping-timeout 60 --host-cores all --op blur=3 --output " + quoted(outdir) + " " +
                                        quoted(dir / "in"),
                                 "DIPS_FAULT='rank:any,piece:band,kind:kill'");
  INFO(run.output);
  REQUIRE(run.code == 0);
  const std::smatch fault = [&] {
    std::smatch m;
    REQUIRE(std::regex_search(run.output, m, std::regex("rank ([12]) injects 'kill'")));
    return m;
  }();
  const std::string dead = fault[1].str(), survivor = dead == "1" ? "2" : "1";
  size_t copied = 0;
  for (const auto& [output, task] : report_tasks(outdir / "report.jsonl")) {
    for (const Json& piece : task["pieces"]) copied += piece.contains("also_on");
  }
  REQUIRE(copied >= 1);
  if (!browser_or_skip("the report page in a browser")) return;
  const std::string url = "file://" + (outdir / "report.html").string();
  const std::string dom = dom_of(url);
  INFO(dom.substr(0, 2000));
  const auto ghosts = elements(dom, "rect", "piece copy-attempt");
  CHECK(ghosts.size() == copied);
  for (const auto& ghost : ghosts) CHECK(ghost.at("data-rank") == dead);
  size_t counted = 0;
  for (const auto& bar : elements_with(dom, "rect", {"piece", "ok"})) {
    if (!bar.count("data-also-on")) continue;
    ++counted;
    CHECK(bar.at("data-also-on") == dead);
    CHECK(bar.at("data-rank") == survivor);
  }
  CHECK(counted == copied);
  CHECK(elements_with(dom, "rect", {"piece", "redone"}).empty());  // nothing waited for a loss
  const auto suspect = elements(dom, "tr", "worker suspect");
  REQUIRE(suspect.size() == 1);
  CHECK(suspect[0].at("data-rank") == dead);
  CHECK(dom.find(std::to_string(copied) + (copied == 1 ? " piece" : " pieces") + " copied to rank " + survivor) != std::string::npos);
  screenshot(url, "report-tail-copies.png");
}

TEST_CASE("journal: version 1 reports resume; version 2 reports resume; both make pages", "[report][journal]") {
  TempDir dir;
  fs::create_directories(dir / "in");
  std::vector<SampleTask> done;
  for (const char* name : {"a.png", "b.png", "c.png"}) REQUIRE(cv::imwrite((dir / "in" / name).string(), photo_like(30, 40, name[0])));
  // a and b are recorded done by a version 1 run, with outputs a later run must keep as they are.
  for (const char* name : {"a.png", "b.png"}) {
    write_text(dir / "out" / name, std::string("kept: ") + name);
    done.push_back({(dir / "in" / name).string(), "blur=3", (dir / "out" / name).string()});
  }
  write_text(dir / "out/report.jsonl", version1_journal(done));
  const std::string args = "--op blur=3 --output " + quoted(dir / "out") + " " + quoted(dir / "in") + " --resume";
  RunResult run = run_dips(2, args);
  INFO(run.output);
  REQUIRE(run.code == 0);
  CHECK(read_text(dir / "out/a.png") == "kept: a.png");
  CHECK(read_text(dir / "out/b.png") == "kept: b.png");
  CHECK_FALSE(read_output(dir / "out/c.png").empty());
  auto lines = read_report(dir / "out/report.jsonl");
  CHECK(lines.front()["dips_report"] == 1);
  CHECK(lines.back()["summary"]["skipped"] == 2);
  CHECK(lines.back()["summary"]["ok"] == 1);
  // The page of the mixed journal: both runs, all three tasks done.
  ReportModel model;
  REQUIRE(model.read_more(dir / "out/report.jsonl").ok());
  Json data = model.page_data();
  CHECK(data["runs"].size() == 2);
  CHECK(data["runs"][1]["version"] == 2);
  CHECK(data["status"]["tasks_ok"] == 3);
  CHECK(fs::exists(dir / "out/report.html"));

  // And a version 2 report resumes too: nothing left to do.
  run = run_dips(2, args);
  INFO(run.output);
  REQUIRE(run.code == 0);
  lines = read_report(dir / "out/report.jsonl");
  CHECK(lines.back()["summary"]["skipped"] == 3);
  CHECK(read_text(dir / "out/a.png") == "kept: a.png");
}

TEST_CASE("journal: rank 0's reads and writes when it moves the files' bytes (--io mpi)", "[report][journal]") {
  TempDir dir;
  fs::create_directories(dir / "in");
  for (const char* name : {"a.png", "b.png", "c.png"}) REQUIRE(cv::imwrite((dir / "in" / name).string(), photo_like(50, 70, name[0])));
  const RunResult run = run_dips(3, "--io mpi --quiet --op grayscale --output " + quoted(dir / "out") + " " + quoted(dir / "in"));
  INFO(run.output);
  REQUIRE(run.code == 0);
  for (const auto& [output, task] : report_tasks(dir / "out/report.jsonl")) {
    std::map<std::string, uint64_t> bytes;
    for (const Json& span : task["rank0"]) bytes[span["op"]] = span["bytes"];
    CHECK(bytes.at("read") == fs::file_size(task["input"].get<std::string>()));
    CHECK(bytes.at("write") == fs::file_size(output));
  }
}

TEST_CASE("scripts/dips-report: the page of an interrupted run, then of the resumed one", "[report][journal]") {
  TempDir dir;
  fs::create_directories(dir / "in");
  for (int i = 0; i < 6; ++i) REQUIRE(cv::imwrite((dir / "in" / ("img" + std::to_string(i) + ".png")).string(), photo_like(40, 50, i)));
  const std::string args = "--orphan-timeout 3" + std::string(kOneAtATime) + "--op blur=3 --output " + quoted(dir / "out") + " " + quoted(dir / "in");
  RunResult run = run_dips_run(3, args, "DIPS_FAULT='rank:0,after:3,kind:kill'");
  INFO(run.output);
  REQUIRE(run.code == 3);
  CHECK_FALSE(fs::exists(dir / "out/report.html"));  // rank 0 died before writing it
  const std::string script = std::string(DIPS_RUN_SCRIPT).substr(0, std::string(DIPS_RUN_SCRIPT).rfind('/')) + "/dips-report";
  run = run_shell("DIPS_REPORT_BIN=" DIPS_REPORT_BINARY " " + script + " " + quoted(dir / "out/report.jsonl") + " -o " + quoted(dir / "interrupted.html"));
  INFO(run.output);
  REQUIRE(run.code == 0);
  REQUIRE(fs::exists(dir / "interrupted.html"));
  ReportModel model;
  REQUIRE(model.read_more(dir / "out/report.jsonl").ok());
  CHECK(model.page_data()["status"]["state"] == "interrupted");
  CHECK(model.page_data()["tasks"].size() == 3);

  run = run_dips_run(3, args + " --resume");
  INFO(run.output);
  REQUIRE(run.code == 0);
  REQUIRE(fs::exists(dir / "out/report.html"));  // dips wrote it at the end of the run...
  fs::remove(dir / "out/report.html");        // ...and the script makes it again from the journal alone
  run = run_shell("DIPS_REPORT_BIN=" DIPS_REPORT_BINARY " " + script + " " + quoted(dir / "out/report.jsonl"));
  REQUIRE(run.code == 0);
  REQUIRE(fs::exists(dir / "out/report.html"));  // beside the journal by default
  ReportModel resumed;
  REQUIRE(resumed.read_more(dir / "out/report.jsonl").ok());
  const Json data = resumed.page_data();
  CHECK(data["runs"].size() == 2);
  CHECK(data["status"]["state"] == "finished");
  CHECK(data["status"]["tasks_ok"] == 6);
  // Usage errors and a file that is not a report.
  CHECK(run_shell("DIPS_REPORT_BIN=" DIPS_REPORT_BINARY " " + script).code == 2);
  write_text(dir / "other.jsonl", "{}\n");
  CHECK(run_shell("DIPS_REPORT_BIN=" DIPS_REPORT_BINARY " " + script + " " + quoted(dir / "other.jsonl")).code == 1);
  if (browser_or_skip("the interrupted run's page in a browser")) {
    const std::string dom = dom_of("file://" + (dir / "interrupted.html").string());
    const auto state = elements(dom, "span", "badge interrupted");
    REQUIRE(state.size() == 1);
    CHECK(state[0].at("data-state") == "interrupted");
    CHECK(elements(dom, "article", "task status-ok").size() == 3);
  }
}

namespace {

// The dashboard's port, from the line dips prints on stderr.
int dashboard_port(const BackgroundRun& run) {
  const std::regex line(R"(dips: dashboard: http://127\.0\.0\.1:(\d+)/)");
  for (int i = 0; i < 600; ++i) {
    const std::string log = read_text(run.log());
    std::smatch match;
    if (std::regex_search(log, match, line)) return std::stoi(match[1]);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  FAIL("no dashboard line in: " << read_text(run.log()));
  return -1;
}

Json status_of(httplib::Client& client) {
  auto response = client.Get("/api/status");
  REQUIRE(response);
  REQUIRE(response->status == 200);
  return Json::parse(response->body);
}

std::string state_of(const Json& status, int rank) {
  for (const Json& w : status["workers"]) {
    if (w["rank"] == rank && w["run"] == status["runs"].size() - 1) return w["state"];
  }
  return "";
}

// Polls until `ready` holds (the job is held by construction meanwhile, so this waits for rank 0's
// detection, never for a race to be won).
Json poll_until(httplib::Client& client, const std::function<bool(const Json&)>& ready) {
  for (int i = 0; i < 600; ++i) {
    const Json status = status_of(client);
    if (ready(status)) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  FAIL("the dashboard never showed the expected state");
  return Json();
}

}  // namespace

TEST_CASE("dashboard: live progress and a lost worker while the job runs; the page; 404; the port closes", "[report][dashboard]") {
  TempDir dir;
  fs::create_directories(dir / "in");
  for (int i = 0; i < 12; ++i) REQUIRE(cv::imwrite((dir / "in" / ("img" + std::to_string(i) + ".png")).string(), photo_like(48, 64, 40 + i)));
  // Rank 0 holds the job after its 1st task, and again after its 5th, each time until a worker is lost:
  // the test kills one worker during each hold. At most 3 tasks finish during the first hold (one piece
  // per worker at a time), so the second hold comes after the first kill: progress advances by construction.
  BackgroundRun job = start_dips(4,
                                 "--dashboard 127.0.0.1:0" + std::string(kOneAtATime) + "--op blur=3 --output " + quoted(dir / "out") + " " +
                                     quoted(dir / "in"),
                                 "DIPS_FAULT='rank:0,after:1,kind:hold;rank:0,after:5,kind:hold'");
  const int port = dashboard_port(job);
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(10);

  const Json first = poll_until(client, [](const Json& s) {
    size_t greeted = 0;  // the journal's worker_alive lines, with their pids, are in
    for (const Json& w : s["workers"]) greeted += w["pid"].get<int64_t>() > 0;
    return s["tasks_done"] >= 1 && greeted == 3;
  });
  CHECK(first["tasks_total"] == 12);
  const size_t done_first = first["tasks_done"];
  CHECK(done_first <= 3);
  std::map<int, int64_t> pids;
  for (const Json& w : first["workers"]) {
    const std::string state = w["state"];
    CHECK((state == "idle" || state == "busy" || state == "suspect"));
    pids[w["rank"].get<int>()] = w["pid"];
  }
  REQUIRE(pids.at(1) > 0);
  REQUIRE(::kill(static_cast<pid_t>(pids.at(1)), SIGKILL) == 0);

  const Json second = poll_until(client, [](const Json& s) { return state_of(s, 1) == "lost" && s["tasks_done"] >= 5; });
  CHECK(second["tasks_done"].get<size_t>() > done_first);  // progress advanced
  CHECK(second["tasks_failed"] == 0);
  CHECK(state_of(second, 2) != "lost");

  // The page, live, in a browser; nothing else is served.
  auto page = client.Get("/");
  REQUIRE(page);
  CHECK(page->status == 200);
  CHECK(page->body.find("\"live\":true") != std::string::npos);
  for (const char* path : {"/report.jsonl", "/out/report.jsonl", "/../../etc/passwd", "/api/status/x", "/index.html", "/favicon.ico"}) {
    INFO(path);
    auto response = client.Get(path);
    REQUIRE(response);
    CHECK(response->status == 404);
  }
  if (browser_or_skip("the live dashboard page in a browser")) {
    const std::string dom = dom_of("http://127.0.0.1:" + std::to_string(port) + "/");
    REQUIRE(elements(dom, "span", "badge running").size() == 1);
    const auto lost = elements(dom, "tr", "worker lost");
    REQUIRE(lost.size() == 1);
    CHECK(lost[0].at("data-rank") == "1");
    CHECK(elements(dom, "article", "task status-ok").size() >= 5);
  }

  REQUIRE(pids.at(2) > 0);
  REQUIRE(::kill(static_cast<pid_t>(pids.at(2)), SIGKILL) == 0);  // releases the second hold
  client.stop();
  const RunResult result = finish(job);
  INFO(result.output);
  CHECK(result.code == 0);
  const auto lines = read_report(dir / "out/report.jsonl");
  std::vector<int> lost = lines.back()["summary"]["workers_lost"];
  std::sort(lost.begin(), lost.end());
  CHECK(lost == std::vector<int>{1, 2});
  httplib::Client after("127.0.0.1", port);
  after.set_connection_timeout(2);
  CHECK_FALSE(after.Get("/api/status"));  // the port closed with the job
}
