// attnbench validate: every plugin x devices x dtypes x head dims x group sizes x masks x
// cases, against the fp64 reference on fresh random inputs, with a tolerance per dtype (and
// per cache dtype). With --accuracy, instead: the accuracy study of the quantized caches.
#include "cli.hpp"

#include <attnbench/core/device.hpp>
#include <attnbench/core/validation.hpp>
#include <attnbench/numeric.hpp>
#include <attnbench/problem_checks.hpp>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <iostream>
#include <random>
#include <set>

namespace attnbench::cli {

namespace {

struct Mask {
  std::string name;
  bool causal;
  int32_t window;
};

// The masks a plugin declares: causal, non-causal, and windows at the edges (1, inside the
// context, wider than any case's context).
std::vector<Mask> masks_for(const AttnbDescriptor& d) {
  std::vector<Mask> masks;
  if (d.flags & ATTNB_FLAG_CAUSAL) masks.push_back({"causal", true, 0});
  if (d.flags & ATTNB_FLAG_NON_CAUSAL) masks.push_back({"full", false, 0});
  if ((d.flags & ATTNB_FLAG_SLIDING_WINDOW) && (d.flags & ATTNB_FLAG_CAUSAL))
    for (int32_t w : {1, 8, 1000}) masks.push_back({"window=" + std::to_string(w), true, w});
  return masks;
}

// The scale layouts of the plugin's cache: per token, and per-channel K when it offers it.
std::vector<int32_t> quant_modes_for(const AttnbDescriptor& d, const AttnbProblem& p) {
  if (p.kv_cache_dtype == ATTNB_DTYPE_INT8 && (d.flags & ATTNB_FLAG_K_PER_CHANNEL_SCALES))
    return {ATTNB_KV_QUANT_PER_TOKEN, ATTNB_KV_QUANT_K_PER_CHANNEL};
  return {ATTNB_KV_QUANT_PER_TOKEN};
}

const char* quant_mode_suffix(int32_t mode) { return mode == ATTNB_KV_QUANT_K_PER_CHANNEL ? "+kch" : ""; }

std::set<int32_t> positive_list(const po::variables_map& vm, const char* option) {
  std::set<int32_t> out;
  if (!vm.count(option)) return out;
  for (const std::string& item : split_list(vm[option].as<std::vector<std::string>>(), option)) {
    int64_t value = 0;
    try {
      value = std::stoll(item);
    } catch (const std::exception&) {
      throw UsageError(std::string("--") + option + ": expected a positive integer, got '" + item + "'");
    }
    out.insert(positive(value, option));
  }
  return out;
}

// What the user selected; each (plugin, device, dtype, head dim, KV heads) it covers is one
// configuration.
struct Selection {
  std::vector<std::shared_ptr<LoadedPlugin>> plugins;
  std::vector<AttnbDevice> devices;
  std::set<int32_t> dtypes, head_dims, kv_heads;
  int32_t q_heads = 4;
  int32_t page_size = 16;
};

using ConfigFn = std::function<void(const LoadedPlugin&, AttnbProblem, const std::string& heads)>;

// Calls f with a causal problem (no window) of every selected configuration a plugin declares.
void for_each_configuration(const Selection& s, const ConfigFn& f) {
  for (const auto& plugin : s.plugins) {
    const AttnbDescriptor& d = plugin->descriptor();
    for (AttnbDevice dev : s.devices) {
      if (!(d.devices & ATTNB_BIT(dev))) continue;
      const uint32_t dev_dtypes = dev == ATTNB_DEVICE_CUDA ? d.cuda_dtypes : d.cpu_dtypes;
      for (int32_t dtype = ATTNB_DTYPE_F32; dtype <= ATTNB_DTYPE_BF16; ++dtype) {
        if (!(dev_dtypes & ATTNB_BIT(dtype)) || (!s.dtypes.empty() && !s.dtypes.count(dtype))) continue;
        for (std::size_t i = 0; i < d.num_head_dims; ++i) {
          const int32_t hd = d.head_dims[i];
          if (!s.head_dims.empty() && !s.head_dims.count(hd)) continue;
          for (int32_t kv_heads = s.q_heads; kv_heads >= 1; --kv_heads) {
            if (s.q_heads % kv_heads || (!s.kv_heads.empty() && !s.kv_heads.count(kv_heads))) continue;
            AttnbProblem problem = make_problem(dev, dtype, s.q_heads, kv_heads, hd, true, 0, 1, 1, 1, s.page_size);
            problem.kv_cache_dtype = kv_cache_dtype_for(d, dtype);
            f(*plugin, problem, std::to_string(s.q_heads) + "/" + std::to_string(kv_heads));
          }
        }
      }
    }
  }
}

// The pass/fail sweep: every mask and scale layout of every configuration, standard cases.
int run_sweep(const Selection& s, uint64_t seed, std::size_t refused) {
  const Tolerance int8 = tolerance_for(ATTNB_DTYPE_F32, ATTNB_DTYPE_INT8);
  std::printf("validate: seed %llu; tolerance |got-ref| <= atol + rtol*|ref| (fp32 1e-4, fp16 2e-3, "
              "bf16 1.6e-2; an int8 cache adds atol %.2g)\n",
              static_cast<unsigned long long>(seed), int8.atol - tolerance_for(ATTNB_DTYPE_F32).atol);
  std::printf("%-16s %-5s %-5s %4s %6s %-16s %-26s %10s %10s  %s\n", "plugin", "dev", "dtype", "hdim",
              "heads", "mask", "case", "max_abs", "rel_l2", "result");
  int passed = 0, failed = 0, skipped = 0;
  uint64_t case_seed = seed;
  for_each_configuration(s, [&](const LoadedPlugin& plugin, AttnbProblem base, const std::string& heads) {
    const AttnbDescriptor& d = plugin.descriptor();
    for (const Mask& mask : masks_for(d))
      for (int32_t mode : quant_modes_for(d, base)) {
        AttnbProblem problem = base;
        problem.causal = mask.causal ? 1 : 0;
        problem.window = mask.window;
        problem.kv_quant_mode = mode;
        if (!problem_outside_descriptor(d, problem).empty()) continue;  // not declared
        const std::string mask_name = mask.name + quant_mode_suffix(mode);
        const char* dev = device_name(problem.device);
        const char* dtype = dtype_name(problem.dtype);
        const std::string why = plugin.why_not(problem);
        if (!why.empty()) {
          std::printf("%-16s %-5s %-5s %4d %6s %-16s skipped: %s\n", plugin.name().c_str(), dev, dtype,
                      problem.head_dim, heads.c_str(), mask_name.c_str(), why.c_str());
          ++skipped;
          continue;
        }
        for (const ValidationCase& c : standard_cases()) {
          const CaseOutcome out = run_case(plugin, problem, c, ++case_seed);
          std::printf("%-16s %-5s %-5s %4d %6s %-16s %-26s ", plugin.name().c_str(), dev, dtype,
                      problem.head_dim, heads.c_str(), mask_name.c_str(), c.name.c_str());
          if (!out.error.empty()) {
            std::printf("%10s %10s  FAIL: %s\n", "-", "-", out.error.c_str());
          } else {
            std::printf("%10.3e %10.3e  %s\n", out.comparison.max_abs_error, out.comparison.rel_l2_error,
                        out.passed() ? "pass" : "FAIL");
          }
          std::fflush(stdout);
          (out.passed() ? passed : failed) += 1;
        }
      }
  });
  std::printf("validate: %d passed, %d failed, %d skipped; %zu plugin(s) refused at load\n", passed,
              failed, skipped, refused);
  return failed == 0 && passed > 0 ? kSuccess : kFailure;
}

// The accuracy study: for each quantized-cache configuration, scale layout, kind of data and
// accuracy case, the error against the fp64 reference and against an ideal fp16 cache, as a
// Markdown table.
int run_accuracy(const Selection& s, uint64_t seed, std::size_t refused) {
  std::printf("validate --accuracy: seed %llu; causal attention; errors of the plugin's output against "
              "the fp64 reference and against an fp16 cache (the same attention over K/V rounded to "
              "fp16, in fp64); min_cos = worst cosine similarity of an output row\n\n",
              static_cast<unsigned long long>(seed));
  std::printf("| plugin | dev | dtype | hdim | heads | K scales | data | case | vs fp64: max_abs | rel_l2 | "
              "min_cos | vs fp16 cache: max_abs | rel_l2 | min_cos | fp16 cache vs fp64: rel_l2 |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  int measured = 0, failed = 0;
  uint64_t case_seed = seed;
  for_each_configuration(s, [&](const LoadedPlugin& plugin, AttnbProblem problem, const std::string& heads) {
    const AttnbDescriptor& d = plugin.descriptor();
    if (!(d.flags & ATTNB_FLAG_QUANTIZED_KV)) return;
    for (int32_t mode : quant_modes_for(d, problem)) {
      problem.kv_quant_mode = mode;
      if (!plugin.why_not(problem).empty()) continue;
      for (KvData data : {KvData::kRandom, KvData::kOutlierKeyChannels})
        for (const ValidationCase& c : accuracy_cases()) {
          const AccuracyOutcome out = run_accuracy_case(plugin, problem, c, data, ++case_seed);
          std::printf("| %s | %s | %s | %d | %s | %s | %s | %s | ", plugin.name().c_str(), device_name(problem.device),
                      dtype_name(problem.dtype), problem.head_dim, heads.c_str(),
                      mode == ATTNB_KV_QUANT_K_PER_CHANNEL ? "per-channel" : "per-token", kv_data_name(data),
                      c.name.c_str());
          if (!out.error.empty()) {
            std::printf("FAIL: %s |\n", out.error.c_str());
            ++failed;
          } else {
            std::printf("%.2e | %.2e | %.5f | %.2e | %.2e | %.5f | %.2e |\n", out.vs_fp64.max_abs,
                        out.vs_fp64.rel_l2, out.vs_fp64.worst_cosine, out.vs_fp16_cache.max_abs,
                        out.vs_fp16_cache.rel_l2, out.vs_fp16_cache.worst_cosine,
                        out.fp16_cache_vs_fp64.rel_l2);
            ++measured;
          }
          std::fflush(stdout);
        }
    }
  });
  std::printf("\nvalidate --accuracy: %d measured, %d failed; %zu plugin(s) refused at load\n", measured,
              failed, refused);
  return failed == 0 && measured > 0 ? kSuccess : kFailure;
}

}  // namespace

int run_validate(const std::vector<std::string>& args) {
  po::options_description options("validate options");
  add_plugin_options(options);
  options.add_options()
      ("plugin", po::value<std::vector<std::string>>()->composing()->value_name("NAME[,NAME]"),
       "only these plugins (default: all)")
      ("dtype", po::value<std::vector<std::string>>()->composing()->value_name("T[,T]"),
       "only these dtypes: fp32, fp16, bf16 (default: every one a plugin declares)")
      ("head-dim", po::value<std::vector<std::string>>()->composing()->value_name("D[,D]"),
       "only these head dims (default: every one a plugin declares)")
      ("q-heads", po::value<int64_t>()->default_value(4)->value_name("N"),
       "query heads; every KV head count that divides it and the plugin allows is checked")
      ("kv-heads", po::value<std::vector<std::string>>()->composing()->value_name("N[,N]"),
       "only these KV head counts (default: every divisor of --q-heads)")
      ("page-size", po::value<int64_t>()->default_value(16)->value_name("N"), "tokens per KV page")
      ("accuracy", po::bool_switch(),
       "instead of the pass/fail sweep: the accuracy study of quantized caches (errors against the "
       "fp64 reference and an fp16 cache, on random data and on keys with outlier channels)")
      ("seed", po::value<uint64_t>()->value_name("N"), "random seed (default: fresh each run)");
  po::variables_map vm;
  if (!parse("validate", "[options]", options, args, vm)) return kSuccess;

  Selection s;
  s.q_heads = positive(vm["q-heads"].as<int64_t>(), "q-heads");
  s.page_size = positive(vm["page-size"].as<int64_t>(), "page-size");
  if (vm.count("dtype"))
    for (const std::string& name : split_list(vm["dtype"].as<std::vector<std::string>>(), "dtype")) {
      const int32_t t = dtype_from_name(name);
      if (t < 0 || t == ATTNB_DTYPE_INT8)
        throw UsageError("--dtype: unknown dtype '" + name + "' (expected fp32, fp16 or bf16)");
      s.dtypes.insert(t);
    }
  s.head_dims = positive_list(vm, "head-dim");
  s.kv_heads = positive_list(vm, "kv-heads");
  for (int32_t kv : s.kv_heads)
    if (s.q_heads % kv)
      throw UsageError("--kv-heads: " + std::to_string(kv) + " does not divide --q-heads " + std::to_string(s.q_heads));

  s.devices = selected_devices(vm);
  PluginRegistry registry = load_plugins(vm);
  s.plugins = selected_plugins(registry, vm);

  // A requested dtype or head dim that no selected plugin supports is bad input, not a skip.
  for (int32_t t : s.dtypes) {
    bool any = false;
    for (const auto& p : s.plugins)
      for (AttnbDevice dev : s.devices)
        any |= ((dev == ATTNB_DEVICE_CUDA ? p->descriptor().cuda_dtypes : p->descriptor().cpu_dtypes) &
                ATTNB_BIT(t)) != 0;
    if (!any) throw UsageError(std::string("--dtype: no selected plugin supports ") + dtype_name(t) + " on the selected devices");
  }
  for (int32_t hd : s.head_dims) {
    bool any = false;
    for (const auto& p : s.plugins) any |= descriptor_has_head_dim(p->descriptor(), hd);
    if (!any) throw UsageError("--head-dim: no selected plugin supports head dim " + std::to_string(hd));
  }

  if (vm["accuracy"].as<bool>() &&
      std::none_of(s.plugins.begin(), s.plugins.end(),
                   [](const auto& p) { return (p->descriptor().flags & ATTNB_FLAG_QUANTIZED_KV) != 0; }))
    throw UsageError("--accuracy: no selected plugin has a quantized cache (see attnbench list)");

  const uint64_t seed = vm.count("seed") ? vm["seed"].as<uint64_t>() : std::random_device{}();
  const std::size_t refused = registry.refused().size();
  return vm["accuracy"].as<bool>() ? run_accuracy(s, seed, refused) : run_sweep(s, seed, refused);
}

}  // namespace attnbench::cli
