// coordinator: a whole job through the in-process transport (one rank, no MPI), outputs equal to the
// whole-image reference and decoded strings in the report; workers it starts and drains, through a
// transport of in-process workers whose results the test lets through.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <set>
#include <thread>
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

namespace {

// The options of `dips --quiet --op grayscale --output DIR/out DIR/in`, and the job's tasks as listed now.
std::vector<Task> grayscale_job(const fs::path& dir, Options* options) {
  const std::string in = (dir / "in").string(), out = (dir / "out").string();
  const char* argv[] = {"dips", "--quiet", "--op", "grayscale", "--output", out.c_str(), in.c_str()};
  REQUIRE(parse_options(7, argv, options).ok());
  std::vector<Task> tasks;
  REQUIRE(build_job(options->job, &tasks).ok());
  return tasks;
}

}  // namespace

TEST_CASE("an output made after the job was listed is kept: its task fails, the others go on", "[coordinator]") {
  TempDir dir;
  fs::create_directories(dir / "in");
  REQUIRE(cv::imwrite((dir / "in/a.png").string(), photo_like(50, 60, 1)));
  REQUIRE(cv::imwrite((dir / "in/b.png").string(), photo_like(40, 30, 2)));
  Options options;
  std::vector<Task> tasks = grayscale_job(dir.path(), &options);
  REQUIRE(tasks.size() == 2);
  CHECK_FALSE(tasks[0].output_exists);
  fs::create_directories(dir / "out");
  write_text(dir / "out/a.png", "someone else's");  // after the listing: only the rename can notice it
  auto transport = make_local_transport(1);
  CHECK(run_coordinator(options, *transport, std::move(tasks), "test") == ExitCode::kTasksFailed);
  CHECK(read_text(dir / "out/a.png") == "someone else's");
  const auto lines = report_tasks(dir / "out/report.jsonl");
  CHECK(lines.at((dir / "out/a.png").string())["status"] == "error");
  CHECK_THAT(lines.at((dir / "out/a.png").string())["error"].get<std::string>(), Catch::Contains("exists"));
  CHECK(lines.at((dir / "out/b.png").string())["status"] == "ok");
  CHECK(grayscale_job(dir.path(), &options)[0].output_exists);  // listed now, it is seen at once
}

TEST_CASE("outputs go to folders that alternate, nest and share a name's prefix: each is made", "[coordinator]") {
  // Rank 0 makes an output's folder once and remembers the last: a file in a folder below it, beside it
  // under a longer name, or back in an earlier one must still find its folder there.
  TempDir dir;
  fs::create_directories(dir / "in");
  const std::vector<std::string> outputs = {"a/1.png", "b/2.png", "a/3.png", "a/sub/4.png", "a/sub/5.png", "ab/6.png", "a/7.png", "8.png"};
  std::string manifest;
  std::vector<cv::Mat> images;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const fs::path input = dir / "in" / (std::to_string(i) + ".png");
    images.push_back(photo_like(20 + static_cast<int>(i), 30, static_cast<int>(i)));
    REQUIRE(cv::imwrite(input.string(), images.back()));
    manifest += input.string() + "\tgrayscale\t" + outputs[i] + "\n";
  }
  write_text(dir / "job.tsv", manifest);
  Options options;
  const std::string job = (dir / "job.tsv").string(), out = (dir / "out").string();
  const char* argv[] = {"dips", "--quiet", "--manifest", job.c_str(), "--output", out.c_str()};
  REQUIRE(parse_options(6, argv, &options).ok());
  std::vector<Task> tasks;
  REQUIRE(build_job(options.job, &tasks).ok());
  auto transport = make_local_transport(1);
  REQUIRE(run_coordinator(options, *transport, std::move(tasks), "test") == ExitCode::kOk);
  for (size_t i = 0; i < outputs.size(); ++i) {
    INFO(outputs[i]);
    CHECK(identical(read_output(dir / "out" / outputs[i]), reference_pipeline("grayscale", images[i])));
  }
}

TEST_CASE("a job's first message to a worker carries one file, not all of them", "[coordinator]") {
  // Before any piece is measured the cost model guesses slow (0.1 s a file, the lookahead), so that work
  // spreads as it is learned: files whose size rank 0 did not measure count as two megabytes each, not as
  // one byte.
  TempDir dir;
  fs::create_directories(dir / "in");
  for (int i = 0; i < 16; ++i) {
    REQUIRE(cv::imwrite((dir / "in" / ("p" + std::to_string(i) + ".png")).string(), photo_like(300, 400, i)));
  }
  Options options;
  std::vector<Task> tasks = grayscale_job(dir.path(), &options);
  auto transport = make_local_transport(1);
  REQUIRE(run_coordinator(options, *transport, std::move(tasks), "test") == ExitCode::kOk);
  std::vector<double> sent;
  for (const auto& [output, line] : report_tasks(dir / "out/report.jsonl")) {
    for (const auto& piece : line["pieces"]) sent.push_back(piece["sent"].get<double>());
  }
  REQUIRE(sent.size() == 16);
  const double first = *std::min_element(sent.begin(), sent.end());
  // One dispatch stamps its pieces with one time; the guess fills queue depth 1 and the 0.1 s lookahead.
  CHECK(std::count(sent.begin(), sent.end(), first) == 1);
}

namespace {

// Workers rank 0 starts run in this process, one local transport (one worker thread) each. Their results
// reach rank 0 only when the test lets them: every result is held until worker 2 holds one (so it is
// certain to hold a piece), then worker 2's stay held until the report says it drains. Records whether a
// worker was retired while a result of its was still on its way.
class StartingTransport : public Transport {
 public:
  explicit StartingTransport(fs::path report) : report_(std::move(report)) {}
  std::vector<int> workers() const override { return {}; }
  std::string spawn_refusal(const Place&) const override { return ""; }
  Status spawn(const Place&, int* worker) override {
    *worker = next_id_++;
    locals_[*worker] = make_local_transport(1);
    return Status();
  }
  void send(int worker, Tag tag, OutMessage message) override {
    if (!retired_.count(worker)) locals_.at(worker)->send(0, tag, std::move(message));
  }
  bool poll(Incoming* message) override {
    for (auto& [id, local] : locals_) {
      for (Incoming m; !retired_.count(id) && local->poll(&m);) inbox_[id].push_back(std::move(m));
    }
    if (!worker2_holds_ && has_result(2)) {
      worker2_holds_ = true;
      held_since_ = std::chrono::steady_clock::now();
    }
    for (auto& [id, queue] : inbox_) {
      for (auto it = queue.begin(); it != queue.end(); ++it) {
        if (it->tag == Tag::kResult && held(id)) continue;
        *message = std::move(*it);
        message->source = id;
        queue.erase(it);
        return true;
      }
    }
    return false;
  }
  void abandon(int worker) override {
    retired_.insert(worker);
    inbox_.erase(worker);
  }
  void retire(int worker) override {
    if (has_result(worker)) retired_holding_.push_back(worker);
    retired_.insert(worker);
    inbox_.erase(worker);
    locals_.at(worker)->shutdown(false);
  }
  bool shutdown(bool interrupted) override {
    for (auto& [id, local] : locals_) local->shutdown(interrupted);
    return !interrupted;
  }
  bool worker2_holds() const { return worker2_holds_; }
  std::vector<int> retired_holding() const { return retired_holding_; }

 private:
  bool has_result(int worker) {
    const auto& queue = inbox_[worker];
    return std::any_of(queue.begin(), queue.end(), [](const Incoming& m) { return m.tag == Tag::kResult; });
  }
  // Whether a result of this worker is kept from rank 0 now. After 60 s of holding (nothing came that
  // releases them), every result goes through: the job ends and the test fails instead of hanging.
  bool held(int worker) {
    const auto now = std::chrono::steady_clock::now();
    if (now - (worker2_holds_ ? held_since_ : start_) > std::chrono::seconds(60)) return false;
    if (!worker2_holds_) return true;
    if (worker != 2 || drained_seen_) return false;
    if (now - last_read_ < std::chrono::milliseconds(20)) return true;
    last_read_ = now;
    std::ifstream in(report_);
    std::string text((std::istreambuf_iterator<char>(in)), {});
    drained_seen_ = text.find("\"worker_draining\"") != std::string::npos;
    return !drained_seen_;
  }
  fs::path report_;
  int next_id_ = 1;
  std::map<int, std::unique_ptr<Transport>> locals_;
  std::map<int, std::deque<Incoming>> inbox_;
  std::set<int> retired_;
  std::vector<int> retired_holding_;
  std::atomic<bool> worker2_holds_{false};
  bool drained_seen_ = false;
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point held_since_, last_read_;
};

}  // namespace

TEST_CASE("a worker drained by --grow-from finishes the piece it holds before it is retired", "[coordinator][elastic]") {
  TempDir dir;
  fs::create_directories(dir / "in");
  for (int i = 0; i < 3; ++i) REQUIRE(cv::imwrite((dir / "in" / ("img" + std::to_string(i) + ".png")).string(), photo_like(40, 48, 20 + i)));
  const fs::path hosts = dir / "hosts";
  write_text(hosts, "localhost slots=2\n");
  Options options;
  const std::string in = (dir / "in").string(), out = (dir / "out").string(), grow = hosts.string();
  const char* argv[] = {"dips", "--quiet", "--tile-rows", "8", "--lookahead", "0", "--workers", "2", "--grow-from", grow.c_str(),
                        "--op", "blur=3", "--output", out.c_str(), in.c_str()};
  REQUIRE(parse_options(15, argv, &options).ok());
  std::vector<Task> tasks;
  REQUIRE(build_job(options.job, &tasks).ok());
  StartingTransport transport(dir / "out" / "report.jsonl");
  auto run = std::async(std::launch::async, [&] { return run_coordinator(options, transport, std::move(tasks), "test"); });
  // Worker 2 holds a piece whose result rank 0 has not seen: now its slot goes away.
  bool holds = false;
  for (int i = 0; i < 2400 && !(holds = transport.worker2_holds()); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  write_text(dir / "hosts.new", "localhost slots=1\n");
  fs::rename(dir / "hosts.new", hosts);
  const ExitCode code = run.get();
  REQUIRE(holds);
  CHECK(code == ExitCode::kOk);
  CHECK(transport.retired_holding().empty());  // its result was read before it was told to stop
  std::vector<int> retired;
  for (const auto& line : read_report(dir / "out/report.jsonl")) {
    if (line.value("event", "") == "worker_retired") retired.push_back(line["worker"].get<int>());
  }
  CHECK(retired == std::vector<int>{2});
  Pipeline pipeline;
  REQUIRE(parse_pipeline("blur=3", &pipeline).ok());
  for (int i = 0; i < 3; ++i) {
    const std::string name = "img" + std::to_string(i) + ".png";
    OpResult expected;
    REQUIRE(run_pipeline_whole(cv::imread((dir / "in" / name).string()), pipeline, &expected).ok());
    CHECK(identical(read_output(dir / "out" / name), expected.image));
  }
}

namespace {

// Two in-process workers; the first progress report a worker sends reaches rank 0 cut short, as from a
// worker gone wrong. Messages of a worker rank 0 abandoned reach it no more.
class GarblingTransport : public Transport {
 public:
  GarblingTransport() {
    for (int id : {1, 2}) locals_[id] = make_local_transport(1);
  }
  std::vector<int> workers() const override { return {1, 2}; }
  void send(int worker, Tag tag, OutMessage message) override {
    if (!abandoned_.count(worker)) locals_.at(worker)->send(0, tag, std::move(message));
  }
  bool poll(Incoming* message) override {
    for (auto& [id, local] : locals_) {
      if (abandoned_.count(id) || !local->poll(message)) continue;
      message->source = id;
      if (message->tag == Tag::kProgress && !garbled_) {
        garbled_ = true;
        message->data = std::make_shared<std::vector<uint8_t>>(message->data->begin(), message->data->end() - 1);
      }
      return true;
    }
    return false;
  }
  void abandon(int worker) override { abandoned_.insert(worker); }
  bool shutdown(bool interrupted) override {
    for (auto& [id, local] : locals_) local->shutdown(interrupted);
    return !interrupted;
  }
  bool garbled() const { return garbled_; }

 private:
  std::map<int, std::unique_ptr<Transport>> locals_;
  std::set<int> abandoned_;
  bool garbled_ = false;
};

}  // namespace

TEST_CASE("a worker whose progress report cannot be read is lost; its decode is done again, exact", "[coordinator]") {
  TempDir dir;
  fs::create_directories(dir / "in");
  const cv::Mat image = photo_like(200, 320, 5);  // a PNG in bands: its decode reports its rows as it writes them
  REQUIRE(cv::imwrite((dir / "in/big.png").string(), image));
  Options options;
  const std::string in = (dir / "in").string(), out = (dir / "out").string();
  const char* argv[] = {"dips", "--quiet", "--tile-rows", "16", "--op", "blur=3", "--output", out.c_str(), in.c_str()};
  REQUIRE(parse_options(9, argv, &options).ok());
  std::vector<Task> tasks;
  REQUIRE(build_job(options.job, &tasks).ok());
  GarblingTransport transport;
  CHECK(run_coordinator(options, transport, std::move(tasks), "test") == ExitCode::kOk);
  REQUIRE(transport.garbled());
  CHECK(identical(read_output(dir / "out/big.png"), reference_pipeline("blur=3", image)));
  int lost = 0;
  for (const auto& line : read_report(dir / "out/report.jsonl")) {
    if (line.value("event", "") != "worker_lost") continue;
    ++lost;
    CHECK_THAT(line["why"].get<std::string>(), Catch::Contains("sent an undecodable progress report (malformed message"));
  }
  CHECK(lost == 1);
  CHECK(dips_temp_files(dir / "out").empty());
}
