#include "harness.h"

#include "dips/temp_files.h"

#include <sched.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <opencv2/imgcodecs.hpp>

namespace dips::testing {
namespace fs = std::filesystem;

TempDir::TempDir() {
  std::string pattern = (fs::temp_directory_path() / "dips-test-XXXXXX").string();
  REQUIRE(::mkdtemp(pattern.data()) != nullptr);
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ec);
  for (auto it = fs::recursive_directory_iterator(path_, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_symlink(ec) && it->is_directory(ec)) fs::permissions(it->path(), fs::perms::owner_all, fs::perm_options::add, ec);
  }
  fs::remove_all(path_, ec);
}

void write_text(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << text;
  REQUIRE(out.good());
}

void write_bytes(const fs::path& path, const std::vector<uint8_t>& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string quoted(const fs::path& path) {
  std::string text = "'";
  for (char c : path.string()) text += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return text + "'";
}

RunResult run_shell(const std::string& command) {
  TempDir log;
  const auto start = std::chrono::steady_clock::now();
  const std::string full = "(" + command + ") > " + quoted(log / "out") + " 2>&1 < /dev/null";
  const int status = std::system(full.c_str());
  RunResult result;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  std::ifstream in(log / "out");
  result.output.assign(std::istreambuf_iterator<char>(in), {});
  return result;
}

namespace {

std::string root_env() { return "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "; }

std::string dips_command(int np, const std::string& args, const std::string& env, const fs::path& status_file) {
  return "env " + root_env() + "DIPS_FAULT= " + env + " " DIPS_MPIEXEC " " DIPS_MPIEXEC_NUMPROC_FLAG " " + std::to_string(np) +
         " " DIPS_MPIEXEC_PREFLAGS
         " --oversubscribe --bind-to none --mca btl self,vader --mca pml ob1 --enable-recovery"
         " --mca orte_allowed_exit_without_sync 1 -x DIPS_FAULT " DIPS_BINARY " --status-file " + quoted(status_file) + " " + args;
}

// mpirun's own exit status means nothing under --enable-recovery: dips' rank 0 writes the real one.
void read_status(const fs::path& status_file, RunResult* result) {
  std::ifstream status(status_file);
  int code = -1;
  result->code = status >> code ? code : 100 + result->code;  // 100+: rank 0 wrote no status
}

}  // namespace


std::string on_one_cpu() {
  cpu_set_t own;
  CPU_ZERO(&own);
  REQUIRE(::sched_getaffinity(0, sizeof(own), &own) == 0);
  int cpu = 0;
  while (!CPU_ISSET(cpu, &own)) ++cpu;
  return "taskset -c " + std::to_string(cpu);
}

RunResult run_dips(int np, const std::string& args, const std::string& env) {
  TempDir status_dir;
  const fs::path status_file = status_dir / "status";
  RunResult result = run_shell(dips_command(np, args, env, status_file));
  read_status(status_file, &result);
  return result;
}

BackgroundRun start_dips(int np, const std::string& args, const std::string& env) {
  BackgroundRun run;
  run.dir = std::make_unique<TempDir>();
  const std::string command = "(" + dips_command(np, args, env, *run.dir / "status") + ") > " + quoted(run.log()) + " 2>&1 < /dev/null";
  run.pid = ::fork();
  REQUIRE(run.pid >= 0);
  if (run.pid == 0) {
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return run;
}

RunResult finish(BackgroundRun& run) {
  RunResult result;
  int status = 0;
  REQUIRE(::waitpid(run.pid, &status, 0) == run.pid);
  result.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.output = read_text(run.log());
  read_status(*run.dir / "status", &result);
  return result;
}

RunResult run_dips_run(int np, const std::string& args, const std::string& env, const std::string& flags) {
  return run_shell("env DIPS_BIN=" DIPS_BINARY " " + env + " " DIPS_RUN_SCRIPT " -n " + std::to_string(np) + " " + flags + " -- " + args);
}

std::vector<nlohmann::json> read_report(const fs::path& path) {
  std::vector<nlohmann::json> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

std::map<std::string, nlohmann::json> report_tasks(const fs::path& path) {
  std::map<std::string, nlohmann::json> tasks;
  for (auto& line : read_report(path)) {
    if (line.contains("input") && !line.contains("event")) tasks[line["output"].get<std::string>()] = line;  // not task_unfinished
  }
  return tasks;
}

std::vector<nlohmann::json> report_events(const fs::path& path, const std::string& event) {
  std::vector<nlohmann::json> found;
  for (auto& line : read_report(path)) {
    if (line.value("event", "") == event) found.push_back(std::move(line));
  }
  return found;
}

std::map<int, int> pieces_by_worker(const fs::path& path) {
  std::map<int, int> count;
  for (const auto& [output, task] : report_tasks(path)) {
    for (const auto& piece : task["pieces"]) ++count[piece["worker"].get<int>()];
  }
  return count;
}

cv::Mat read_output(const fs::path& path) { return cv::imread(path.string(), cv::IMREAD_UNCHANGED); }

TmpfsMount::TmpfsMount(const fs::path& folder, const std::string& options) : folder_(folder) {
  fs::create_directories(folder);
  mounted_ = ::geteuid() == 0 && std::system(("mount -t tmpfs -o " + options + " tmpfs " + quoted(folder) + " 2>/dev/null").c_str()) == 0;
}

TmpfsMount::~TmpfsMount() {
  if (mounted_) (void)std::system(("umount " + quoted(folder_)).c_str());
}

int ended_process() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);
  return child;
}

std::string temp_name_of_pid(int pid) {
  const std::string own = dips::own_temp_prefix();  // ".dips-tmp-HHHHHHHH-PID-"
  return own.substr(0, own.size() - 1 - std::to_string(::getpid()).size()) + std::to_string(pid) + "-3";
}

std::vector<std::string> dips_temp_files(const fs::path& dir) {
  std::vector<std::string> found;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->path().filename().string().find(".dips-tmp-") != std::string::npos) found.push_back(it->path().string());
  }
  return found;
}

}  // namespace dips::testing
