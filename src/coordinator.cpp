#include "dips/coordinator.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <deque>
#include <thread>
#include <random>
#include <set>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "dips/background.h"
#include "dips/dashboard.h"
#include "dips/fault.h"
#include "dips/granularity.h"
#include "dips/html_report.h"
#include "dips/image_io.h"
#include "dips/placement.h"
#include "dips/progress.h"
#include "dips/report.h"
#include "dips/scheduler.h"
#include "dips/signals.h"
#include "dips/task_run.h"
#include "dips/thumbnail.h"
#include "dips/temp_files.h"
#include "dips/version.h"
#include "dips/watchdog.h"

namespace dips {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

// Pieces waiting in the pool beyond what the workers hold: enough to fill every worker at once.
constexpr size_t kMinPendingPieces = 64;
// Input bytes rank 0 holds in memory at once when it moves files itself (IoMode::kMpi).
constexpr uint64_t kMaxLoadedBytes = 512ull << 20;
// Bytes of a file's head that hold the size of every format dips sniffs.
constexpr size_t kHeaderBytes = 64 * 1024;
constexpr double kReportFlushInterval = 0.05;
constexpr double kDeadlineInterval = 0.01;
// How often rank 0 reads the --grow-from hostfile again.
constexpr double kGrowInterval = 2.0;
// The report's gallery (docs/report.md): thumbnails of the first tasks of a run, and of the inputs of up to
// as many failures, so that the page of a 100,000-task job stays light.
constexpr size_t kThumbnailTasks = 100;
constexpr size_t kThumbnailFailures = 100;
constexpr uint16_t kThumbnailPx = 160;
// The cost units of a whole file whose size rank 0 did not measure (see enqueue_ready): two megabytes,
// which the first guess prices at the scheduler's lookahead (0.1 s), so that until a file of its kind has
// come back a worker holds one at a time (with one megabyte it took two: on photos of 0.3-0.8 s each, the
// second then waited on a busy worker while the other ran dry at the job's end).
constexpr double kUnitsPerUnsizedFile = 2e6;
// The dashboard's view of rank 0: refreshed this often, with this many of the latest pieces back.
constexpr double kPublishInterval = 0.2;
constexpr size_t kRecentPieces = 512;

// CPU time of this process (user + system): rank 0's cost, reported so benchmarks can check it.
double process_cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec + (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

double peak_rss_mb() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;
}

// The wall-clock time now, for the journal's run line (all other times count from the job's start).
std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

double rounded(double value) { return std::round(value * 1e4) / 1e4; }

// A thumbnail from its bands' shares, in the order of their rows.
Bytes stacked(const std::map<int, cv::Mat>& shares) {
  std::vector<cv::Mat> ordered;
  for (const auto& [row0, share] : shares) ordered.push_back(share);
  return stack_thumbnail_rows(ordered);
}

const char* state_name(WorkerState state) {
  switch (state) {
    case WorkerState::kIdle: return "idle";
    case WorkerState::kBusy: return "busy";
    case WorkerState::kSuspect: return "suspect";
    case WorkerState::kDead: return "lost";
  }
  return "?";
}

std::string random_token() {
  std::random_device device;
  return fmt::format("{:016x}{:016x}", (uint64_t(device()) << 32) | device(), (uint64_t(device()) << 32) | device());
}

// The first bytes of a file, for its header.
Status read_header(const fs::path& path, std::vector<uint8_t>* bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return Status::Error("cannot open");
  bytes->resize(kHeaderBytes);
  const ssize_t n = ::read(fd, bytes->data(), bytes->size());
  ::close(fd);
  bytes->resize(n > 0 ? static_cast<size_t>(n) : 0);
  return Status();
}

struct WorkerInfo {
  bool replied = false;
  bool used = false;  // in the scheduler
  double greeted = 0;
  HelloReply hello;
};

// A worker rank 0 means to start: at the beginning (--workers), to replace a lost one, or on a new host.
struct SpawnWish {
  int replaces = -1;                  // the lost worker, or -1
  std::optional<std::string> prefer;  // the host to start it on if it has a free slot
};

// A task being worked on.
struct ActiveTask {
  std::unique_ptr<TaskRun> run;
  Clock::time_point started;
  std::vector<int> ranks;     // that computed its pieces, each once
  uint64_t loaded_bytes = 0;  // its input held in memory (IoMode::kMpi)
  uint64_t file_size = 0;     // of its input, as rank 0 saw it (0: not measured)
  Thumbnails thumbnails = Thumbnails::kNone;
  Bytes thumbnail_input, thumbnail_output;
  std::map<int, cv::Mat> input_shares, output_shares;  // bands' rows of the thumbnails, by the band's first row
  std::vector<Rank0Span> rank0;
  FileIdentity input;         // of its input before it was read, recorded for --resume
  std::filesystem::path pixel_file;  // made for its decoded image (TaskIo::pixel_file), removed when it ends
};

// A name for a task's decoded image next to its output (TaskIo::pixel_file): one of rank 0's temporary
// files (temp_files.h), so that --resume after a rank 0 that died removes it. Empty when the folder
// refuses it: the pixels then travel through rank 0.
fs::path new_pixel_file(const fs::path& folder) {
  fs::path path;
  const int fd = create_temp_file(folder, &path);
  if (fd < 0) return {};
  ::close(fd);
  return path;
}

void remove_pixel_file(ActiveTask* task) {
  if (task->pixel_file.empty()) return;
  ::unlink(task->pixel_file.c_str());
  release_temp_file(task->pixel_file);
  task->pixel_file.clear();
}

// A piece in the scheduler: which task it belongs to and what to send (kept to send again after a death).
struct PieceEntry {
  size_t task = 0;
  size_t index = 0;
  WorkItem item;
  const std::string* cost_key = nullptr;  // interned (Coordinator::cost_key)
  double cost_units = 0;
};

uint64_t payload_bytes(const WorkItem& item) {
  return item.file.size + (item.pixels.empty() ? 0 : item.pixels.total() * item.pixels.elemSize());
}

uint64_t payload_bytes(const ResultItem& item) {
  return item.encoded.size + (item.pixels.empty() ? 0 : item.pixels.total() * item.pixels.elemSize());
}

class Coordinator {
 public:
  Coordinator(const Options& options, Transport& transport, std::vector<Task> tasks, const SkippedFiles& skipped)
      : options_(options), transport_(transport), tasks_(std::move(tasks)), skipped_files_(skipped), scheduler_(options.scheduler),
        progress_(options.quiet, options.progress_interval), background_(2) {
    for (const FaultPlan& plan : fault_plans()) (plan.rank == 0 ? own_faults_ : worker_faults_).push_back(plan);
    initial_workers_ = transport_.workers().size() + static_cast<size_t>(options.spawn_workers);
    for (int i = 0; i < options.spawn_workers; ++i) wishes_.push_back(SpawnWish{});
    initial_spawns_left_ = options.spawn_workers;
  }

  ExitCode run(const std::string& command_line);

 private:
  double now() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }
  Status open_report(const std::string& command_line);
  Status plan_hosts();
  void greet_workers();
  void greet(int worker);
  void on_hello(int worker, const Incoming& message);
  void decide_io();
  void use_worker(int worker, WorkerInfo& info);
  void limit_host(int host, const std::vector<int>& cpus);
  void say_standby();
  // --host-cores as given: "auto" or a number ("all" never has workers standing by).
  std::string host_cores_text() const { return options_.host_cores > 0 ? std::to_string(options_.host_cores) : "auto"; }
  void spawn_one();
  [[noreturn]] void end_on_hung_spawn();
  void regrow();
  void retire_drained();
  bool awaiting_workers() const;
  bool step();
  void handle(const Incoming& message);
  void apply_deadlines();
  void admit();
  // Whether outputs may replace what has their names: --overwrite, and --resume (a crash can come between
  // an output's rename and its report line, so a resumed task redoes its output).
  bool replaces_outputs() const { return options_.overwrite || options_.resume; }
  bool admission_open() const;
  Status make_output_folder(const std::string& path);
  void prepare(size_t index);
  void start_task(size_t index, Status status, Bytes file, uint64_t file_size, SniffedImage image);
  void enqueue_ready(size_t index);
  const std::string& steps_text(const Pipeline& steps);
  const std::string* cost_key(std::initializer_list<std::string_view> parts);
  void dispatch();
  void reprice_next_piece();
  void on_result(int worker, ResultItem&& result);
  void on_progress(int worker, const Incoming& message);
  void task_progress(size_t index);
  void finish_task(size_t index, const Status& status);
  void on_worker_lost(int worker, const std::vector<uint64_t>& pieces, const std::string& why, int left);
  void lose_undecodable(int worker, const char* what, const Status& status);
  void arm_worker_faults();
  void arm_piece_fault(const std::string& kind, int worker);
  void fire_own_fault(int count);
  void journal_worker_states();
  void journal_standby(int worker);
  void journal_unfinished_tasks();
  void write_page();
  void publish_live();
  void remember_piece(size_t task, const PieceRecord& record, bool ok);
  void check_stop();
  bool stopped() const;
  void remove_stale_temp_files_of(const std::vector<std::string>& folders);
  void give_up_suspects();
  void note_report(const Status& status);
  ProgressState progress_state() const;
  nlohmann::ordered_json summary(ExitCode code) const;
  ExitCode close_report(ExitCode code, const std::string& why_unfinished);
  bool finished() const { return next_task_ >= tasks_.size() && active_.empty(); }

  const Options& options_;
  Transport& transport_;
  std::vector<Task> tasks_;
  const SkippedFiles& skipped_files_;
  Scheduler scheduler_;
  ProgressDisplay progress_;
  ReportWriter report_;
  CostModel costs_;
  std::map<int, WorkerInfo> workers_;
  std::vector<uint8_t> hello_bytes_;
  std::unique_ptr<Placement> placement_;
  std::deque<SpawnWish> wishes_;
  int initial_spawns_left_ = 0, replacements_ = 0;
  size_t initial_workers_ = 0;
  std::vector<int> spawned_workers_;  // started during the job (replacements, added hosts)
  std::set<int> draining_;
  std::set<int> productive_;  // workers that finished a piece
  std::vector<bool> worker_fault_armed_;
  std::vector<HostSlots> grow_hosts_;
  double last_grow_ = 0, next_spawn_ = 0;
  std::string spawn_refused_;
  bool io_decided_ = false, shared_io_ = true;
  fs::path probe_path_;
  std::string probe_token_;
  Clock::time_point start_ = Clock::now();
  double start_cpu_s_ = process_cpu_seconds();  // rank0_cpu_s counts from here, like wall_s
  double hello_sent_ = 0, last_deadlines_ = -1, last_flush_ = 0;
  FinishedTasks finished_before_;
  std::unordered_set<std::string> made_dirs_;
  std::string last_folder_;  // of the output of the task admitted last
  Pipeline last_steps_;      // steps_text's memory
  std::string last_steps_text_;
  std::unordered_set<std::string> cost_keys_;  // a job has a handful, each piece names one
  std::string cost_key_text_;                  // reused to spell one
  size_t next_task_ = 0, ok_ = 0, failed_ = 0, skipped_ = 0;
  size_t preparing_ = 0;
  uint64_t loaded_bytes_ = 0;
  double megapixels_ = 0;
  bool report_failed_ = false;
  std::vector<int> lost_workers_;
  size_t copies_ = 0;  // pieces given to a second worker while the first was suspect
  std::unordered_map<size_t, ActiveTask> active_;
  std::unordered_map<uint64_t, PieceEntry> pieces_;
  std::vector<FaultPlan> own_faults_, worker_faults_;
  size_t pieces_completed_ = 0, tasks_completed_ = 0, work_messages_ = 0;
  double hold_until_ = 0;
  size_t changes_at_hold_ = 0;
  size_t worker_changes_ = 0;  // workers lost, joined during the job, or retired
  size_t thumbnail_tasks_ = 0, failure_thumbnails_ = 0;
  std::map<int, WorkerState> journaled_states_;  // what the journal last said of each worker (suspect or not)
  std::set<int> journaled_standby_;              // the workers the journal last said stand by
  std::map<std::string, int> host_ids_;          // the scheduler's id of each host name
  std::map<int, std::set<int>> host_cpus_;       // the CPUs each host's workers may run on (--host-cores auto)
  std::unique_ptr<Dashboard> dashboard_;
  double last_publish_ = -1;
  std::deque<LivePiece> recent_pieces_;          // for the dashboard only
  bool stopping_ = false, stop_at_once_ = false;  // a stop signal came (signals.h)
  int stop_signal_ = 0;
  double stop_deadline_ = 0;
  std::string spawning_on_;  // the host of the spawn under way, for the watchdog
  double spawn_started_ = 0;
  Watchdog spawn_watchdog_{[this] { end_on_hung_spawn(); }};
  Background background_;  // last: destroyed first, so no job outlives the state it refers to
};

Status Coordinator::open_report(const std::string& command_line) {
  if (options_.resume) {
    Status status = read_finished_tasks(options_.report, &finished_before_);
    if (!status.ok()) return status;
  }
  nlohmann::ordered_json run_line = {{"dips_version", DIPS_VERSION}, {"command", command_line},
                                     {"workers", initial_workers_}, {"resume", options_.resume}, {"started_at", utc_now()}};
  return report_.open(options_.report, run_line);
}

// Asks every worker whether it sees the job's files: a probe file in the output folder, and an input's size.
void Coordinator::greet_workers() {
  Hello hello;
  if (options_.io != IoMode::kMpi) {
    probe_token_ = random_token();
    probe_path_ = options_.job.output_dir / fmt::format(".dips-probe-{}", probe_token_.substr(0, 12));
    if (write_file_atomic(probe_path_, std::vector<uint8_t>(probe_token_.begin(), probe_token_.end()), false).ok()) {
      hello.probe_path = fs::absolute(probe_path_).string();
      hello.probe_token = probe_token_;
    }
    struct stat info {};
    if (!tasks_.empty() && ::stat(tasks_.front().input.c_str(), &info) == 0) {
      hello.input_path = fs::absolute(tasks_.front().input).string();
      hello.input_size = static_cast<uint64_t>(info.st_size);
    }
  }
  hello_bytes_ = encode_hello(hello);
  for (int worker : transport_.workers()) greet(worker);
}

void Coordinator::greet(int worker) {
  hello_sent_ = now();
  workers_[worker].greeted = hello_sent_;
  OutMessage message;
  message.head = hello_bytes_;
  transport_.send(worker, Tag::kHello, std::move(message));
}

void Coordinator::on_hello(int worker, const Incoming& message) {
  auto it = workers_.find(worker);
  if (it == workers_.end() || it->second.replied) return;
  HelloReply reply;
  Status status = decode_hello_reply(*message.data, &reply);
  if (!status.ok()) {
    progress_.message(fmt::format("dips: warning: worker rank {} answered the greeting with garbage ({}); not used", worker, status.message()));
    it->second.replied = true;
    return;
  }
  it->second.replied = true;
  it->second.hello = reply;
  report_.write_event({{"event", "worker_alive"}, {"worker", worker}, {"t", rounded(now())}, {"host", reply.host}, {"pid", reply.pid},
                       {"threads", reply.threads}, {"sees_files", reply.sees_files}, {"cpus", reply.cpus.size()}});
  if (!io_decided_) return;
  use_worker(worker, it->second);  // a worker started during the job
  journal_worker_states();
}

// Workers that see the files read and write them; if one does not (auto), rank 0 moves every file's bytes.
void Coordinator::decide_io() {
  if (initial_spawns_left_ > 0) return;  // the io mode is decided with every worker of the start
  const bool all_replied = std::all_of(workers_.begin(), workers_.end(), [](const auto& w) { return w.second.replied; });
  if (!all_replied && now() - hello_sent_ < options_.scheduler.ping_timeout) return;
  bool all_see = true;
  for (auto& [id, info] : workers_) {
    if (!info.replied) continue;
    all_see &= info.hello.sees_files;
  }
  shared_io_ = options_.io == IoMode::kShared || (options_.io == IoMode::kAuto && all_see);
  io_decided_ = true;
  for (auto& [id, info] : workers_) {
    if (info.replied) use_worker(id, info);
  }
  journal_worker_states();
  say_standby();
  arm_worker_faults();  // after:0
}

// Once, at the start: a user who asked for 16 workers and sees 2 of them work is told why.
void Coordinator::say_standby() {
  std::vector<int> standing;
  for (int worker : scheduler_.workers()) {
    if (scheduler_.standing_by(worker)) standing.push_back(worker);
  }
  if (standing.empty() || options_.quiet) return;
  progress_.message(fmt::format("dips: {} of {} workers stand by, as their machine's cores are taken by the others (--host-cores {}); "
                                "they take over from a worker that is lost. --host-cores all: every worker works",
                                standing.size(), scheduler_.workers().size(), host_cores_text()));
}

// A worker that answered the greeting takes pieces, unless it cannot see the files workers read.
void Coordinator::use_worker(int worker, WorkerInfo& info) {
  if (info.used || info.hello.threads < 1) return;
  if (shared_io_ && !info.hello.sees_files) {
    const std::string why = fmt::format("cannot see the job's files ({})", options_.io == IoMode::kShared ? "--io shared" : "workers read and write the files themselves in this job");
    progress_.message(fmt::format("dips: warning: worker rank {} on {} {}; not used", worker, info.hello.host, why));
    report_.write_event({{"event", "worker_unused"}, {"worker", worker}, {"t", rounded(now())}, {"why", why}});
    return;
  }
  info.used = true;
  const int host = host_ids_.emplace(info.hello.host, static_cast<int>(host_ids_.size())).first->second;
  scheduler_.add_worker(worker, info.hello.threads, host);
  limit_host(host, info.hello.cpus);
  if (std::count(spawned_workers_.begin(), spawned_workers_.end(), worker)) ++worker_changes_;  // joined during the job
  arm_worker_faults();  // a plan for a worker started during the job
}

// How many compute threads of a machine take pieces (--host-cores): by default as many as the CPUs its
// workers may run on together (each worker's affinity, which mpirun's binding or a batch system's
// allocation sets), so that workers beyond them stand by instead of taking turns on the same cores.
void Coordinator::limit_host(int host, const std::vector<int>& cpus) {
  if (options_.host_cores == kHostCoresAll) return;
  if (options_.host_cores > 0) return scheduler_.limit_host(host, options_.host_cores);
  std::set<int>& usable = host_cpus_[host];
  usable.insert(cpus.begin(), cpus.end());
  if (!usable.empty()) scheduler_.limit_host(host, static_cast<int>(usable.size()));
}

// Where started workers may go: --grow-from's hosts, else --hosts, else this machine (its cores, or more
// when more workers run on it already).
Status Coordinator::plan_hosts() {
  std::vector<HostSlots> hosts;
  const std::string& file = !options_.grow_from.empty() ? options_.grow_from : options_.hosts_file;
  if (!file.empty()) {
    Status status = read_hostfile(file, &hosts);
    if (!status.ok()) return status;
    if (hosts.empty()) return Status::Error(fmt::format("hostfile '{}' lists no host", file));
  }
  grow_hosts_ = hosts;
  const int world_workers = static_cast<int>(transport_.workers().size());
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  placement_ = std::make_unique<Placement>(hosts, std::max(cores, world_workers + options_.spawn_workers));
  // Without a hostfile every world rank is on this machine and holds one of its slots.
  if (hosts.empty()) {
    for (int worker : transport_.workers()) placement_->started(worker, Place{});
  }
  return Status();
}

// Starts one wished-for worker. Each spawn blocks rank 0 (0.3 s, several seconds on a loaded machine), so
// the next one waits as long again: rank 0 spends at most half its time in spawns and keeps pinging, and
// workers do not take its silence for its death (--orphan-timeout).
void Coordinator::spawn_one() {
  if (wishes_.empty() || (io_decided_ && finished()) || now() < next_spawn_) return;
  const SpawnWish wish = wishes_.front();
  wishes_.pop_front();
  const bool initial = initial_spawns_left_ > 0;
  const std::optional<Place> place = placement_->place(wish.prefer);
  if (!place) {
    progress_.message(fmt::format("dips: warning: no usable host with a free slot to start a worker{}", wish.replaces >= 0 ? fmt::format(" (to replace worker rank {})", wish.replaces) : ""));
    if (initial) --initial_spawns_left_;
    return;
  }
  const std::string refusal = transport_.spawn_refusal(*place);
  if (!refusal.empty()) {
    if (spawn_refused_ != refusal) progress_.message(fmt::format("dips: warning: cannot start workers: {}", refusal));
    spawn_refused_ = refusal;
    if (initial) --initial_spawns_left_;
    return;
  }
  const double t0 = now();
  const std::string where = place->host.empty() ? std::string("this machine") : place->host;
  spawning_on_ = where;
  spawn_started_ = t0;
  spawn_watchdog_.arm(options_.spawn_timeout);
  int worker = -1;
  Status status = transport_.spawn(*place, &worker);
  spawn_watchdog_.disarm();
  const double took = now() - t0;
  scheduler_.pause(took);
  next_spawn_ = now() + took;
  if (initial) --initial_spawns_left_;
  if (!status.ok()) {
    progress_.message(fmt::format("dips: warning: {}", status.message()));
    return;
  }
  placement_->started(worker, *place);
  if (!initial) spawned_workers_.push_back(worker);
  greet(worker);
  nlohmann::ordered_json event = {{"event", "worker_spawned"}, {"worker", worker}, {"host", where}, {"t", rounded(t0)},
                                  {"spawn_s", std::round(took * 1e4) / 1e4}};
  if (wish.replaces >= 0) event["replaces"] = wish.replaces;
  report_.write_event(event);
  if (!initial) {
    progress_.message(fmt::format("dips: worker rank {} started on {} in {:.2f} s{}", worker, where, took,
                                  wish.replaces >= 0 ? fmt::format(" (replaces rank {})", wish.replaces) : std::string()));
  }
}

// Reads --grow-from again: new hosts and slots get workers, workers on hosts gone (or beyond a host's
// slots) finish their pieces and stop.
void Coordinator::regrow() {
  if (options_.grow_from.empty() || now() - last_grow_ < kGrowInterval) return;
  last_grow_ = now();
  std::vector<HostSlots> hosts;
  Status status = read_hostfile(options_.grow_from, &hosts);
  if (!status.ok()) return;  // a file being rewritten: read it next time
  for (const HostSlots& host : hosts) {
    auto before = std::find_if(grow_hosts_.begin(), grow_hosts_.end(), [&](const HostSlots& h) { return h.name == host.name; });
    for (int i = before == grow_hosts_.end() ? 0 : before->slots; i < host.slots; ++i) wishes_.push_back(SpawnWish{-1, host.name});
  }
  grow_hosts_ = hosts;
  for (int worker : placement_->update(hosts)) {
    if (!draining_.insert(worker).second) continue;
    scheduler_.drain(worker);
    progress_.message(fmt::format("dips: worker rank {} drains (its host left {})", worker, options_.grow_from));
    report_.write_event({{"event", "worker_draining"}, {"worker", worker}, {"t", rounded(now())}});
  }
  journal_worker_states();
}

void Coordinator::retire_drained() {
  for (auto it = draining_.begin(); it != draining_.end();) {
    const int worker = *it;
    if (!scheduler_.drained(worker)) {
      ++it;
      continue;
    }
    transport_.retire(worker);
    scheduler_.remove_worker(worker);
    placement_->stopped(worker);
    ++worker_changes_;
    report_.write_event({{"event", "worker_retired"}, {"worker", worker}, {"t", rounded(now())}});
    it = draining_.erase(it);
  }
}

// Workers started or greeted that have not answered yet, or workers still to start.
bool Coordinator::awaiting_workers() const {
  if (!wishes_.empty()) return true;
  return std::any_of(workers_.begin(), workers_.end(), [](const auto& w) { return !w.second.replied; });
}

void Coordinator::handle(const Incoming& message) {
  switch (message.tag) {
    case Tag::kPong:
      scheduler_.heard(message.source);
      return;
    case Tag::kHelloReply:
      return on_hello(message.source, message);
    case Tag::kResult: {
      scheduler_.heard(message.source);
      std::vector<ResultItem> results;
      Status status = decode_result(message.data, &results);
      if (!status.ok()) return lose_undecodable(message.source, "result", status);
      for (ResultItem& result : results) on_result(message.source, std::move(result));
      return;
    }
    case Tag::kProgress:
      scheduler_.heard(message.source);
      return on_progress(message.source, message);
    case Tag::kProtocolError:
      progress_.message(fmt::format("dips: warning: worker rank {} could not decode a message: {}", message.source,
                                    std::string(message.data->begin(), message.data->end())));
      return;
    default:
      progress_.message(fmt::format("dips: warning: unexpected message (tag {}) from rank {} ignored", static_cast<int>(message.tag), message.source));
  }
}

void Coordinator::apply_deadlines() {
  const double t = now();
  if (t - last_deadlines_ < kDeadlineInterval) return;
  last_deadlines_ = t;
  const auto dead = scheduler_.expire(t);
  for (size_t i = 0; i < dead.size(); ++i) {
    // Several may die in one sweep: each message counts the workers left after that one.
    const int left = scheduler_.live_workers() + static_cast<int>(dead.size() - 1 - i);
    on_worker_lost(dead[i].first, dead[i].second, fmt::format("no answer within {:.1f} s", options_.scheduler.ping_timeout), left);
  }
  for (auto& [id, info] : workers_) {
    if (!io_decided_ || info.replied || t - info.greeted < options_.scheduler.ping_timeout) continue;
    info.replied = true;  // settled: lost
    on_worker_lost(id, {}, fmt::format("no answer to the greeting within {:.1f} s", options_.scheduler.ping_timeout), scheduler_.live_workers());
  }
  journal_worker_states();
  for (int worker : scheduler_.pings_due(t)) {
    transport_.send(worker, Tag::kPing, encode_ping());
  }
}

bool Coordinator::admission_open() const {
  if (next_task_ >= tasks_.size() || stopping_) return false;
  if (scheduler_.pending() + preparing_ >= kMinPendingPieces + 4 * static_cast<size_t>(scheduler_.working_threads())) return false;
  return shared_io_ || loaded_bytes_ < kMaxLoadedBytes;
}

void Coordinator::admit() {
  while (admission_open()) {
    const size_t index = next_task_++;
    const Task& task = tasks_[index];
    if (options_.resume &&
        still_finished(finished_before_, resume_key(task.input, pipeline_text(task.pipeline), task.output), task.input, task.output)) {
      ++skipped_;
      continue;
    }
    active_[index].started = Clock::now();
    if (!task.refused.empty()) {
      finish_task(index, Status::Error(task.refused));
      continue;
    }
    // A resumed job redoes its unrecorded tasks even where an output exists: a crash can come between the
    // output's rename and its report line. What has the output's name was seen when the job was listed
    // (no stat per task here); one made since fails the task when its output is renamed into place.
    if (!replaces_outputs() && task.output_exists) {
      finish_task(index, output_exists(task.output));
      continue;
    }
    const Status folder = make_output_folder(task.output);
    if (!folder.ok()) {
      finish_task(index, folder);
      continue;
    }
    prepare(index);
  }
}

// Makes the folder an output goes to, once per folder. The folder of the task admitted before is known
// made without splitting the path: most jobs write into a few folders, and splitting every output's path
// took 4% of rank 0's time on 20,000 thumbnails.
Status Coordinator::make_output_folder(const std::string& path) {
  const size_t n = last_folder_.size();
  if (n > 0 && path.size() > n + 1 && path.compare(0, n, last_folder_) == 0 && path[n] == '/' && path.find('/', n + 1) == std::string::npos) {
    return Status();
  }
  const fs::path folder = fs::path(path).parent_path();
  if (made_dirs_.insert(folder.string()).second) {
    std::error_code ec;
    fs::create_directories(folder, ec);
    if (ec) {
      made_dirs_.erase(folder.string());
      return Status::Error(fmt::format("cannot create output folder '{}': {}", folder.string(), ec.message()));
    }
  }
  last_folder_ = folder.string();
  return Status();
}

// Reads what rank 0 needs of the input before the task's first piece: the whole file when it moves the
// bytes itself; the header only when the task is among the last and large enough to be cut.
void Coordinator::prepare(size_t index) {
  const Task& task = tasks_[index];
  const size_t tasks_left = tasks_.size() - index;
  const bool may_band = options_.tile_rows > 0 || tasks_left < static_cast<size_t>(std::max(1, scheduler_.working_threads()));
  // The input's identity (what --resume compares) comes from whoever opens it to read it, the worker or
  // rank 0: one stat per task less on rank 0 (with the output's, 45% of its CPU on 20,000 thumbnails).
  // Only a task that may be cut is measured here, as its size decides whether its header is read.
  uint64_t size = 0;
  if (may_band) {
    active_.at(index).input = file_identity(task.input);
    size = static_cast<uint64_t>(std::max<int64_t>(active_.at(index).input.size, 0));
  }
  const bool need_header = may_band && size > 0 && may_cut(size, options_.tile_rows);
  if (shared_io_ && !need_header) return start_task(index, Status(), Bytes(), size, SniffedImage());
  const bool whole = !shared_io_;
  const uint64_t max_bytes = options_.max_file_bytes;
  const fs::path input = task.input;
  ++preparing_;
  background_.submit([this, index, whole, input, max_bytes, size]() -> Background::Completion {
    std::vector<uint8_t> bytes;
    FileIdentity identity;
    const double t0 = now();
    Status status = whole ? read_file(input, max_bytes, &bytes, &identity) : read_header(input, &bytes);
    const Rank0Span span{whole ? "read" : "header", t0, now(), bytes.size()};
    const SniffedImage image = status.ok() ? sniff_image(bytes) : SniffedImage();
    if (!whole) {
      bytes.clear();
      status = Status();  // the worker reads the file and reports what is wrong with it
    }
    auto file = std::make_shared<std::vector<uint8_t>>(std::move(bytes));
    return [this, index, status, file, size, image, span, identity] {
      --preparing_;
      ActiveTask& active = active_.at(index);
      active.rank0.push_back(span);
      if (identity.size >= 0) active.input = identity;
      start_task(index, status, Bytes{file, file->data(), file->size()}, identity.size >= 0 ? identity.size : size, image);
    };
  });
}

void Coordinator::start_task(size_t index, Status status, Bytes file, uint64_t file_size, SniffedImage image) {
  if (!status.ok()) return finish_task(index, status);
  const Task& task = tasks_[index];
  ShapeInput shape_input;
  shape_input.tile_rows_option = options_.tile_rows;
  shape_input.width = image.width;
  shape_input.height = image.height;
  shape_input.top_down = image.top_down && shared_io_;  // only a pixel file is written as the image decodes
  shape_input.working_threads = scheduler_.working_threads();
  shape_input.tasks_left = tasks_.size() - index;
  shape_input.other_tasks = static_cast<int>(active_.size()) - 1;
  // Without the image's size the task is not cut (choose_shape): no plan for it then.
  shape_input.band_work = image.height > 0 ? band_work(plan_stages(task.pipeline)) : 0;
  const TaskShape shape = choose_shape(shape_input);
  ActiveTask& active = active_.at(index);
  TaskIo io;
  if (shape.bands && shared_io_) {
    active.pixel_file = new_pixel_file(fs::path(task.output).parent_path());
    io.pixel_file = active.pixel_file.string();
  }
  io.shared = shared_io_;
  io.file = file;
  io.sync = options_.sync;
  io.replace = replaces_outputs();
  io.max_pixels = options_.max_pixels;
  io.max_file_bytes = options_.max_file_bytes;
  active.loaded_bytes = shared_io_ ? 0 : file.size;
  loaded_bytes_ += active.loaded_bytes;
  active.run = std::make_unique<TaskRun>(task, std::move(io), shape);
  active.file_size = file_size;
  // Thumbnails for the report's gallery: the first tasks of the run, and the inputs of failures.
  active.thumbnails = ++thumbnail_tasks_ <= kThumbnailTasks ? Thumbnails::kAlways
                      : failure_thumbnails_ < kThumbnailFailures ? Thumbnails::kOnError
                                                                 : Thumbnails::kNone;
  enqueue_ready(index);
}

// pipeline_text of the steps of a piece, remembered for the next: the pieces of a job mostly share them.
const std::string& Coordinator::steps_text(const Pipeline& steps) {
  const auto same = [](const Step& a, const Step& b) { return a.op == b.op && a.param == b.param; };
  if (!std::equal(steps.begin(), steps.end(), last_steps_.begin(), last_steps_.end(), same)) {
    last_steps_ = steps;
    last_steps_text_ = pipeline_text(steps);
  }
  return last_steps_text_;
}

// The cost model's name for a kind of piece (its parts joined), one string for the whole job: a piece
// holds a pointer to it instead of building and keeping a copy.
const std::string* Coordinator::cost_key(std::initializer_list<std::string_view> parts) {
  cost_key_text_.clear();
  for (std::string_view part : parts) cost_key_text_ += part;
  return &*cost_keys_.insert(cost_key_text_).first;
}

void Coordinator::enqueue_ready(size_t index) {
  ActiveTask& active = active_.at(index);
  const Task& task = tasks_[index];
  for (auto& [piece_index, item] : active.run->take_ready()) {
    PieceEntry entry;
    entry.task = index;
    entry.index = piece_index;
    const std::string& kind = active.run->records()[piece_index].kind;
    if (item.source == Source::kPixels || item.source == Source::kPixelFile) {  // per pixel, wherever they are
      entry.cost_key = cost_key({kind, ":", steps_text(item.steps), item.finish.op ? item.finish.op->name : ""});
      entry.cost_units = item.source == Source::kPixels ? static_cast<double>(item.pixels.total())
                                                        : static_cast<double>(item.rows.in_row1 - item.rows.in_row0) * item.image_width;
    } else {
      // Per byte when rank 0 knows the file's size, else per file (a key of its own: the units differ),
      // counted as kUnitsPerUnsizedFile each, so that the first guess stays on the slow side
      // (granularity.cpp): a job's first message to a worker carries one photo, not hundreds.
      const bool sized = active.file_size > 0;
      entry.cost_key = cost_key({kind, ":", steps_text(item.steps), path_extension(task.input), sized ? "" : "/file"});
      entry.cost_units = sized ? static_cast<double>(active.file_size) : kUnitsPerUnsizedFile;
    }
    const uint64_t id = scheduler_.add_piece();  // priced as it is sent (reprice_next_piece)
    item.piece_id = id;
    active.run->records()[piece_index].id = id;
    if (active.thumbnails != Thumbnails::kNone) {
      item.thumbnails = active.thumbnails;
      item.thumbnail_px = kThumbnailPx;
    }
    entry.item = std::move(item);
    pieces_.emplace(id, std::move(entry));
  }
}

// Prices the next piece from what the cost model knows now. A job's first tasks are pooled before any
// result is back, at a guess that cannot tell a thumbnail from a 50 MB photo; sent at that price, a
// worker would be given photos it has no time for while the others run dry at the job's end.
void Coordinator::reprice_next_piece() {
  const std::optional<uint64_t> next = scheduler_.next_pending();
  if (!next) return;
  auto it = pieces_.find(*next);
  if (it != pieces_.end()) scheduler_.reprice(*next, costs_.estimate(*it->second.cost_key, it->second.cost_units));
}

void Coordinator::dispatch() {
  std::map<int, std::vector<const WorkItem*>> batches;  // into pieces_, which no assignment below changes
  const double t = now();
  if (stopping_) return;  // pieces not sent yet are left for --resume
  if (hold_until_ > t && (worker_changes_ == changes_at_hold_ || awaiting_workers())) return;  // DIPS_FAULT hold
  for (;;) {
    reprice_next_piece();
    const std::optional<Assignment> assignment = scheduler_.assign(t);
    if (!assignment) break;
    auto it = pieces_.find(assignment->piece);
    auto task = it == pieces_.end() ? active_.end() : active_.find(it->second.task);
    if (task == active_.end() || !task->second.run) {  // its task failed meanwhile: settle it unsent
      scheduler_.complete(assignment->piece, assignment->worker, true, t);
      if (it != pieces_.end()) pieces_.erase(it);
      continue;
    }
    PieceRecord& record = task->second.run->records()[it->second.index];
    arm_piece_fault(record.kind, assignment->worker);
    if (assignment->copy) {  // its worker is suspect at the job's tail: both hold it now
      record.also_on.push_back(assignment->worker);
      record.also_sent.push_back(t);
      ++copies_;
      report_.write_event({{"event", "piece_copied"}, {"piece", assignment->piece}, {"task", it->second.task}, {"kind", record.kind},
                           {"from", record.worker}, {"to", assignment->worker}, {"t", rounded(t)}});
    } else if (record.worker >= 0) {  // sent again: its worker was lost holding it
      record.lost_on.push_back(record.worker);
      record.lost_sent.push_back(record.sent);
      report_.write_event({{"event", "piece_resent"}, {"piece", assignment->piece}, {"task", it->second.task}, {"kind", record.kind},
                           {"from", record.worker}, {"to", assignment->worker}, {"t", rounded(t)}});
    }
    if (!assignment->copy) {
      record.worker = assignment->worker;
      record.sent = t;
    }
    record.bytes_out = payload_bytes(it->second.item);
    batches[assignment->worker].push_back(&it->second.item);
  }
  for (auto& [worker, items] : batches) {
    OutMessage message = encode_work(items);
    ++work_messages_;
    for (const FaultPlan& plan : own_faults_) {
      if (plan.kind == "garble" && plan.after == static_cast<int>(work_messages_)) {
        inject_fault(0, "garble");
        std::vector<uint8_t> torn = message.flatten();
        torn.resize(torn.size() - 5);
        message = OutMessage{std::move(torn), {}};
      }
    }
    transport_.send(worker, Tag::kWork, std::move(message));
  }
}

// The piece's record names the worker whose result counted: of a piece with a copy, that may be the one
// that held it second.
void counted_from(int worker, PieceRecord* record) {
  const auto copy = std::find(record->also_on.begin(), record->also_on.end(), worker);
  if (record->worker == worker || copy == record->also_on.end()) return;
  const size_t i = static_cast<size_t>(copy - record->also_on.begin());
  std::swap(record->worker, record->also_on[i]);
  std::swap(record->sent, record->also_sent[i]);
}

void Coordinator::on_result(int worker, ResultItem&& result) {
  auto it = pieces_.find(result.piece_id);
  if (it == pieces_.end()) return;  // a late answer to a piece settled long ago
  if (!scheduler_.complete(result.piece_id, worker, !result.error.empty(), now())) return;  // late or duplicate
  // Read in place, not moved out: a piece's work item is large (moving it was 4% of rank 0's profile on
  // 20,000 thumbnails, though no saving in rank 0's CPU showed above the run-to-run noise).
  const size_t task_index = it->second.task, piece_index = it->second.index;
  if (result.error.empty()) costs_.observe(*it->second.cost_key, it->second.cost_units, result.compute_ms / 1000);
  pieces_.erase(it);
  ++pieces_completed_;
  productive_.insert(worker);
  arm_worker_faults();
  auto task = active_.find(task_index);
  if (task == active_.end() || !task->second.run) return;  // the task already failed through another piece
  ActiveTask& active = task->second;
  if (std::find(active.ranks.begin(), active.ranks.end(), worker) == active.ranks.end()) active.ranks.push_back(worker);
  if (active.input.size < 0 && result.input_size >= 0) active.input = FileIdentity{result.input_size, result.input_mtime_ns};
  PieceRecord& record = active.run->records()[piece_index];
  counted_from(worker, &record);
  record.done = now();
  record.compute_ms = result.compute_ms;
  record.queue_ms = result.queue_ms;
  record.bytes_in = payload_bytes(result);
  record.outcome = result.error.empty() ? "ok" : "error";
  if (!result.thumbnail_input.empty()) active.thumbnail_input = result.thumbnail_input;
  if (!result.thumbnail_output.empty()) active.thumbnail_output = result.thumbnail_output;
  // Copied out: the message they point into is big (a band's bytes) and goes once the result is used.
  if (!result.thumbnail_input_rows.empty()) active.input_shares[record.row0] = result.thumbnail_input_rows.clone();
  if (!result.thumbnail_output_rows.empty()) active.output_shares[record.row0] = result.thumbnail_output_rows.clone();
  if (dashboard_) remember_piece(task_index, record, result.error.empty());
  const bool stitched = record.kind == "band" && !result.pixels.empty();  // encoded bands are not stitched
  const double t0 = record.done;
  Status status = active.run->on_result(piece_index, std::move(result));
  if (stitched) active.rank0.push_back(Rank0Span{"stitch", t0, now(), 0});  // rank 0 copies the band's rows in
  if (!status.ok()) return finish_task(task_index, status);
  task_progress(task_index);
}

// A decode piece's rows written so far (TaskRun::on_progress). Also from a worker the piece was taken from
// (it was thought dead, and was only slow): every writer of a pixel file writes the same bytes.
void Coordinator::on_progress(int worker, const Incoming& message) {
  DecodeProgress progress;
  const Status decoded = decode_progress(*message.data, &progress);
  if (!decoded.ok()) return lose_undecodable(worker, "progress report", decoded);
  auto it = pieces_.find(progress.piece_id);
  if (it == pieces_.end()) return;  // its task is done
  const size_t index = it->second.task;
  auto task = active_.find(index);
  if (task == active_.end() || !task->second.run) return;
  const Status status = task->second.run->on_progress(it->second.index, progress);
  if (!status.ok()) return finish_task(index, status);
  enqueue_ready(index);
}

// After a piece: more pieces to send, or the output to write, or the task is done.
void Coordinator::task_progress(size_t index) {
  ActiveTask& active = active_.at(index);
  if (!active.run->done()) return enqueue_ready(index);
  const std::vector<ByteRange>& parts = active.run->output();
  if (parts.empty()) return finish_task(index, Status());  // a worker wrote it
  // The bytes belong to the task's run, which lives until finish_task.
  const fs::path path = tasks_[index].output;
  const bool sync = options_.sync;
  const bool replace = replaces_outputs();
  uint64_t bytes = 0;
  for (const ByteRange& part : parts) bytes += part.size;
  background_.submit([this, index, parts, path, sync, replace, bytes]() -> Background::Completion {
    const double t0 = now();
    Status status = write_file_atomic(path, parts, sync, replace);
    const Rank0Span span{"write", t0, now(), bytes};
    return [this, index, status, span] {
      active_.at(index).rank0.push_back(span);
      finish_task(index, status);
    };
  });
}

void Coordinator::finish_task(size_t index, const Status& status) {
  const Task& spec = tasks_[index];
  ActiveTask& task = active_[index];
  TaskRecord record;
  record.input = spec.input;
  record.output = spec.output;
  record.ops = steps_text(spec.pipeline);
  record.ok = status.ok();
  record.error = status.message();
  if (task.run) {
    record.decoded = task.run->decoded();
    record.width = task.run->width();
    record.height = task.run->height();
    record.pieces = std::move(task.run->records());  // the run ends with the task
  }
  record.ms = std::chrono::duration<double, std::milli>(Clock::now() - task.started).count();
  std::sort(task.ranks.begin(), task.ranks.end());
  record.ranks = std::move(task.ranks);
  record.origin = spec.origin;
  record.task = static_cast<int64_t>(index);
  record.t = now();
  record.rank0 = std::move(task.rank0);
  for (PieceRecord& piece : record.pieces) {
    if (piece.outcome.empty()) piece.outcome = "cancelled";  // its task ended before its result counted
  }
  // Thumbnails: every one asked for with kAlways; a failure's input while there is room for them. An
  // image done in bands gets them from its bands' shares (a few small rows each) stacked here.
  if (status.ok() && task.thumbnail_input.empty()) task.thumbnail_input = stacked(task.input_shares);
  if (status.ok() && task.thumbnail_output.empty()) task.thumbnail_output = stacked(task.output_shares);
  const bool keep_input = status.ok() ? task.thumbnails == Thumbnails::kAlways : failure_thumbnails_ < kThumbnailFailures;
  if (keep_input && !task.thumbnail_input.empty()) {
    record.thumbnail_input = base64_encode(task.thumbnail_input);
    if (!status.ok()) ++failure_thumbnails_;
  }
  if (status.ok() && !task.thumbnail_output.empty()) record.thumbnail_output = base64_encode(task.thumbnail_output);
  record.input_size = task.input.size;
  record.input_mtime_ns = task.input.mtime_ns;
  if (status.ok() && task.run) record.output_size = static_cast<int64_t>(task.run->output_size());  // no stat per task
  if (status.ok()) {
    ++ok_;
    megapixels_ += record.width * static_cast<double>(record.height) / 1e6;
  } else {
    ++failed_;
    progress_.message(fmt::format("dips: error: {}{}: {}", spec.origin.empty() ? "" : spec.origin + ": ", record.input, status.message()));
  }
  note_report(report_.write_task(record));
  loaded_bytes_ -= task.loaded_bytes;
  remove_pixel_file(&task);
  active_.erase(index);
  fire_own_fault(static_cast<int>(++tasks_completed_));
}

// A worker whose message cannot be read may have sent anything: it is taken as lost, its pieces go to others.
void Coordinator::lose_undecodable(int worker, const char* what, const Status& status) {
  on_worker_lost(worker, scheduler_.declare_dead(worker), fmt::format("sent an undecodable {} ({})", what, status.message()),
                 scheduler_.live_workers());
}

void Coordinator::on_worker_lost(int worker, const std::vector<uint64_t>& pieces, const std::string& why, int left) {
  transport_.abandon(worker);
  lost_workers_.push_back(worker);
  ++worker_changes_;
  draining_.erase(worker);
  const std::optional<std::string> host = placement_->host_of(worker);
  placement_->lost(worker, productive_.count(worker) > 0);
  if (replacements_ < options_.respawn && spawn_refused_.empty()) {
    ++replacements_;
    wishes_.push_back(SpawnWish{worker, host});
  }
  progress_.message(fmt::format("dips: worker rank {} lost ({}); {} piece{} handed to the others, {} worker{} left", worker, why, pieces.size(),
                                pieces.size() == 1 ? "" : "s", left, left == 1 ? "" : "s"));
  report_.write_event({{"event", "worker_lost"}, {"worker", worker}, {"t", rounded(now())}, {"why", why}, {"pieces", pieces.size()}, {"piece_ids", pieces}});
  journal_worker_states();  // a worker standing by takes over: its line comes before any piece it is sent
}

// Worker faults are armed on global progress, when the job has completed `after` pieces (after:0 before
// any work goes out), or when their worker joins later; the worker carries them out on its next work
// message (fault.h).
void Coordinator::arm_worker_faults() {
  if (!io_decided_) return;
  worker_fault_armed_.resize(worker_faults_.size(), false);
  for (size_t i = 0; i < worker_faults_.size(); ++i) {
    const FaultPlan& plan = worker_faults_[i];
    if (worker_fault_armed_[i] || !plan.piece.empty() || static_cast<size_t>(plan.after) > pieces_completed_ ||
        scheduler_.worker_state(plan.rank) == WorkerState::kDead) {
      continue;
    }
    worker_fault_armed_[i] = true;
    OutMessage message;
    message.head.assign(plan.kind.begin(), plan.kind.end());
    transport_.send(plan.rank, Tag::kFault, std::move(message));
  }
}

// A plan naming a kind of piece is armed once, on the worker about to be sent the first piece of that
// kind: the fault message goes ahead of the work, and the worker dies holding that piece.
void Coordinator::arm_piece_fault(const std::string& kind, int worker) {
  for (FaultPlan& plan : worker_faults_) {
    if (plan.piece != kind || (plan.rank != FaultPlan::kAnyWorker && plan.rank != worker)) continue;
    OutMessage message;
    message.head.assign(plan.kind.begin(), plan.kind.end());
    transport_.send(worker, Tag::kFault, std::move(message));
    plan.piece = "(armed)";
  }
}

void Coordinator::fire_own_fault(int count) {
  for (const FaultPlan& plan : own_faults_) {
    if (plan.after != count || plan.kind == "garble") continue;
    report_.flush();
    if (plan.kind == "hold") {
      progress_.message("dips: DIPS_FAULT: rank 0 holds: no more work until a worker is lost, joins or leaves");
      hold_until_ = now() + 60;
      changes_at_hold_ = worker_changes_;
      continue;
    }
    inject_fault(0, plan.kind);
  }
}

// A worker whose ping is overdue becomes suspect (it gets no new pieces), and ok again when it answers:
// the journal records each change, so that the report shows a worker's trouble before any loss. So too
// when a worker stands by (its host's cores are taken) and when it takes over from one that left.
void Coordinator::journal_worker_states() {
  for (int worker : scheduler_.workers()) {
    const WorkerState state = scheduler_.worker_state(worker);
    if (state == WorkerState::kDead) continue;  // its worker_lost line says it
    journal_standby(worker);
    const bool suspect = state == WorkerState::kSuspect;
    auto [it, inserted] = journaled_states_.emplace(worker, WorkerState::kIdle);
    if ((it->second == WorkerState::kSuspect) == suspect) continue;
    it->second = state;
    report_.write_event({{"event", suspect ? "worker_suspect" : "worker_ok"}, {"worker", worker}, {"t", rounded(now())}});
  }
}

void Coordinator::journal_standby(int worker) {
  const bool standby = scheduler_.standing_by(worker);
  if (standby == (journaled_standby_.count(worker) > 0)) return;
  if (!standby) {
    journaled_standby_.erase(worker);
    report_.write_event({{"event", "worker_working"}, {"worker", worker}, {"t", rounded(now())}});
    return;
  }
  journaled_standby_.insert(worker);
  const std::string& host = workers_.at(worker).hello.host;
  const int cores = scheduler_.host_limit(host_ids_.at(host));
  const std::string why = fmt::format("the workers before it on {} keep its {} {} busy (--host-cores {})", host, cores, cores == 1 ? "core" : "cores",
                                      host_cores_text());
  report_.write_event({{"event", "worker_standby"}, {"worker", worker}, {"t", rounded(now())}, {"why", why}});
}

// When the job cannot finish, the tasks under way get a line each, so that every piece sent has its
// outcome in the journal; --resume does not read these lines (their status is not "ok").
void Coordinator::journal_unfinished_tasks() {
  std::vector<size_t> indices;
  for (const auto& [index, active] : active_) indices.push_back(index);
  std::sort(indices.begin(), indices.end());
  for (size_t index : indices) {
    const ActiveTask& active = active_.at(index);
    const Task& task = tasks_[index];
    UnfinishedTaskRecord record{static_cast<int64_t>(index), task.input, task.output, pipeline_text(task.pipeline), now(), {}};
    if (active.run) {
      for (PieceRecord piece : active.run->records()) {
        if (piece.outcome.empty()) piece.outcome = "unfinished";
        record.pieces.push_back(std::move(piece));
      }
    }
    report_.write_unfinished_task(record);
  }
}

// The report page beside the journal, from the journal alone (what scripts/dips-report also does).
void Coordinator::write_page() {
  const fs::path page = report_page_path(options_.report);
  Status status = write_report_page(options_.report, page);
  if (!status.ok()) progress_.message("dips: warning: no report page: " + status.message());
}

void Coordinator::remember_piece(size_t task, const PieceRecord& record, bool ok) {
  LivePiece piece;
  piece.id = record.id;
  piece.worker = record.worker;
  piece.kind = record.kind;
  piece.input = tasks_[task].input;
  piece.sent = record.sent;
  piece.done = record.done;
  piece.compute_ms = record.compute_ms;
  piece.ok = ok;
  recent_pieces_.push_back(std::move(piece));
  if (recent_pieces_.size() > kRecentPieces) recent_pieces_.pop_front();
}

// What the dashboard shows beyond the journal, a few times a second: counts, worker states, pieces in
// flight and just back. Built here, handed over by a pointer swap.
void Coordinator::publish_live() {
  const double t = now();
  if (!dashboard_ || t - last_publish_ < kPublishInterval) return;
  last_publish_ = t;
  auto live = std::make_shared<LiveStatus>();
  live->t = t;
  live->tasks_total = tasks_.size();
  live->ok = ok_;
  live->failed = failed_;
  live->skipped = skipped_;
  live->megapixels = megapixels_;
  for (const auto& [id, info] : workers_) {
    const bool lost = std::find(lost_workers_.begin(), lost_workers_.end(), id) != lost_workers_.end();
    const WorkerState state = scheduler_.worker_state(id);
    const char* shown = lost ? "lost" : !info.used ? "idle" : scheduler_.standing_by(id) ? "standby" : state_name(state);
    live->workers.push_back({id, shown, scheduler_.in_flight(id)});
  }
  for (const auto& [id, entry] : pieces_) {
    const int worker = scheduler_.piece_worker(id);
    if (worker < 0) continue;
    auto task = active_.find(entry.task);
    if (task == active_.end() || !task->second.run) continue;
    const PieceRecord& record = task->second.run->records()[entry.index];
    live->in_flight.push_back({id, worker, record.kind, tasks_[entry.task].input, record.sent, 0, 0, false});
  }
  live->recent.assign(recent_pieces_.begin(), recent_pieces_.end());
  dashboard_->publish(std::move(live));
}

// A stop signal: no new tasks and no new pieces; the pieces in flight get --stop-grace seconds.
void Coordinator::check_stop() {
  const StopRequest request = stop_request();
  if (request.signal == 0) return;
  if (!stopping_) {
    stopping_ = true;
    stop_signal_ = request.signal;
    stop_deadline_ = now() + options_.stop_grace;
    progress_.message(fmt::format("dips: stop requested ({}): no new work; the pieces in flight get up to {:g} s to finish (a second signal stops at once)",
                                  signal_name(request.signal), options_.stop_grace));
  }
  if (request.at_once && !stop_at_once_) {
    stop_at_once_ = true;
    progress_.message("dips: stopping at once");
  }
}

// Stopping, and nothing is left worth waiting for.
bool Coordinator::stopped() const {
  if (!stopping_) return false;
  const bool in_flight = scheduler_.unfinished() > scheduler_.pending() || background_.outstanding() > 0;
  return stop_at_once_ || !in_flight || now() >= stop_deadline_;
}

// Leftovers of writers that are gone (a killed worker, an earlier run); this run's own live writers remove
// theirs when they stop.
void Coordinator::remove_stale_temp_files_of(const std::vector<std::string>& folders) {
  // No worker outlives rank 0 by more than --orphan-timeout: older files from other hosts are leftovers.
  const double foreign_age_s = std::max(60.0, 3 * options_.orphan_timeout);
  size_t removed = 0;
  for (const std::string& folder : folders) removed += remove_stale_temp_files(folder, foreign_age_s);
  if (removed > 0) progress_.message(fmt::format("dips: removed {} temporary file{} left by writers that are gone", removed, removed == 1 ? "" : "s"));
}

void Coordinator::note_report(const Status& status) {
  if (status.ok() || report_failed_) return;
  report_failed_ = true;
  progress_.message("dips: error: " + status.message());
}

ProgressState Coordinator::progress_state() const {
  ProgressState state;
  state.done = ok_ + skipped_;
  state.pieces_done = pieces_completed_;
  state.failed = failed_;
  state.total = tasks_.size();
  state.megapixels = megapixels_;
  state.elapsed_s = now();
  state.live_workers = scheduler_.live_workers();
  state.workers = static_cast<int>(transport_.workers().size());
  return state;
}

nlohmann::ordered_json Coordinator::summary(ExitCode code) const {
  const double wall = now();
  return {{"tasks", tasks_.size()},
          {"ok", ok_},
          {"failed", failed_},
          {"skipped", skipped_},
          {"unfinished", tasks_.size() - ok_ - failed_ - skipped_},
          {"interrupted", stopping_ && !finished()},
          {"wall_s", std::round(wall * 1000) / 1000},
          {"megapixels", std::round(megapixels_ * 1000) / 1000},
          {"mp_per_s", wall > 0 ? std::round(megapixels_ / wall * 1000) / 1000 : 0.0},
          {"workers", initial_workers_},
          {"workers_lost", lost_workers_},
          {"workers_suspect", scheduler_.suspects()},
          {"workers_spawned", spawned_workers_},
          {"launch", options_.spawn_workers > 0 ? "spawned" : "world"},
          {"scan_skipped", skipped_files_},
          {"io", shared_io_ ? "shared" : "mpi"},
          {"rank0_cpu_s", std::round((process_cpu_seconds() - start_cpu_s_) * 1000) / 1000},
          {"rank0_peak_rss_mb", std::round(peak_rss_mb() * 10) / 10},
          {"exit_code", static_cast<int>(code)}};
}

// One turn of the loop; true when something happened.
bool Coordinator::step() {
  bool busy = false;
  Incoming message;
  while (transport_.poll(&message)) {
    handle(message);
    busy = true;
  }
  busy |= background_.run_completions();
  check_stop();
  apply_deadlines();
  spawn_one();
  regrow();
  retire_drained();
  if (!io_decided_) {
    decide_io();
    if (!io_decided_) return busy;
  }
  admit();
  dispatch();
  if (now() - last_flush_ >= kReportFlushInterval) {
    last_flush_ = now();
    note_report(report_.flush());
  }
  publish_live();
  progress_.update(progress_state());
  return busy;
}

// Ends the job's report: the unfinished tasks journaled, the summary written. Returns the exit code, which
// becomes kJobFailed when the report could not be written.
ExitCode Coordinator::close_report(ExitCode code, const std::string& why_unfinished) {
  progress_.update(progress_state(), true);
  if (report_failed_) code = ExitCode::kJobFailed;
  progress_.finish();
  const bool done = why_unfinished.empty();
  if (!done) {
    progress_.message(fmt::format("dips: {}; {} of {} tasks unfinished. Finished outputs and the report are kept; "
                                  "rerun with --resume to do the rest.", why_unfinished, tasks_.size() - ok_ - failed_ - skipped_, tasks_.size()));
  }
  std::error_code ec;
  if (!probe_path_.empty()) fs::remove(probe_path_, ec);
  if (!done) journal_unfinished_tasks();
  for (auto& [index, task] : active_) remove_pixel_file(&task);
  give_up_suspects();
  // A worker lost while writing leaves its temporary file (an output with --overwrite, a pixel file).
  if (stopping_ || !lost_workers_.empty() || copies_ > 0) remove_stale_temp_files_of(std::vector<std::string>(made_dirs_.begin(), made_dirs_.end()));
  if (!report_.write_summary(summary(code)).ok()) code = ExitCode::kJobFailed;
  return code;
}

// A worker still suspect at the end (copies did its last pieces, tail_copies) may be dead or stopped:
// it is given up like a lost one, so that mpirun can exit now (a stopped world rank is killed) instead of
// dips-run ending it --grace seconds later, and rank 0 does not wait for it. Not where the runtime ends the
// job on a rank's death: there it is alive, and killing it would end the job that just succeeded.
void Coordinator::give_up_suspects() {
  if (!transport_.survives_lost_workers()) return;
  for (int worker : scheduler_.suspects()) transport_.abandon(worker);
}

// The watchdog's end of a spawn that never returns (Open MPI cannot start the program on that host and,
// under --enable-recovery, waits for ever without a word). It runs on the watchdog's thread while the main
// thread stays inside MPI_Comm_spawn, so no MPI call can be made: the job ends as one without workers
// would (the finished tasks kept, the rest journaled unfinished for --resume), then the process exits
// with the status written. The workers exit when rank 0 has been silent for --orphan-timeout.
void Coordinator::end_on_hung_spawn() {
  const std::string program = transport_.spawn_program();
  report_.write_event({{"event", "worker_spawn_hung"}, {"host", spawning_on_}, {"program", program}, {"t", rounded(spawn_started_)},
                       {"timeout_s", options_.spawn_timeout}});
  const ExitCode code = close_report(ExitCode::kJobFailed,
      fmt::format("error: starting a worker on {} did not finish within {:g} s (--spawn-timeout): Open MPI waits for ever for a program it "
                  "cannot start, so {} is probably missing there (install it at that path, or give its path there with --worker-program, "
                  "or leave the host out)", spawning_on_, options_.spawn_timeout, program));
  dashboard_.reset();
  write_page();
  write_status_file(options_.status_file, code);
  remove_own_temp_files();
  mpi_end(false, process_exit_status(options_.status_file, code));
  std::abort();  // mpi_end does not return when not clean
}

ExitCode Coordinator::run(const std::string& command_line) {
  std::error_code ec;
  fs::create_directories(options_.job.output_dir, ec);
  if (ec) {
    progress_.message(fmt::format("dips: error: cannot create output directory '{}': {}", options_.job.output_dir.string(), ec.message()));
    return ExitCode::kUsage;
  }
  if (!options_.dashboard.empty()) {
    DashboardAddress address;
    Status status = parse_dashboard_address(options_.dashboard, &address);
    if (status.ok()) status = Dashboard::start(address, options_.report, &dashboard_);
    if (!status.ok()) {
      progress_.message("dips: error: " + status.message());
      return ExitCode::kUsage;
    }
    const bool v6 = address.host.find(':') != std::string::npos;
    // Always printed (even with --quiet): it was asked for, and scripts find the chosen port here.
    std::fprintf(stderr, "dips: dashboard: http://%s%s%s:%d/\n", v6 ? "[" : "", address.host.c_str(), v6 ? "]" : "", dashboard_->port());
    std::fflush(stderr);
  }
  Status status = open_report(command_line);
  if (!status.ok()) {
    progress_.message("dips: error: " + status.message());
    return ExitCode::kUsage;
  }
  status = plan_hosts();
  if (!status.ok()) {
    progress_.message("dips: error: " + status.message());
    return ExitCode::kUsage;
  }
  if (options_.resume) {
    std::set<std::string> folders;
    for (const Task& task : tasks_) folders.insert(fs::path(task.output).parent_path().string());
    remove_stale_temp_files_of(std::vector<std::string>(folders.begin(), folders.end()));
  }
  greet_workers();
  auto backoff = std::chrono::microseconds(50);
  while (!finished() && !stopped()) {
    const bool busy = step();
    if (io_decided_ && scheduler_.live_workers() == 0 && !awaiting_workers()) break;
    // Waits for a background completion, polling the workers more and more lazily while nothing happens.
    backoff = busy ? std::chrono::microseconds(50) : std::min(backoff * 2, std::chrono::microseconds(2000));
    if (!busy) background_.wait(backoff);
  }
  const bool done = finished();
  const ExitCode code = close_report(!done ? (stopping_ ? ExitCode::kInterrupted : ExitCode::kJobFailed) : failed_ > 0 ? ExitCode::kTasksFailed : ExitCode::kOk,
                                     done ? "" : stopping_ ? fmt::format("interrupted by {}", signal_name(stop_signal_)) : "error: no worker left");
  const double wall = now();
  dashboard_.reset();  // the port closes with the job
  // The workers have nothing left to do: they end while the page is written instead of after it (16 idle
  // workers polling on 2 cores made rank 0's page take twice as long).
  transport_.shutdown(stop_request().signal != 0);
  const size_t tasks = tasks_.size();
  // The page needs as much memory again: the tasks' is freed first for it to reuse, so that rank 0's peak
  // is nearer the larger of the two than their sum.
  std::vector<Task>().swap(tasks_);
  write_page();
  if (!options_.quiet) {
    progress_.message(fmt::format("dips: {} tasks: {} ok, {} failed, {} skipped; {:.1f} MP in {:.2f} s ({:.1f} MP/s); report: {} (page: {})",
                                  tasks, ok_, failed_, skipped_, megapixels_, wall, wall > 0 ? megapixels_ / wall : 0.0,
                                  options_.report.string(), report_page_path(options_.report).string()));
    if (!skipped_files_.empty()) progress_.message("dips: not taken from the input folders: " + skipped_files_text(skipped_files_));
  }
  return code;
}

}  // namespace

ExitCode run_coordinator(const Options& options, Transport& transport, std::vector<Task> tasks, const std::string& command_line,
                         const SkippedFiles& skipped) {
  Coordinator coordinator(options, transport, std::move(tasks), skipped);
  return coordinator.run(command_line);
}

}  // namespace dips
