// What the subcommands share: exit codes, usage errors, the plugin and device options.
#pragma once

#include <attnbench/abi.h>
#include <attnbench/core/plugin_registry.hpp>

#include <boost/program_options.hpp>

#include <stdexcept>
#include <string>
#include <vector>

namespace attnbench::cli {

namespace po = boost::program_options;

enum ExitCode { kSuccess = 0, kFailure = 1, kUsage = 2 };

// Bad input from the user: printed as one line, exit code 2, nothing else happens.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A subcommand: name, one-line summary, entry point given the arguments after its name.
struct Command {
  const char* name;
  const char* summary;
  int (*run)(const std::vector<std::string>& args);
};
const std::vector<Command>& commands();

// Parses `args` against `options` (plus --help); returns false when --help was printed.
bool parse(const std::string& command, const std::string& usage, const po::options_description& options,
           const std::vector<std::string>& args, po::variables_map& vm,
           const po::positional_options_description* positional = nullptr);

// --plugins DIR and --device.
void add_plugin_options(po::options_description& options);
PluginRegistry load_plugins(const po::variables_map& vm);
// The plugins --plugin NAME[,NAME] names (each must be loaded), or all loaded ones without
// it; none at all is a usage error.
std::vector<std::shared_ptr<LoadedPlugin>> selected_plugins(const PluginRegistry& registry,
                                                            const po::variables_map& vm);
// The devices to run on: "cpu", "cuda", or "all" (the CPU, and CUDA when a GPU answers).
std::vector<AttnbDevice> selected_devices(const po::variables_map& vm);

// "a,b" or repeated values -> items; an empty item is a usage error naming the option.
std::vector<std::string> split_list(const std::vector<std::string>& values, const char* option);
int32_t positive(int64_t value, const char* option);

}  // namespace attnbench::cli
