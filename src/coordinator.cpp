#include "dips/coordinator.h"

#include <fmt/format.h>
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "dips/fault.h"
#include "dips/image_io.h"
#include "dips/progress.h"
#include "dips/report.h"
#include "dips/scheduler.h"
#include "dips/version.h"

namespace dips {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;
constexpr double kWholeImageMaxPixels = 8e6;  // automatic tiling: larger images are cut into bands
constexpr double kBandPixels = 4e6;

// Runs file reads, decodes, stage finishes and writes off the main loop, so that rank 0 keeps answering
// its workers while it does them. A job returns a completion that the main loop runs.
class Background {
 public:
  using Completion = std::function<void()>;
  Background() : thread_([this] { loop(); }) {}
  ~Background() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  void submit(std::function<Completion()> job) {
    std::lock_guard<std::mutex> lock(mutex_);
    jobs_.push_back(std::move(job));
    wake_.notify_all();
  }
  // Runs finished jobs' completions on the calling thread; true when there was any.
  bool run_completions() {
    std::deque<Completion> done;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done.swap(done_);
    }
    for (Completion& completion : done) completion();
    return !done.empty();
  }

 private:
  void loop() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (true) {
      wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      auto job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      Completion completion = job();
      lock.lock();
      done_.push_back(std::move(completion));
    }
  }
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<Completion()>> jobs_;
  std::deque<Completion> done_;
  bool stopping_ = false;
  std::thread thread_;
};

// CPU time of this process (user + system): rank 0's cost, reported so benchmarks can check it.
double process_cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec + (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

// Rows per band for an image: the user's --tile-rows, else whole images up to 8 MP (sent encoded, so
// workers decode and encode) and at least two bands per worker for larger ones.
int plan_tile_rows(int tile_rows_option, int workers, int width, int height) {
  if (tile_rows_option > 0) return tile_rows_option;
  const double pixels = static_cast<double>(width) * height;
  if (workers <= 1 || pixels <= kWholeImageMaxPixels) return height;
  const int bands = std::max(2 * workers, static_cast<int>(std::ceil(pixels / kBandPixels)));
  return std::max(1, (height + bands - 1) / bands);
}

enum class Phase { kReading, kFile, kBands, kFinishing, kEncoding, kWriting };

struct ActiveTask {
  size_t index = 0;
  Phase phase = Phase::kReading;
  Clock::time_point started;
  std::shared_ptr<const std::vector<uint8_t>> bytes;  // the input file, for a kFile piece
  int width = 0, height = 0;
  int tile_rows = 0;
  cv::Mat current;  // the current stage's input, then the final image
  std::vector<Stage> stages;
  size_t stage = 0;
  std::vector<PieceRows> bands;
  std::unique_ptr<StageAssembler> assembler;
  std::vector<std::string> decoded;
  std::set<int> ranks;
};

struct PieceRef {
  size_t task = 0;
  WorkKind kind = WorkKind::kFile;
  size_t band = 0;
};

std::string output_ext(const fs::path& output) {
  std::string ext = output.extension().string();
  return ext.empty() ? ".png" : ext;
}

class Coordinator {
 public:
  Coordinator(const Options& options, Transport& transport, std::vector<Task> tasks)
      : options_(options),
        transport_(transport),
        tasks_(std::move(tasks)),
        scheduler_(transport.workers(), options.scheduler),
        progress_(options.quiet, options.progress_interval),
        fault_(fault_plan_for_rank(0)) {
    workers_ = static_cast<int>(transport.workers().size());
    max_active_ = options.max_active_tasks > 0 ? static_cast<size_t>(options.max_active_tasks) : 2 * workers_ + 2;
  }

  ExitCode run(const std::string& command_line);

 private:
  double now() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }
  void admit_tasks();
  void start_task(size_t index);
  void on_read(size_t index, Status status, std::shared_ptr<std::vector<uint8_t>> bytes, cv::Mat image, int width, int height);
  void start_stage(ActiveTask& task);
  void add_piece(ActiveTask& task, WorkKind kind, size_t band);
  void dispatch();
  void send_piece(uint64_t piece, int worker);
  void handle(const Incoming& message);
  void on_result(int source, ResultMessage result);
  void on_band(ActiveTask& task, size_t band, ResultMessage& result);
  void write_output(ActiveTask& task, std::vector<uint8_t> bytes);
  void finish_task(size_t index, const Status& status);
  void on_worker_lost(int worker, size_t requeued, const std::string& why);
  int tile_rows_for(int width, int height) const;
  ProgressState progress_state() const;
  nlohmann::ordered_json summary(ExitCode code) const;

  const Options& options_;
  Transport& transport_;
  std::vector<Task> tasks_;
  Scheduler scheduler_;
  ProgressDisplay progress_;
  FaultPlan fault_;
  int fault_count_ = 0;
  int workers_ = 0;
  size_t max_active_ = 0;
  Clock::time_point start_ = Clock::now();
  double start_cpu_s_ = process_cpu_seconds();  // rank0_cpu_s counts from here, like wall_s
  ReportWriter report_;
  std::set<std::string> finished_before_;
  size_t next_task_ = 0, ok_ = 0, failed_ = 0, skipped_ = 0;
  double megapixels_ = 0;
  bool report_failed_ = false;
  std::vector<int> lost_workers_;
  std::map<size_t, ActiveTask> active_;
  std::map<uint64_t, PieceRef> pieces_;
  std::vector<uint8_t> ping_payload_ = std::vector<uint8_t>(8, 0);
  Background background_;  // last: destroyed first, so no job outlives the tasks it refers to
};

int Coordinator::tile_rows_for(int width, int height) const {
  return plan_tile_rows(options_.tile_rows, workers_, width, height);
}

void Coordinator::admit_tasks() {
  while (active_.size() < max_active_ && next_task_ < tasks_.size()) {
    const size_t index = next_task_++;
    const Task& task = tasks_[index];
    std::error_code ec;
    if (options_.resume && finished_before_.count(resume_key(task.input.string(), pipeline_text(task.pipeline), task.output.string())) &&
        fs::exists(task.output, ec)) {
      ++skipped_;
      continue;
    }
    start_task(index);
  }
}

void Coordinator::start_task(size_t index) {
  const Task& task = tasks_[index];
  ActiveTask& active = active_[index];
  active.index = index;
  active.started = Clock::now();
  std::error_code ec;
  // A resumed job redoes its unrecorded tasks even where an output exists: a crash can come between the
  // output's rename and its report line.
  if (!options_.overwrite && !options_.resume && fs::exists(fs::symlink_status(task.output, ec))) {
    finish_task(index, Status::Error(fmt::format("output '{}' exists; --overwrite replaces it, --resume skips finished tasks", task.output.string())));
    return;
  }
  fs::create_directories(task.output.parent_path(), ec);
  if (ec) {
    finish_task(index, Status::Error(fmt::format("cannot create output folder '{}': {}", task.output.parent_path().string(), ec.message())));
    return;
  }
  const fs::path input = task.input;
  const uint64_t max_bytes = options_.max_file_bytes;
  const int64_t max_pixels = options_.max_pixels;
  background_.submit([this, index, input, max_bytes, max_pixels]() -> Background::Completion {
    auto bytes = std::make_shared<std::vector<uint8_t>>();
    Status status = read_file(input, max_bytes, bytes.get());
    int width = 0, height = 0;
    cv::Mat image;
    if (status.ok() && sniff_image_size(*bytes, &width, &height)) {
      if (static_cast<int64_t>(width) * height > max_pixels) {
        status = Status::Error(fmt::format("image header claims {}x{} = {} pixels, over the limit of {} (--max-pixels)", width, height,
                                           static_cast<int64_t>(width) * height, max_pixels));
      } else if (height > tile_rows_for(width, height)) {
        status = decode_image(*bytes, max_pixels, &image);
        bytes.reset();
      }
    }
    return [this, index, status, bytes, image, width, height] { on_read(index, status, bytes, image, width, height); };
  });
}

void Coordinator::on_read(size_t index, Status status, std::shared_ptr<std::vector<uint8_t>> bytes, cv::Mat image, int width, int height) {
  if (!status.ok()) {
    finish_task(index, status);
    return;
  }
  ActiveTask& task = active_.at(index);
  task.width = width;
  task.height = height;
  if (image.empty()) {
    task.phase = Phase::kFile;
    task.bytes = std::move(bytes);
    add_piece(task, WorkKind::kFile, 0);
    return;
  }
  task.width = image.cols;
  task.height = image.rows;
  task.tile_rows = tile_rows_for(image.cols, image.rows);
  task.current = image;
  task.stages = plan_stages(tasks_[index].pipeline);
  task.stage = 0;
  start_stage(task);
}

void Coordinator::start_stage(ActiveTask& task) {
  task.phase = Phase::kBands;
  const Stage& stage = task.stages[task.stage];
  task.bands = plan_pieces(stage, task.current.rows, task.tile_rows);
  task.assembler = std::make_unique<StageAssembler>(stage, task.current.rows, task.bands.size());
  for (size_t band = 0; band < task.bands.size(); ++band) add_piece(task, WorkKind::kBand, band);
}

void Coordinator::add_piece(ActiveTask& task, WorkKind kind, size_t band) {
  pieces_[scheduler_.add_piece()] = PieceRef{task.index, kind, band};
}

void Coordinator::dispatch() {
  while (auto assignment = scheduler_.assign(now())) send_piece(assignment->first, assignment->second);
}

void Coordinator::send_piece(uint64_t piece, int worker) {
  const PieceRef& ref = pieces_.at(piece);
  auto it = active_.find(ref.task);
  WorkMessage work;
  work.piece_id = piece;
  work.kind = ref.kind;
  if (it != active_.end()) {  // a piece of a task that already failed still goes out empty-handed below
    ActiveTask& task = it->second;
    const Task& spec = tasks_[ref.task];
    work.output_ext = output_ext(spec.output);
    work.max_pixels = options_.max_pixels;
    switch (ref.kind) {
      case WorkKind::kFile:
        work.steps = spec.pipeline;
        work.bytes = *task.bytes;
        break;
      case WorkKind::kBand: {
        const PieceRows& rows = task.bands[ref.band];
        work.steps = task.stages[task.stage].steps;
        work.rows = rows;
        work.image = task.current.rowRange(rows.in_row0, rows.in_row1);
        break;
      }
      case WorkKind::kEncode:
        work.steps = spec.pipeline;
        work.image = task.current;
        break;
    }
  }
  if (work.steps.empty()) {  // the task is gone: settle the piece without sending it
    scheduler_.complete(piece, worker, true);
    pieces_.erase(piece);
    return;
  }
  std::vector<uint8_t> message = encode_work(work);
  if (fault_.kind == "garble" && fault_tick(fault_, &fault_count_) == FaultAction::kGarble) message.resize(message.size() - 5);
  transport_.send(worker, Tag::kWork, std::make_shared<const std::vector<uint8_t>>(std::move(message)));
}

void Coordinator::handle(const Incoming& message) {
  scheduler_.heard(message.source);
  switch (message.tag) {
    case Tag::kPong:
      return;
    case Tag::kResult: {
      ResultMessage result;
      Status status = decode_result(message.data.data(), message.data.size(), &result);
      if (!status.ok()) {
        on_worker_lost(message.source, scheduler_.declare_dead(message.source),
                       fmt::format("sent an undecodable result ({})", status.message()));
        return;
      }
      on_result(message.source, std::move(result));
      return;
    }
    case Tag::kProtocolError:
      progress_.message(fmt::format("dips: warning: worker rank {} could not decode a message: {}", message.source,
                                    std::string(message.data.begin(), message.data.end())));
      return;
    default:
      progress_.message(fmt::format("dips: warning: unexpected message (tag {}) from rank {} ignored", static_cast<int>(message.tag), message.source));
  }
}

void Coordinator::on_result(int source, ResultMessage result) {
  auto ref_it = pieces_.find(result.piece_id);
  if (ref_it == pieces_.end()) return;  // a late answer to a piece settled long ago
  if (!scheduler_.complete(result.piece_id, source, !result.error.empty())) return;  // late or duplicate
  const PieceRef ref = ref_it->second;
  pieces_.erase(ref_it);
  auto task_it = active_.find(ref.task);
  if (task_it == active_.end()) return;  // the task already failed through another piece
  ActiveTask& task = task_it->second;
  task.ranks.insert(source);
  if (!result.error.empty()) {
    finish_task(ref.task, Status::Error(result.error));
    return;
  }
  switch (ref.kind) {
    case WorkKind::kFile:
      task.width = result.width;
      task.height = result.height;
      task.decoded = std::move(result.decoded);
      task.bytes.reset();
      write_output(task, std::move(result.bytes));
      return;
    case WorkKind::kBand:
      on_band(task, ref.band, result);
      return;
    case WorkKind::kEncode:
      task.current.release();
      write_output(task, std::move(result.bytes));
      return;
  }
}

void Coordinator::on_band(ActiveTask& task, size_t band, ResultMessage& result) {
  PieceOutput output{std::move(result.image), std::move(result.histogram), std::move(result.decoded)};
  Status status = task.assembler->add(task.bands[band], std::move(output));
  if (!status.ok()) {
    finish_task(task.index, status);
    return;
  }
  if (!task.assembler->complete()) return;
  task.phase = Phase::kFinishing;
  const size_t index = task.index;
  StageAssembler* assembler = task.assembler.get();
  background_.submit([this, index, assembler]() -> Background::Completion {
    auto result = std::make_shared<OpResult>();
    Status status = assembler->finish(result.get());
    return [this, index, status, result] {
      ActiveTask& task = active_.at(index);
      if (!status.ok()) return finish_task(index, status);
      task.current = result->image;
      for (auto& text : result->decoded) task.decoded.push_back(std::move(text));
      task.assembler.reset();
      if (++task.stage < task.stages.size()) return start_stage(task);
      task.phase = Phase::kEncoding;
      add_piece(task, WorkKind::kEncode, 0);
    };
  });
}

void Coordinator::write_output(ActiveTask& task, std::vector<uint8_t> bytes) {
  task.phase = Phase::kWriting;
  const size_t index = task.index;
  const fs::path output = tasks_[index].output;
  auto data = std::make_shared<std::vector<uint8_t>>(std::move(bytes));
  background_.submit([this, index, output, data]() -> Background::Completion {
    Status status = write_file_atomic(output, *data);
    return [this, index, status] { finish_task(index, status); };
  });
}

void Coordinator::finish_task(size_t index, const Status& status) {
  const Task& spec = tasks_[index];
  ActiveTask& task = active_[index];
  TaskRecord record;
  record.input = spec.input.string();
  record.output = spec.output.string();
  record.ops = pipeline_text(spec.pipeline);
  record.ok = status.ok();
  record.error = status.message();
  record.decoded = task.decoded;
  record.width = task.width;
  record.height = task.height;
  record.ms = std::chrono::duration<double, std::milli>(Clock::now() - task.started).count();
  record.ranks.assign(task.ranks.begin(), task.ranks.end());
  record.origin = spec.origin;
  if (status.ok()) {
    ++ok_;
    megapixels_ += task.width * static_cast<double>(task.height) / 1e6;
  } else {
    ++failed_;
    progress_.message(fmt::format("dips: error: {}{}: {}", spec.origin.empty() ? "" : spec.origin + ": ", record.input, status.message()));
  }
  Status written = report_.write_task(record);
  if (!written.ok() && !report_failed_) {
    report_failed_ = true;
    progress_.message("dips: error: " + written.message());
  }
  active_.erase(index);
  if (fault_.kind != "garble") fault_tick(fault_, &fault_count_);
}

void Coordinator::on_worker_lost(int worker, size_t pieces, const std::string& why) {
  transport_.abandon(worker);
  lost_workers_.push_back(worker);
  progress_.message(fmt::format("dips: worker rank {} lost ({}); {} piece{} handed to the others, {} worker{} left", worker, why,
                                pieces, pieces == 1 ? "" : "s", scheduler_.live_workers(), scheduler_.live_workers() == 1 ? "" : "s"));
}

ProgressState Coordinator::progress_state() const {
  ProgressState state;
  state.done = ok_ + skipped_;
  state.failed = failed_;
  state.total = tasks_.size();
  state.megapixels = megapixels_;
  state.elapsed_s = now();
  state.live_workers = scheduler_.live_workers();
  state.workers = workers_;
  return state;
}

nlohmann::ordered_json Coordinator::summary(ExitCode code) const {
  const double wall = now();
  return {{"tasks", tasks_.size()},
          {"ok", ok_},
          {"failed", failed_},
          {"skipped", skipped_},
          {"unfinished", tasks_.size() - ok_ - failed_ - skipped_},
          {"wall_s", std::round(wall * 1000) / 1000},
          {"megapixels", std::round(megapixels_ * 1000) / 1000},
          {"mp_per_s", wall > 0 ? std::round(megapixels_ / wall * 1000) / 1000 : 0.0},
          {"workers", workers_},
          {"workers_lost", lost_workers_},
          {"rank0_cpu_s", std::round((process_cpu_seconds() - start_cpu_s_) * 1000) / 1000},
          {"exit_code", static_cast<int>(code)}};
}

ExitCode Coordinator::run(const std::string& command_line) {
  std::error_code ec;
  fs::create_directories(options_.job.output_dir, ec);
  if (ec) {
    progress_.message(fmt::format("dips: error: cannot create output directory '{}': {}", options_.job.output_dir.string(), ec.message()));
    return ExitCode::kUsage;
  }
  if (options_.resume) {
    Status status = read_finished_tasks(options_.report, &finished_before_);
    if (!status.ok()) {
      progress_.message("dips: error: " + status.message());
      return ExitCode::kUsage;
    }
  }
  nlohmann::ordered_json run_line = {{"dips_version", DIPS_VERSION}, {"command", command_line}, {"workers", workers_}, {"resume", options_.resume}};
  Status status = report_.open(options_.report, run_line);
  if (!status.ok()) {
    progress_.message("dips: error: " + status.message());
    return ExitCode::kUsage;
  }
  double last_ping_check = -1;
  while (next_task_ < tasks_.size() || !active_.empty()) {
    bool busy = false;
    Incoming message;
    while (transport_.poll(&message)) {
      handle(message);
      busy = true;
    }
    busy |= background_.run_completions();
    const double t = now();
    if (t - last_ping_check >= 0.01) {
      last_ping_check = t;
      for (auto [worker, requeued] : scheduler_.expire(t)) {
        on_worker_lost(worker, requeued, fmt::format("no answer within {:.1f} s", options_.scheduler.ping_timeout));
      }
      for (int worker : scheduler_.pings_due(t)) transport_.send(worker, Tag::kPing, std::make_shared<const std::vector<uint8_t>>(ping_payload_));
    }
    if (scheduler_.live_workers() == 0) break;
    admit_tasks();
    dispatch();
    progress_.update(progress_state());
    if (!busy) std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  progress_.update(progress_state(), true);
  const bool finished = next_task_ >= tasks_.size() && active_.empty();
  ExitCode code = !finished ? ExitCode::kJobFailed : failed_ > 0 ? ExitCode::kTasksFailed : ExitCode::kOk;
  if (report_failed_) code = ExitCode::kJobFailed;
  progress_.finish();
  if (!finished) {
    progress_.message(fmt::format("dips: error: no worker left; {} of {} tasks unfinished. Finished outputs and the report are kept; "
                                  "rerun with --resume to do the rest.", tasks_.size() - ok_ - failed_ - skipped_, tasks_.size()));
  }
  const nlohmann::ordered_json totals = summary(code);
  status = report_.write_summary(totals);
  if (!status.ok()) code = ExitCode::kJobFailed;
  if (!options_.quiet) {
    progress_.message(fmt::format("dips: {} tasks: {} ok, {} failed, {} skipped; {:.1f} MP in {:.2f} s ({:.1f} MP/s); report: {}",
                                  tasks_.size(), ok_, failed_, skipped_, megapixels_, now(), now() > 0 ? megapixels_ / now() : 0.0,
                                  options_.report.string()));
  }
  return code;
}

void print_plan(const Options& options, const std::vector<Task>& tasks, int workers) {
  std::printf("dry run: %zu tasks, %d worker%s, nothing will be written\n", tasks.size(), workers, workers == 1 ? "" : "s");
  for (const Task& task : tasks) {
    std::vector<uint8_t> bytes;
    int width = 0, height = 0;
    std::string size = "size unknown";
    if (read_file(task.input, options.max_file_bytes, &bytes).ok() && sniff_image_size(bytes, &width, &height)) {
      size = fmt::format("{}x{}", width, height);
    } else if (!fs::exists(task.input)) {
      size = "missing";
    }
    std::string plan;
    if (height > 0) {
      const int rows = plan_tile_rows(options.tile_rows, workers, width, height);
      if (height <= rows) {
        plan = "whole image to one worker";
      } else {
        for (const Stage& stage : plan_stages(task.pipeline)) {
          if (!plan.empty()) plan += " | ";
          plan += fmt::format("{} piece{} ({}, halo {})", stage.kind == Tiling::kWholeImage ? 1 : (height + rows - 1) / rows,
                              stage.kind == Tiling::kWholeImage ? "" : "s", tiling_name(stage.kind), stage.halo);
        }
      }
    }
    std::printf("%s%s  [%s]  %s -> %s  (%s)\n", task.origin.empty() ? "" : (task.origin + "  ").c_str(), task.input.c_str(),
                size.c_str(), pipeline_text(task.pipeline).c_str(), task.output.c_str(), plan.empty() ? "-" : plan.c_str());
  }
}

}  // namespace

void write_status_file(const std::string& path, ExitCode code) {
  if (path.empty()) return;
  const std::string text = std::to_string(static_cast<int>(code)) + "\n";
  if (!write_file_atomic(path, std::vector<uint8_t>(text.begin(), text.end())).ok()) {
    std::fprintf(stderr, "dips: warning: cannot write status file '%s'\n", path.c_str());
  }
}

ExitCode run_coordinator(const Options& options, Transport& transport, const std::string& command_line) {
  std::vector<Task> tasks;
  Status status = build_job(options.job, &tasks);
  if (!status.ok()) {
    std::fprintf(stderr, "dips: error: %s\n", status.message().c_str());
    return ExitCode::kUsage;
  }
  if (options.dry_run) {
    print_plan(options, tasks, static_cast<int>(transport.workers().size()));
    return ExitCode::kOk;
  }
  Coordinator coordinator(options, transport, std::move(tasks));
  return coordinator.run(command_line);
}

}  // namespace dips
