#include "dips/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace dips {

std::string progress_line(const ProgressState& s) {
  const double rate = s.elapsed_s > 0 ? s.megapixels / s.elapsed_s : 0;
  std::string eta = "-";
  const size_t finished = s.done + s.failed;
  if (finished > 0 && finished < s.total) {
    const int seconds = static_cast<int>(s.elapsed_s / finished * (s.total - finished));
    eta = fmt::format("{}:{:02d}", seconds / 60, seconds % 60);
  }
  return fmt::format("{}/{} tasks ({} pieces), {} failed, {:.1f} MP/s, ETA {}, workers {}/{}", finished, s.total, s.pieces_done,
                     s.failed, rate, eta, s.live_workers, s.workers);
}

ProgressDisplay::ProgressDisplay(bool quiet, double interval_s) : quiet_(quiet), interval_s_(interval_s) {
  const char* term = std::getenv("TERM");
  const char* forwarded = std::getenv("DIPS_STDERR_TTY");
  const bool terminal = ::isatty(STDERR_FILENO) || (forwarded != nullptr && std::strcmp(forwarded, "1") == 0);
  live_ = terminal && term != nullptr && std::strcmp(term, "dumb") != 0;
}

void ProgressDisplay::update(const ProgressState& state, bool force) {
  if (quiet_) return;
  const double gap = live_ ? 0.1 : interval_s_;
  if (!force && state.elapsed_s - last_shown_ < gap) return;
  const std::string line = progress_line(state);
  if (force && line == last_line_) return;  // the final state was shown already
  last_shown_ = state.elapsed_s;
  last_line_ = line;
  if (live_) {
    std::fprintf(stderr, "\r\033[K[dips] %s", line.c_str());
    line_drawn_ = true;
  } else {
    std::fprintf(stderr, "[dips %.0fs] %s\n", state.elapsed_s, line.c_str());
  }
  std::fflush(stderr);
}

void ProgressDisplay::message(const std::string& text) {
  if (line_drawn_) std::fprintf(stderr, "\r\033[K");
  std::fprintf(stderr, "%s\n", text.c_str());
  if (live_) last_shown_ = -1e9;  // redraw the live line below the message at once
  line_drawn_ = false;
  std::fflush(stderr);
}

void ProgressDisplay::finish() {
  if (line_drawn_) std::fprintf(stderr, "\r\033[K");
  line_drawn_ = false;
  std::fflush(stderr);
}

}  // namespace dips
