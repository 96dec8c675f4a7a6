// temp_files: names that say who writes them, cleanup of one's own at an interrupted exit, and removal of
// leftovers whose writer is gone (on this host: the process ended; elsewhere: untouched long enough).
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <filesystem>

#include "dips/image_io.h"
#include "dips/temp_files.h"
#include "harness.h"

namespace fs = std::filesystem;
using namespace dips;
using namespace dips::testing;

namespace {

// own_temp_prefix() with another host hash.
std::string other_host_name() {
  std::string name = own_temp_prefix() + "3";
  char& digit = name[std::string(".dips-tmp-").size()];
  digit = digit == '0' ? '1' : '0';
  return name;
}

void age(const fs::path& path, int seconds) {
  struct timespec times[2];
  times[0].tv_sec = times[1].tv_sec = ::time(nullptr) - seconds;
  times[0].tv_nsec = times[1].tv_nsec = 0;
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
}

}  // namespace

TEST_CASE("temporary files: named by host and pid, registered until renamed", "[temp_files]") {
  TempDir dir;
  CHECK(is_temp_file_name(own_temp_prefix() + "0"));
  CHECK(!is_temp_file_name("dips-tmp-1"));
  fs::path temp;
  const int fd = create_temp_file(dir.path(), &temp);
  REQUIRE(fd >= 0);
  ::close(fd);
  CHECK(temp.parent_path() == dir.path());
  CHECK(temp.filename().string().rfind(own_temp_prefix(), 0) == 0);
  ::unlink(temp.c_str());
  release_temp_file(temp);
  REQUIRE(write_file_atomic(dir / "out.png", std::vector<uint8_t>{1, 2, 3}).ok());
  for (const auto& entry : fs::directory_iterator(dir.path())) CHECK(entry.path().filename() == "out.png");
}

TEST_CASE("an unnamed file being written when the process starts to exit never gets its name", "[temp_files]") {
  TempDir dir;
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    const int fd = create_unnamed_file(dir.path());
    if (fd < 0) ::_exit(errno == EOPNOTSUPP || errno == EISDIR ? 10 : 1);  // no unnamed files here
    if (::write(fd, "x", 1) != 1) ::_exit(2);
    remove_own_temp_files();
    if (link_unnamed_file(fd, dir / "late.png") != ECANCELED) ::_exit(3);
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  REQUIRE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 10) {
    WARN("this file system has no unnamed files (O_TMPFILE): check skipped");
    return;
  }
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(fs::is_empty(dir.path()));
}

TEST_CASE("an exiting process removes the temporary files it is writing and starts no new ones", "[temp_files]") {
  TempDir dir;
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    fs::path first, second;
    if (create_temp_file(dir.path(), &first) < 0 || create_temp_file(dir.path(), &second) < 0) ::_exit(1);
    release_temp_file(second);  // renamed meanwhile: not this process's any more
    ::rename(second.c_str(), (dir / "done.png").c_str());
    remove_own_temp_files();
    fs::path third;
    if (create_temp_file(dir.path(), &third) >= 0 || errno != ECANCELED) ::_exit(2);
    if (write_file_atomic(dir / "late.png", std::vector<uint8_t>{1}).ok()) ::_exit(3);
    if (create_unnamed_file(dir.path()) >= 0 || errno != ECANCELED) ::_exit(4);
    if (write_file_atomic(dir / "late-unnamed.png", std::vector<uint8_t>{1}, false, false).ok()) ::_exit(5);
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  std::vector<std::string> left;
  for (const auto& entry : fs::directory_iterator(dir.path())) left.push_back(entry.path().filename().string());
  CHECK(left == std::vector<std::string>{"done.png"});
}

TEST_CASE("stale temporary files: a gone writer's are removed, a live or recent one's kept", "[temp_files]") {
  TempDir dir;
  const std::string dead = temp_name_of_pid(ended_process()), live = own_temp_prefix() + "9", foreign_recent = other_host_name();
  const std::string foreign_old = foreign_recent + "0", unrelated = "photo.dips-tmp-1.png", malformed = ".dips-tmp-zz-1-1";
  for (const std::string& name : {dead, live, foreign_recent, foreign_old, unrelated, malformed}) write_text(dir / name, "x");
  fs::create_directories(dir / (temp_name_of_pid(ended_process()) + "dir"));  // a folder with such a name stays
  age(dir / foreign_old, 3600);
  CHECK(remove_stale_temp_files(dir.path(), 600) == 2);
  CHECK(!fs::exists(dir / dead));
  CHECK(!fs::exists(dir / foreign_old));
  for (const std::string& name : {live, foreign_recent, unrelated, malformed}) CHECK(fs::exists(dir / name));
  CHECK(remove_stale_temp_files(dir / "missing", 600) == 0);
}
