// Options `bench` and `tune` share: which plugins, which device, timing, memory budget,
// head presets and tunables.
#pragma once

#include "cli.hpp"

#include <attnbench/core/bench_case.hpp>
#include <attnbench/core/timing.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace attnbench::cli {

// --plugins, --plugin, --device, --preset, --dtype, --page-size, --pages, --set,
// --sweep-tunable and the timing options.
void add_bench_options(po::options_description& options);

// --device auto|cpu|cuda: auto is the GPU when one answers, else the CPU.
AttnbDevice bench_device(const po::variables_map& vm);
TimingPolicy timing_policy(const po::variables_map& vm);
std::vector<HeadPreset> selected_presets(const po::variables_map& vm, AttnbDevice device);
std::vector<int32_t> selected_dtypes(const po::variables_map& vm, AttnbDevice device);
bool shuffled_pages(const po::variables_map& vm);

// An integer option value; anything else is a usage error naming the option.
int64_t parse_integer(const std::string& text, const std::string& option);
// A case of `plugin` on `device` with `preset` (KV heads as the plugin allows them) and
// `dtype` (its cache dtype as the plugin stores it), and the page options; phase and shape
// are the caller's.
BenchCase case_for(const LoadedPlugin& plugin, AttnbDevice device, const HeadPreset& preset,
                   int32_t dtype, const po::variables_map& vm);

// "N[,N]" lists of positive integers; `fallback` when the option is absent.
std::vector<int32_t> positive_list(const po::variables_map& vm, const char* option,
                                   const std::vector<int32_t>& fallback);

// Memory of the device: the GPU's, or the machine's RAM for the CPU.
std::size_t device_memory_bytes(AttnbDevice device);
// BYTES (with an optional K/M/G/T suffix, powers of 1024) or X% of the device's memory.
std::size_t parse_memory_budget(const std::string& text, AttnbDevice device, const char* option);

// The tunable values each plugin runs with: the cartesian product of --set and
// --sweep-tunable over the tunables it declares (one empty setting when none apply). A name
// or value no selected plugin declares is a usage error.
class TunableSweep {
 public:
  TunableSweep(const po::variables_map& vm, const std::vector<std::shared_ptr<LoadedPlugin>>& plugins);
  std::vector<TunableSetting> settings_for(const LoadedPlugin& plugin) const;

 private:
  std::map<std::string, std::vector<int64_t>> values_;  // name -> values, in given order
};

}  // namespace attnbench::cli
