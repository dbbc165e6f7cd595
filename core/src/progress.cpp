#include <attnbench/core/progress.hpp>

#include <cstdio>
#include <unistd.h>

namespace attnbench {

Progress::Progress(std::size_t total, std::string label)
    : total_(total), label_(std::move(label)), terminal_(isatty(fileno(stderr)) != 0),
      start_(std::chrono::steady_clock::now()) {}

Progress::~Progress() { finish(); }

void Progress::step(const std::string& what) {
  ++done_;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  if (!terminal_) {
    std::fprintf(stderr, "%s: %zu/%zu %s (%.1f s)\n", label_.c_str(), done_, total_, what.c_str(), seconds);
    return;
  }
  const int width = 30;
  const int filled = total_ ? static_cast<int>(width * done_ / total_) : width;
  std::fprintf(stderr, "\r\033[K%s [%.*s%*s] %zu/%zu %.1fs %s", label_.c_str(), filled,
               "##############################", width - filled, "", done_, total_, seconds,
               what.substr(0, 60).c_str());
  std::fflush(stderr);
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  if (terminal_ && done_ > 0) std::fputc('\n', stderr);
}

}  // namespace attnbench
