// exit_code: the status file dips-run reads, and rank 0's hold on it while it runs.
#include <sys/file.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "dips/exit_code.h"
#include "harness.h"

namespace fs = std::filesystem;
using dips::testing::TempDir;
using dips::testing::read_text;
using dips::testing::write_text;

namespace {

// Whether an exclusive lock on the file at `path` is free now (flock locks belong to an open file
// description: a second open conflicts even in the same process).
bool lock_free(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  REQUIRE(fd >= 0);
  const bool free = ::flock(fd, LOCK_EX | LOCK_NB) == 0;
  ::close(fd);
  return free;
}

}  // namespace

TEST_CASE("a held status file says running and is locked until the status replaces it", "[exit_code]") {
  TempDir dir;
  const fs::path path = dir / "status";
  write_text(path, "");
  REQUIRE(lock_free(path));
  dips::hold_status_file(path.string());
  CHECK(read_text(path) == "running\n");
  CHECK_FALSE(lock_free(path));
  dips::mark_status_file_started();  // MPI has started every rank
  CHECK(read_text(path) == "started\n");
  CHECK_FALSE(lock_free(path));
  dips::write_status_file(path.string(), dips::ExitCode::kJobFailed);
  CHECK(read_text(path) == "3\n");
  CHECK(lock_free(path));  // a new file: a launcher that reads it sees the status, not a lock
}

TEST_CASE("with a status file the process exits 0, the status being in the file", "[exit_code]") {
  CHECK(dips::process_exit_status("", dips::ExitCode::kTasksFailed) == 1);
  CHECK(dips::process_exit_status("", dips::ExitCode::kInterrupted) == 4);
  CHECK(dips::process_exit_status("/tmp/status", dips::ExitCode::kJobFailed) == 0);
}

TEST_CASE("an empty status path holds nothing", "[exit_code]") {
  dips::hold_status_file("");  // must not create or touch anything
  SUCCEED();
}

TEST_CASE("the launcher's FIFO gets one line, and nothing else does", "[exit_code]") {
  TempDir dir;
  const fs::path wake = dir / "dips-wake";

  SECTION("a FIFO with a reader gets one line") {
    REQUIRE(::mkfifo(wake.c_str(), 0600) == 0);
    const int reader = ::open(wake.c_str(), O_RDWR | O_NONBLOCK);  // as dips-run holds it (<>)
    REQUIRE(reader >= 0);
    char byte = 0;
    CHECK(::read(reader, &byte, 1) < 0);  // nothing yet
    dips::wake_launcher(wake.string());
    REQUIRE(::read(reader, &byte, 1) == 1);
    CHECK(byte == '\n');
    CHECK(::read(reader, &byte, 1) < 0);  // one line only
    ::close(reader);
  }
  SECTION("a FIFO nobody reads does not block") {
    REQUIRE(::mkfifo(wake.c_str(), 0600) == 0);
    dips::wake_launcher(wake.string());
    SUCCEED();
  }
  SECTION("a regular file of that name is left as it was") {
    write_text(wake, "mine");
    dips::wake_launcher(wake.string());
    CHECK(read_text(wake) == "mine");
  }
  SECTION("a missing one is not made, nor is anything for an empty name") {
    dips::wake_launcher(wake.string());
    dips::wake_launcher("");
    CHECK_FALSE(fs::exists(wake));
  }
}
