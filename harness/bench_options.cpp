#include "bench_options.hpp"

#include <attnbench/core/device.hpp>
#include <attnbench/core/validation.hpp>
#include <attnbench/numeric.hpp>
#include <attnbench/problem_checks.hpp>

#include <cmath>
#include <cstdlib>
#include <unistd.h>

namespace attnbench::cli {

namespace {

double positive_seconds(const po::variables_map& vm, const char* option, double fallback) {
  if (!vm.count(option)) return fallback;
  const double value = vm[option].as<double>();
  if (!(value > 0)) throw UsageError(std::string("--") + option + ": expected a positive number of seconds");
  return value;
}

}  // namespace

int64_t parse_integer(const std::string& text, const std::string& option) {
  std::size_t used = 0;
  int64_t value = 0;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size())
    throw UsageError("--" + option + ": expected an integer, got '" + text + "'");
  return value;
}

std::size_t device_memory_bytes(AttnbDevice device) {
  if (device == ATTNB_DEVICE_CUDA) return detect_device().total_memory;
  return static_cast<std::size_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<std::size_t>(sysconf(_SC_PAGE_SIZE));
}

void add_bench_options(po::options_description& options) {
  options.add_options()
      ("plugins", po::value<std::string>()->value_name("DIR"),
       "plugins folder (default: the one next to this program); ATTNBENCH_PLUGIN_PATH adds more")
      ("plugin", po::value<std::vector<std::string>>()->composing()->value_name("NAME[,NAME]"),
       "only these plugins (default: all)")
      ("device", po::value<std::string>()->default_value("auto")->value_name("auto|cpu|cuda"),
       "where to run: auto is the GPU when one answers, else the CPU")
      ("preset", po::value<std::vector<std::string>>()->composing()->value_name("NAME[,NAME]"),
       "head configurations: llama3-8b, llama3-70b, tinyllama, cpu-small (default: llama3-8b on "
       "the GPU, cpu-small on the CPU); each plugin uses the preset's KV heads if it allows them, "
       "else the nearest count it allows")
      ("dtype", po::value<std::vector<std::string>>()->composing()->value_name("T[,T]"),
       "query/output dtypes: fp32, fp16, bf16 (default: fp16 on the GPU, fp32 on the CPU)")
      ("page-size", po::value<int64_t>()->default_value(16)->value_name("N"), "tokens per KV page")
      ("pages", po::value<std::string>()->default_value("shuffled")->value_name("shuffled|contiguous"),
       "page order in the pool: scattered as after a server's churn, or in order")
      ("set", po::value<std::vector<std::string>>()->composing()->value_name("NAME=VALUE"),
       "set a plugin tunable (plugins that declare it); repeatable")
      ("sweep-tunable", po::value<std::vector<std::string>>()->composing()->value_name("NAME=V1,V2,.."),
       "sweep a tunable; repeatable: the cartesian product is run")
      ("warmup", po::value<double>()->value_name("S"),
       "warm-up seconds per measurement, not recorded (default: 0.1 GPU, 0.02 CPU)")
      ("min-time", po::value<double>()->value_name("S"),
       "measured seconds before the noise rule may stop (default: 0.2 GPU, 0.05 CPU)")
      ("max-time", po::value<double>()->value_name("S"),
       "wall seconds after which a measurement stops, noisy or not (default: 1 GPU, 0.25 CPU)")
      ("max-noise", po::value<double>()->default_value(0.03, "0.03")->value_name("F"),
       "stop once the samples' spread (1.4826 x median absolute deviation / median) is at or below F")
      ("repetitions", po::value<int64_t>()->default_value(5)->value_name("N"),
       "Google Benchmark repetitions per round")
      ("seed", po::value<uint64_t>()->default_value(1)->value_name("N"), "seed of the random inputs");
}

AttnbDevice bench_device(const po::variables_map& vm) {
  const std::string device = vm["device"].as<std::string>();
  const bool gpu = detect_device().has_cuda;
  if (device == "auto") return gpu ? ATTNB_DEVICE_CUDA : ATTNB_DEVICE_CPU;
  if (device == "cpu") return ATTNB_DEVICE_CPU;
  if (device == "cuda") {
    if (!gpu) throw UsageError("--device cuda: no CUDA device (" + detect_device().why_no_cuda + ")");
    return ATTNB_DEVICE_CUDA;
  }
  throw UsageError("--device: expected auto, cpu or cuda, got '" + device + "'");
}

TimingPolicy timing_policy(const po::variables_map& vm) {
  const bool gpu = bench_device(vm) == ATTNB_DEVICE_CUDA;
  TimingPolicy p;
  // The CPU default keeps the default sweep well under a minute on two cores.
  p.warmup_s = vm.count("warmup") ? vm["warmup"].as<double>() : gpu ? 0.1 : 0.02;
  if (p.warmup_s < 0) throw UsageError("--warmup: expected seconds >= 0");
  p.min_time_s = positive_seconds(vm, "min-time", gpu ? 0.2 : 0.05);
  p.max_time_s = positive_seconds(vm, "max-time", gpu ? 1.0 : 0.25);
  if (p.max_time_s < p.min_time_s) throw UsageError("--max-time: must be at least --min-time");
  p.max_noise = vm["max-noise"].as<double>();
  if (!(p.max_noise >= 0)) throw UsageError("--max-noise: expected a fraction >= 0");
  p.repetitions = positive(vm["repetitions"].as<int64_t>(), "repetitions");
  return p;
}

std::vector<HeadPreset> selected_presets(const po::variables_map& vm, AttnbDevice device) {
  if (!vm.count("preset")) return {*find_preset(device == ATTNB_DEVICE_CUDA ? "llama3-8b" : "cpu-small")};
  std::vector<HeadPreset> presets;
  for (const std::string& name : split_list(vm["preset"].as<std::vector<std::string>>(), "preset")) {
    const HeadPreset* p = find_preset(name);
    if (!p) {
      std::string known;
      for (const HeadPreset& h : head_presets()) known += (known.empty() ? "" : ", ") + h.name;
      throw UsageError("--preset: unknown preset '" + name + "' (expected one of: " + known + ")");
    }
    presets.push_back(*p);
  }
  return presets;
}

std::vector<int32_t> selected_dtypes(const po::variables_map& vm, AttnbDevice device) {
  if (!vm.count("dtype")) return {device == ATTNB_DEVICE_CUDA ? ATTNB_DTYPE_F16 : ATTNB_DTYPE_F32};
  std::vector<int32_t> dtypes;
  for (const std::string& name : split_list(vm["dtype"].as<std::vector<std::string>>(), "dtype")) {
    const int32_t t = dtype_from_name(name);
    if (t < 0 || t == ATTNB_DTYPE_INT8)
      throw UsageError("--dtype: unknown dtype '" + name + "' (expected fp32, fp16 or bf16)");
    dtypes.push_back(t);
  }
  return dtypes;
}

bool shuffled_pages(const po::variables_map& vm) {
  const std::string pages = vm["pages"].as<std::string>();
  if (pages != "shuffled" && pages != "contiguous")
    throw UsageError("--pages: expected shuffled or contiguous, got '" + pages + "'");
  return pages == "shuffled";
}

BenchCase case_for(const LoadedPlugin& plugin, AttnbDevice device, const HeadPreset& preset,
                   int32_t dtype, const po::variables_map& vm) {
  BenchCase c;
  c.plugin = plugin.name();
  c.device = device;
  c.dtype = dtype;
  c.kv_cache_dtype = kv_cache_dtype_for(plugin.descriptor(), dtype);
  c.preset = preset;
  if (const int32_t kv = kv_heads_for(plugin.descriptor(), preset)) c.preset.num_kv_heads = kv;
  c.page_size = positive(vm["page-size"].as<int64_t>(), "page-size");
  c.shuffled_pages = shuffled_pages(vm);
  return c;
}

std::vector<int32_t> positive_list(const po::variables_map& vm, const char* option,
                                   const std::vector<int32_t>& fallback) {
  if (!vm.count(option)) return fallback;
  std::vector<int32_t> values;
  for (const std::string& item : split_list(vm[option].as<std::vector<std::string>>(), option))
    values.push_back(positive(parse_integer(item, option), option));
  return values;
}

std::size_t parse_memory_budget(const std::string& text, AttnbDevice device, const char* option) {
  const std::string where = std::string("--") + option + ": ";
  char* end = nullptr;
  const double number = std::strtod(text.c_str(), &end);
  const std::string unit = end ? std::string(end) : "";
  double bytes = 0;
  if (unit == "%") {
    bytes = number / 100.0 * static_cast<double>(device_memory_bytes(device));
  } else {
    const std::string units = "KMGT";
    double scale = 1;
    if (unit.size() == 1 || (unit.size() == 3 && unit.substr(1) == "iB")) {
      const auto at = units.find(unit[0]);
      if (at == std::string::npos) throw UsageError(where + "unknown unit '" + unit + "' (expected K, M, G, T or %)");
      scale = std::pow(1024.0, static_cast<double>(at + 1));
    } else if (!unit.empty()) {
      throw UsageError(where + "expected BYTES, BYTES with K/M/G/T, or X%, got '" + text + "'");
    }
    bytes = number * scale;
  }
  if (end == text.c_str() || !(bytes >= 1))
    throw UsageError(where + "expected a budget above zero (BYTES, e.g. 40G, or X%), got '" + text + "'");
  return static_cast<std::size_t>(bytes);
}

TunableSweep::TunableSweep(const po::variables_map& vm,
                           const std::vector<std::shared_ptr<LoadedPlugin>>& plugins) {
  auto add = [&](const std::string& item, const char* option, bool list) {
    const auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == item.size())
      throw UsageError(std::string("--") + option + ": expected NAME=VALUE" + (list ? "[,VALUE]" : "") +
                       ", got '" + item + "'");
    const std::string name = item.substr(0, eq);
    if (values_.count(name)) throw UsageError(std::string("--") + option + ": tunable '" + name + "' given twice");
    std::vector<int64_t>& values = values_[name];
    for (const std::string& v : list ? split_list({item.substr(eq + 1)}, option) : std::vector<std::string>{item.substr(eq + 1)})
      values.push_back(parse_integer(v, option));
    // A name or value that no selected plugin knows is a typo, not a skip.
    bool declared = false;
    for (int64_t value : values) {
      bool allowed = false;
      for (const auto& p : plugins)
        if (const AttnbTunable* t = find_tunable(p->descriptor(), name)) {
          declared = true;
          allowed |= tunable_allows(*t, value);
        }
      if (!declared) throw UsageError(std::string("--") + option + ": no selected plugin declares a tunable '" + name + "'");
      if (!allowed)
        throw UsageError(std::string("--") + option + ": no selected plugin allows " + name + "=" + std::to_string(value));
    }
  };
  if (vm.count("set"))
    for (const std::string& item : vm["set"].as<std::vector<std::string>>()) add(item, "set", false);
  if (vm.count("sweep-tunable"))
    for (const std::string& item : vm["sweep-tunable"].as<std::vector<std::string>>()) add(item, "sweep-tunable", true);
}

std::vector<TunableSetting> TunableSweep::settings_for(const LoadedPlugin& plugin) const {
  std::vector<TunableSetting> settings{{}};
  for (const auto& [name, values] : values_) {  // std::map: sorted by name
    if (!find_tunable(plugin.descriptor(), name)) continue;
    std::vector<TunableSetting> next;
    for (const TunableSetting& s : settings)
      for (int64_t v : values) {
        next.push_back(s);
        next.back().emplace_back(name, v);
      }
    settings = std::move(next);
  }
  return settings;
}

}  // namespace attnbench::cli
