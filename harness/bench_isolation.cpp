#include "bench_isolation.hpp"

#include "cli.hpp"

#include <attnbench/core/bench_runner.hpp>
#include <attnbench/core/csv_writer.hpp>
#include <attnbench/core/result_reader.hpp>
#include <attnbench/core/result_schema.hpp>

#include <boost/dll/runtime_symbol_info.hpp>

#include <csignal>
#include <cstring>
#include <iostream>
#include <spawn.h>
#include <sys/wait.h>

extern char** environ;

namespace attnbench::cli {

namespace fs = std::filesystem;

std::set<std::string> existing_keys(const fs::path& out) {
  std::set<std::string> keys;
  if (!fs::exists(out) || fs::file_size(out) == 0) return keys;
  try {
    const ResultTable table = read_results(out);
    if (table.schema != &bench_schema())
      throw UsageError(out.string() + ": holds " + table.schema->kind + " results, not bench results");
    for (const auto& row : table.rows) keys.insert(row_key(bench_schema(), row));
  } catch (const ResultFileError& e) {
    throw UsageError(e.what());
  }
  return keys;
}

namespace {

// The parent's arguments for one plugin's child: without --isolate, --plugin and --resume
// (the child gets its own), plus the parent's command line for the rows' provenance.
std::vector<std::string> child_arguments(const std::vector<std::string>& args, const std::string& plugin,
                                         const std::string& command_line) {
  std::vector<std::string> child{"bench"};
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--isolate" || a == "--resume" || a.rfind("--plugin=", 0) == 0) continue;
    if (a == "--plugin") {
      ++i;  // and its value
      continue;
    }
    child.push_back(a);
  }
  for (const char* extra : {"--plugin", plugin.c_str(), "--resume", "--isolated-child", command_line.c_str()})
    child.emplace_back(extra);
  return child;
}

// Runs this program with `args`; returns the wait status.
int spawn_and_wait(const std::vector<std::string>& args) {
  const std::string exe = boost::dll::program_location().string();
  std::vector<char*> argv{const_cast<char*>(exe.c_str())};
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int err = posix_spawn(&pid, exe.c_str(), nullptr, nullptr, argv.data(), environ);
  if (err != 0) throw std::runtime_error("cannot start " + exe + ": " + std::strerror(err));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw std::runtime_error(std::string("waitpid: ") + std::strerror(errno));
  return status;
}

}  // namespace

int run_isolated(const std::vector<std::string>& args, const LoadedPlugin& plugin,
                 const std::vector<BenchCase>& cases, const fs::path& out, const Provenance& provenance) {
  for (;;) {
    const int status = spawn_and_wait(child_arguments(args, plugin.name(), provenance.command_line));
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    const int signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    const std::set<std::string> done = existing_keys(out);
    const BenchCase* crashed = nullptr;
    for (const BenchCase& c : cases)
      if (!done.count(bench_case_key(c))) {
        crashed = &c;
        break;
      }
    if (!crashed) return kFailure;  // died after its last row: nothing left to resume
    const std::string message = "the process died of signal " + std::to_string(signal) + " (" +
                                strsignal(signal) + ") during this case; the sweep went on in a new process";
    std::cerr << "attnbench bench: " << crashed->label() << ": " << message << "\n";
    CsvWriter(out, bench_schema().columns).write_row(bench_status_row(plugin, *crashed, provenance, kStatusCrashed, message));
  }
}

}  // namespace attnbench::cli
