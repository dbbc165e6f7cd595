// attnbench: load attention plugins, check them against the fp64 reference, benchmark them.
// Exit codes: 0 success, 1 a check or run failed, 2 bad usage or input.
#include "cli.hpp"

#include <attnbench/core/provenance.hpp>

#include <iostream>

namespace attnbench::cli {
int run_list(const std::vector<std::string>& args);
int run_validate(const std::vector<std::string>& args);
int run_check(const std::vector<std::string>& args);
int run_serve(const std::vector<std::string>& args);
int run_bench(const std::vector<std::string>& args);
int run_compare(const std::vector<std::string>& args);
int run_report(const std::vector<std::string>& args);
int run_tune(const std::vector<std::string>& args);

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      {"list", "show every plugin found: name, version, file, devices, dtypes, head dims, flags", &run_list},
      {"validate", "check every plugin against the fp64 reference on fresh random inputs", &run_validate},
      {"check", "conformance suite for one plugin file: negotiation, honesty, correctness, no hot-path allocation", &run_check},
      {"serve", "continuous batching over a paged KV pool: a request workload, TTFT/TPOT percentiles", &run_serve},
      {"bench", "time every plugin over a sweep of shapes; one CSV row per measurement, with ceilings", &run_bench},
      {"compare", "BASE.csv NEW.csv: row-by-row ratios; exit 1 when something got slower beyond the noise", &run_compare},
      {"report", "FILE.csv... --out DIR: a Markdown report with gnuplot charts (PNG and SVG)", &run_report},
      {"tune", "per plugin and context: the largest batch within a memory budget and a p95 TPOT target", &run_tune},
  };
  return table;
}
}  // namespace attnbench::cli

namespace {

void print_usage(std::ostream& out) {
  out << "usage: attnbench <command> [options]\n"
         "       attnbench <command> --help\n\n"
         "Loads attention plugins (shared libraries) and checks and measures them uniformly.\n\n"
         "commands:\n";
  for (const auto& c : attnbench::cli::commands()) out << "  " << c.name << std::string(12 - std::string(c.name).size(), ' ') << c.summary << "\n";
  out << "\nexit codes: 0 success, 1 a check or run failed, 2 bad usage or input\n";
}

}  // namespace

int main(int argc, char** argv) {
  using namespace attnbench::cli;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    print_usage(std::cerr);
    return kUsage;
  }
  const std::string name = args.front();
  if (name == "--help" || name == "-h" || name == "help") {
    print_usage(std::cout);
    return kSuccess;
  }
  if (name == "--version") {
    std::cout << "attnbench " << ATTNB_VERSION << " (plugin ABI " << ATTNB_ABI_MAJOR << "." << ATTNB_ABI_MINOR
              << ", commit " << attnbench::make_provenance({}).commit << ")\n";
    return kSuccess;
  }
  for (const Command& c : commands()) {
    if (name != c.name) continue;
    try {
      return c.run({args.begin() + 1, args.end()});
    } catch (const UsageError& e) {
      std::cerr << "attnbench " << name << ": " << e.what() << "\n";
      return kUsage;
    } catch (const std::exception& e) {
      std::cerr << "attnbench " << name << ": " << e.what() << "\n";
      return kFailure;
    }
  }
  std::string names;
  for (const Command& c : commands()) names += (names.empty() ? "" : ", ") + std::string(c.name);
  std::cerr << "attnbench: unknown command '" << name << "' (expected one of: " << names << ")\n";
  return kUsage;
}
