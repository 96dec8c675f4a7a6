#pragma once
// Test harness shared by the unit and multi-rank tests: a temporary folder, files on disk, and running the
// real dips binary under mpirun to check what it wrote.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

namespace dips::testing {

// A fresh, empty directory under the system's temporary folder; removed by the destructor, which first
// gives back the owner's rights on every folder in it (tests take them away to provoke errors).
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// Writes a file (creating its folder), failing the test when it cannot.
void write_text(const std::filesystem::path& path, const std::string& text);
void write_bytes(const std::filesystem::path& path, const std::vector<uint8_t>& bytes);

// A file's whole contents ("" when it cannot be read).
std::string read_text(const std::filesystem::path& path);

struct RunResult {
  int code = -1;       // the process exit code
  std::string output;  // stdout and stderr together
  double seconds = 0;
};

// Runs a shell command line (stdin from /dev/null unless the command redirects it), output captured.
RunResult run_shell(const std::string& command);

// Runs dips on np ranks under mpirun (CMake's MPIEXEC_* settings, --oversubscribe, shared memory,
// --enable-recovery so that a lost worker does not end the job). `env` is prepended, e.g. "DIPS_FAULT=...".
RunResult run_dips(int np, const std::string& args, const std::string& env = "");

// An `env` for run_dips and start_dips that runs every rank on one CPU this process may use (taskset;
// mpirun binds no rank): --host-cores auto then finds a machine of one core.
std::string on_one_cpu();

// Runs scripts/dips-run -n np [flags] -- args.
RunResult run_dips_run(int np, const std::string& args, const std::string& env = "", const std::string& flags = "");

// A dips job started in the background under mpirun (as run_dips runs it), its output going to a log.
struct BackgroundRun {
  int pid = -1;  // the shell that runs mpirun
  std::unique_ptr<TempDir> dir;  // its log and status file
  std::filesystem::path log() const { return *dir / "out"; }
};
BackgroundRun start_dips(int np, const std::string& args, const std::string& env = "");

// Waits for a background job to end: its output and dips' exit status, as run_dips gives them.
RunResult finish(BackgroundRun& run);

// Runs a shell command: its exit code and its output (stdout and stderr together).
RunResult run_shell(const std::string& command);

// Quotes a path for the shell.
std::string quoted(const std::filesystem::path& path);

// The report's lines, parsed; the first is the header, the last the summary when the run finished.
std::vector<nlohmann::json> read_report(const std::filesystem::path& path);

// The task lines of a report, keyed by output path.
std::map<std::string, nlohmann::json> report_tasks(const std::filesystem::path& path);

// The report's event lines of one kind ("worker_lost", ...), in order.
std::vector<nlohmann::json> report_events(const std::filesystem::path& path, const std::string& event);

// How many pieces each worker's result counted for, over the report's task lines.
std::map<int, int> pieces_by_worker(const std::filesystem::path& path);

// Reads an image file as dips' reference does (IMREAD_UNCHANGED for outputs: 1 or 3 channels).
cv::Mat read_output(const std::filesystem::path& path);

// Paths of the files under dir (recursively) named like dips' temporary files (temp_files.h): outputs
// being written, pixel files of images in bands. None may be left after a job.
std::vector<std::string> dips_temp_files(const std::filesystem::path& dir);

// A tmpfs mounted on a folder (made if missing) while this object lives (a small disk that fills up, a read-only
// file system), with mount's -o options ("size=600k", "ro,size=64k"). Mounting needs root with
// CAP_SYS_ADMIN: mounted() says whether it worked, for the test to skip when not.
class TmpfsMount {
 public:
  TmpfsMount(const std::filesystem::path& folder, const std::string& options);
  ~TmpfsMount();
  TmpfsMount(const TmpfsMount&) = delete;
  TmpfsMount& operator=(const TmpfsMount&) = delete;
  bool mounted() const { return mounted_; }

 private:
  std::filesystem::path folder_;
  bool mounted_ = false;
};

// The pid of a process of this host that has exited (a child, waited for).
int ended_process();
// The name a temporary file of dips (temp_files.h) has when process `pid` of this host wrote it.
std::string temp_name_of_pid(int pid);

}  // namespace dips::testing
