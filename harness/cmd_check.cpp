// attnbench check PATH.so: the conformance suite for one plugin file, for its author.
// Exit 0 when every check passes (skips allowed), 1 when one fails, 2 when PATH is not a
// plugin at all.
#include "cli.hpp"

#include <attnbench/core/conformance.hpp>

#include <cstdio>
#include <random>

namespace attnbench::cli {

int run_check(const std::vector<std::string>& args) {
  po::options_description options("check options");
  options.add_options()
      ("plugin-file", po::value<std::string>()->value_name("PATH"), "the plugin (.so) to check")
      ("device", po::value<std::string>()->default_value("all")->value_name("cpu|cuda|all"),
       "where to run the cases (all: the CPU, and CUDA when a GPU answers)")
      ("page-size", po::value<int64_t>()->default_value(16)->value_name("N"), "tokens per KV page")
      ("seed", po::value<uint64_t>()->value_name("N"), "random seed (default: fresh each run)");
  po::positional_options_description positional;
  positional.add("plugin-file", 1);
  po::variables_map vm;
  if (!parse("check", "PATH.so [options]", options, args, vm, &positional)) return kSuccess;
  if (!vm.count("plugin-file")) throw UsageError("expected the path of a plugin .so (attnbench check PATH.so)");

  ConformanceOptions conformance;
  conformance.devices = selected_devices(vm);
  conformance.page_size = positive(vm["page-size"].as<int64_t>(), "page-size");
  conformance.seed = vm.count("seed") ? vm["seed"].as<uint64_t>() : std::random_device{}();
  const std::string file = vm["plugin-file"].as<std::string>();
  int counts[3] = {0, 0, 0};
  bool passed = false;
  try {
    passed = check_conformance(file, conformance, [&](const CheckLine& line) {
      if (counts[0] + counts[1] + counts[2] == 0)  // only once it is a plugin: bad input prints one line
        std::printf("check: %s (seed %llu)\n", file.c_str(), static_cast<unsigned long long>(conformance.seed));
      ++counts[static_cast<int>(line.verdict)];
      std::printf("%s  %-12s %s\n", verdict_name(line.verdict), line.check.c_str(), line.detail.c_str());
      std::fflush(stdout);
    });
  } catch (const NotAPlugin& e) {
    throw UsageError(e.what());
  }
  std::printf("check: %d passed, %d failed, %d skipped: %s\n", counts[0], counts[1], counts[2],
              passed ? "conforms" : "does NOT conform");
  return passed ? kSuccess : kFailure;
}

}  // namespace attnbench::cli
