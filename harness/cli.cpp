#include "cli.hpp"

#include <attnbench/core/device.hpp>

#include <iostream>
#include <sstream>

namespace attnbench::cli {

bool parse(const std::string& command, const std::string& usage, const po::options_description& options,
           const std::vector<std::string>& args, po::variables_map& vm,
           const po::positional_options_description* positional) {
  po::options_description all(options);
  all.add_options()("help,h", "show this help and exit");
  try {
    po::command_line_parser parser(args);
    parser.options(all);
    if (positional) parser.positional(*positional);
    po::store(parser.run(), vm);
    if (vm.count("help")) {
      std::cout << "usage: attnbench " << command << " " << usage << "\n\n" << all << "\n";
      return false;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(std::string(e.what()) + " (see attnbench " + command + " --help)");
  }
  return true;
}

void add_plugin_options(po::options_description& options) {
  options.add_options()
      ("plugins", po::value<std::string>()->value_name("DIR"),
       "plugins folder (default: the one next to this program, " "<prefix>/lib/attnbench/plugins); "
       "folders in ATTNBENCH_PLUGIN_PATH (colon-separated) are scanned too")
      ("device", po::value<std::string>()->default_value("all")->value_name("cpu|cuda|all"),
       "where to run: the CPU, the GPU, or both (all skips CUDA when no GPU answers)");
}

PluginRegistry load_plugins(const po::variables_map& vm) {
  PluginRegistry registry;
  try {
    registry.load_folders(plugin_folders(vm.count("plugins") ? vm["plugins"].as<std::string>() : ""));
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  for (const RefusedPlugin& r : registry.refused()) std::cerr << "attnbench: skipped " << r.reason << "\n";
  return registry;
}

std::vector<AttnbDevice> selected_devices(const po::variables_map& vm) {
  const std::string device = vm["device"].as<std::string>();
  const bool gpu = detect_device().has_cuda;
  if (device == "cpu") return {ATTNB_DEVICE_CPU};
  if (device == "cuda") {
    if (!gpu) throw UsageError("--device cuda: no CUDA device (" + detect_device().why_no_cuda + ")");
    return {ATTNB_DEVICE_CUDA};
  }
  if (device == "all") return gpu ? std::vector<AttnbDevice>{ATTNB_DEVICE_CPU, ATTNB_DEVICE_CUDA}
                                  : std::vector<AttnbDevice>{ATTNB_DEVICE_CPU};
  throw UsageError("--device: expected cpu, cuda or all, got '" + device + "'");
}

std::vector<std::shared_ptr<LoadedPlugin>> selected_plugins(const PluginRegistry& registry,
                                                            const po::variables_map& vm) {
  if (!vm.count("plugin")) {
    if (registry.plugins().empty()) throw UsageError("no plugins loaded (see attnbench list)");
    return registry.plugins();
  }
  std::vector<std::shared_ptr<LoadedPlugin>> plugins;
  for (const std::string& name : split_list(vm["plugin"].as<std::vector<std::string>>(), "plugin")) {
    auto p = registry.find(name);
    if (!p) throw UsageError("--plugin: no plugin named '" + name + "' was loaded (see attnbench list)");
    plugins.push_back(p);
  }
  return plugins;
}

std::vector<std::string> split_list(const std::vector<std::string>& values, const char* option) {
  std::vector<std::string> items;
  for (const std::string& value : values) {
    std::stringstream in(value);
    for (std::string item; std::getline(in, item, ',');) {
      if (item.empty()) throw UsageError(std::string("--") + option + ": empty item in '" + value + "'");
      items.push_back(item);
    }
  }
  return items;
}

int32_t positive(int64_t value, const char* option) {
  if (value <= 0 || value > (1ll << 30))
    throw UsageError(std::string("--") + option + ": expected a positive size, got " + std::to_string(value));
  return static_cast<int32_t>(value);
}

}  // namespace attnbench::cli
