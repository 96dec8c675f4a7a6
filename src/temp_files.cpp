#include "dips/temp_files.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <set>

namespace dips {
namespace fs = std::filesystem;
namespace {

constexpr char kPrefix[] = ".dips-tmp-";

std::atomic<uint64_t> counter{0};
std::atomic<bool> unnamed_files{true};

// The files this process is writing; once closed, no new ones (an exit is under way).
struct Registry {
  std::mutex mutex;
  std::set<std::string> open;
  bool closed = false;
};

Registry& registry() {
  static Registry* instance = new Registry();  // never destroyed: threads may still write at exit
  return *instance;
}

// This host's name, hashed (FNV-1a): process ids repeat across the hosts of a shared file system.
uint32_t host_hash() {
  static const uint32_t hash = [] {
    char name[256] = {};
    ::gethostname(name, sizeof(name) - 1);
    uint32_t h = 2166136261u;
    for (const char* c = name; *c; ++c) h = (h ^ static_cast<uint8_t>(*c)) * 16777619u;
    return h;
  }();
  return hash;
}

// Splits ".dips-tmp-HHHHHHHH-PID-N" into its host hash and pid.
bool parse_temp_name(const std::string& name, uint32_t* host, long* pid) {
  if (!is_temp_file_name(name)) return false;
  const char* text = name.c_str() + sizeof(kPrefix) - 1;
  char* end = nullptr;
  const unsigned long hash = std::strtoul(text, &end, 16);
  if (end != text + 8 || *end != '-') return false;
  const char* pid_text = end + 1;
  *pid = std::strtol(pid_text, &end, 10);
  if (end == pid_text || *end != '-' || *pid <= 0) return false;
  *host = static_cast<uint32_t>(hash);
  return true;
}

bool writer_gone(const struct stat& info, uint32_t host, long pid, double foreign_age_s) {
  if (host == host_hash()) return ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
  return std::difftime(std::time(nullptr), info.st_mtime) >= foreign_age_s;
}

}  // namespace

std::string own_temp_prefix() { return fmt::format("{}{:08x}-{}-", kPrefix, host_hash(), ::getpid()); }

int create_temp_file(const fs::path& folder, fs::path* temp) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  if (r.closed) {
    errno = ECANCELED;
    return -1;
  }
  *temp = folder / (own_temp_prefix() + std::to_string(counter++));
  const int fd = ::open(temp->c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd >= 0) r.open.insert(temp->string());
  return fd;
}

void use_unnamed_files(bool use) { unnamed_files = use; }

int create_unnamed_file(const fs::path& folder) {
  if (!unnamed_files) {
    errno = EOPNOTSUPP;
    return -1;
  }
  Registry& r = registry();
  {
    std::lock_guard<std::mutex> lock(r.mutex);
    if (r.closed) {
      errno = ECANCELED;
      return -1;
    }
  }
  return ::open(folder.empty() ? "." : folder.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
}

int link_unnamed_file(int fd, const fs::path& path) {
  // Through /proc: linkat(fd, "", ..., AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH.
  const std::string self = fmt::format("/proc/self/fd/{}", fd);
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);  // held while linking: no output appears after the close
  if (r.closed) return ECANCELED;
  return ::linkat(AT_FDCWD, self.c_str(), AT_FDCWD, path.c_str(), AT_SYMLINK_FOLLOW) == 0 ? 0 : errno;
}

void release_temp_file(const fs::path& temp) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.open.erase(temp.string());
}

void remove_own_temp_files() {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.closed = true;
  for (const std::string& path : r.open) ::unlink(path.c_str());
  r.open.clear();
}

bool is_temp_file_name(const std::string& name) { return name.rfind(kPrefix, 0) == 0; }

size_t remove_stale_temp_files(const fs::path& folder, double foreign_age_s) {
  size_t removed = 0;
  std::error_code ec;
  for (auto it = fs::directory_iterator(folder, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    uint32_t host = 0;
    long pid = 0;
    struct stat info {};
    if (!parse_temp_name(name, &host, &pid) || ::lstat(it->path().c_str(), &info) != 0 || !S_ISREG(info.st_mode)) continue;
    if (writer_gone(info, host, pid, foreign_age_s) && ::unlink(it->path().c_str()) == 0) ++removed;
  }
  return removed;
}

}  // namespace dips
