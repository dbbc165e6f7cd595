// attnbench list: every plugin found, what it declares, or why it was refused.
#include "cli.hpp"

#include <attnbench/core/device.hpp>
#include <attnbench/problem_checks.hpp>

#include <iostream>

namespace attnbench::cli {

namespace {

std::string devices_text(uint32_t mask) {
  std::string text;
  if (mask & ATTNB_BIT(ATTNB_DEVICE_CPU)) text += "cpu";
  if (mask & ATTNB_BIT(ATTNB_DEVICE_CUDA)) text += text.empty() ? "cuda" : ",cuda";
  return text;
}

std::string flags_text(uint32_t flags) {
  std::string text;
  auto add = [&](AttnbFlag f, const char* name) {
    if (flags & f) text += (text.empty() ? "" : ",") + std::string(name);
  };
  add(ATTNB_FLAG_CAUSAL, "causal");
  add(ATTNB_FLAG_NON_CAUSAL, "non-causal");
  add(ATTNB_FLAG_SLIDING_WINDOW, "sliding-window");
  add(ATTNB_FLAG_QUANTIZED_KV, "quantized-kv");
  add(ATTNB_FLAG_K_PER_CHANNEL_SCALES, "k-per-channel-scales");
  return text;
}

std::string groups_text(const AttnbDescriptor& d) {
  std::string text = d.max_group_size == d.min_group_size
                         ? std::to_string(d.min_group_size)
                         : std::to_string(d.min_group_size) + ".." +
                               (d.max_group_size ? std::to_string(d.max_group_size) : "any");
  if (d.max_kv_heads > 0) text += " (kv heads <= " + std::to_string(d.max_kv_heads) + ")";
  return text;
}

}  // namespace

int run_list(const std::vector<std::string>& args) {
  po::options_description options("list options");
  options.add_options()("plugins", po::value<std::string>()->value_name("DIR"),
                        "plugins folder (default: next to this program); ATTNBENCH_PLUGIN_PATH adds more");
  po::variables_map vm;
  if (!parse("list", "[--plugins DIR]", options, args, vm)) return kSuccess;
  PluginRegistry registry;
  try {
    registry.load_folders(plugin_folders(vm.count("plugins") ? vm["plugins"].as<std::string>() : ""));
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }

  const DeviceInfo& device = detect_device();
  std::cout << "device: " << (device.has_cuda ? device.name + " (driver " + device.driver + ")"
                                              : "CPU only (" + device.why_no_cuda + ")")
            << "\n\n";
  for (const auto& plugin : registry.plugins()) {
    const AttnbDescriptor& d = plugin->descriptor();
    std::cout << plugin->name() << " " << d.version << "  (ABI " << ATTNB_ABI_MAJOR << "."
              << plugin->abi_minor() << ")\n"
              << "  " << d.description << "\n"
              << "  file:       " << plugin->file().string() << "\n"
              << "  devices:    " << devices_text(d.devices) << "\n";
    if (d.devices & ATTNB_BIT(ATTNB_DEVICE_CPU))
      std::cout << "  cpu dtypes: " << dtypes_text(d.cpu_dtypes) << "\n";
    if (d.devices & ATTNB_BIT(ATTNB_DEVICE_CUDA))
      std::cout << "  cuda dtypes:" << " " << dtypes_text(d.cuda_dtypes) << "\n";
    std::cout << "  kv cache:   " << dtypes_text(d.kv_cache_dtypes) << "\n"
              << "  head dims:  " << head_dims_text(d) << "\n"
              << "  group size: " << groups_text(d) << "\n"
              << "  flags:      " << flags_text(d.flags) << "\n";
    for (std::size_t i = 0; i < d.num_tunables; ++i) {
      const AttnbTunable& t = d.tunables[i];
      std::string values;
      for (std::size_t v = 0; v < t.num_values; ++v)
        values += (v ? "," : "") + std::to_string(t.values[v]);
      std::cout << "  tunable:    " << t.name << " in {" << values << "}, default "
                << t.default_value << (t.description ? std::string(": ") + t.description : "") << "\n";
    }
    std::cout << "\n";
  }
  for (const RefusedPlugin& r : registry.refused()) std::cout << "refused: " << r.reason << "\n";
  std::cout << registry.plugins().size() << " plugin(s) loaded, " << registry.refused().size()
            << " refused\n";
  return registry.plugins().empty() ? kFailure : kSuccess;
}

}  // namespace attnbench::cli
