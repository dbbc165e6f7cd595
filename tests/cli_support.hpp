// For the suites that run the attnbench command itself: where it is, how to run it and read
// what it printed, and a fresh folder per test. Works in the build tree and in a staged
// install (<prefix>/libexec/attnbench/tests next to <prefix>/bin/attnbench).
#pragma once

#include "test_support.hpp"
#include "../harness/report_charts.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace attnbench::test {

inline std::filesystem::path test_binary_dir() {
  return std::filesystem::read_symlink("/proc/self/exe").parent_path();
}

// ATTNB_TEST_HARNESS, else the build's attnbench, else the staged one.
inline std::string harness() {
  if (const char* env = std::getenv("ATTNB_TEST_HARNESS")) return env;
  if (std::filesystem::exists(ATTNB_HARNESS)) return ATTNB_HARNESS;
  return (test_binary_dir() / "../../../bin/attnbench").lexically_normal().string();
}

// The plugins that crash or sweep tunables on purpose (tests/bench_plugins).
inline std::string bench_plugin_dir() {
  if (const char* env = std::getenv("ATTNB_TEST_BENCH_PLUGIN_DIR")) return env;
  if (std::filesystem::exists(ATTNB_BENCH_PLUGIN_DIR)) return ATTNB_BENCH_PLUGIN_DIR;
  return (test_binary_dir() / "bench_plugins").string();
}

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs `attnbench <arguments>` through the shell; `environment` is prepended (VAR=value ...).
inline CommandResult run_attnbench(const std::string& arguments, const std::string& environment = "") {
  const std::string command = environment + " " + harness() + " " + arguments + " 2>&1";
  CommandResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return result;
  char buffer[4096];
  for (std::size_t n; (n = fread(buffer, 1, sizeof buffer, pipe)) > 0;) result.output.append(buffer, n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// An empty folder for one test, under the system's temp folder.
inline std::filesystem::path fresh_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("attnb_" + name + "_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// Lines of output (a usage error must be exactly one).
inline int line_count(const std::string& text) {
  int lines = 0;
  for (char c : text) lines += c == '\n';
  return lines;
}

}  // namespace attnbench::test

// `attnbench report` writes nothing without gnuplot (exit 1, by design): tests that need its
// output skip there, asking the harness's own question.
#define ATTNB_SKIP_WITHOUT_GNUPLOT()                                                              \
  do {                                                                                            \
    if (!::attnbench::cli::gnuplot_installed())                                                   \
      GTEST_SKIP() << "gnuplot not on PATH (install gnuplot-nox): attnbench report draws nothing"; \
  } while (0)
