// Progress of a long run on stderr: a bar redrawn in place on a terminal, plain lines when
// stderr is a file or a pipe (so logs stay readable).
#pragma once

#include <chrono>
#include <string>

namespace attnbench {

class Progress {
 public:
  Progress(std::size_t total, std::string label);
  ~Progress();
  // One step done; `what` says which (a plugin and shape, a request).
  void step(const std::string& what);
  void finish();

 private:
  std::size_t total_, done_ = 0;
  std::string label_;
  bool terminal_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace attnbench
