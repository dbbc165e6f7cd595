// attnbench validate: every plugin x devices x dtypes x head dims x group sizes x masks x
// cases, against the fp64 reference on fresh random inputs, with a tolerance per dtype.
#include "cli.hpp"

#include <attnbench/core/device.hpp>
#include <attnbench/core/validation.hpp>
#include <attnbench/numeric.hpp>
#include <attnbench/problem_checks.hpp>

#include <cstdio>
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
      ("page-size", po::value<int64_t>()->default_value(16)->value_name("N"), "tokens per KV page")
      ("seed", po::value<uint64_t>()->value_name("N"), "random seed (default: fresh each run)");
  po::variables_map vm;
  if (!parse("validate", "[options]", options, args, vm)) return kSuccess;

  const int32_t q_heads = positive(vm["q-heads"].as<int64_t>(), "q-heads");
  const int32_t page_size = positive(vm["page-size"].as<int64_t>(), "page-size");
  std::set<int32_t> dtypes, head_dims;
  if (vm.count("dtype"))
    for (const std::string& name : split_list(vm["dtype"].as<std::vector<std::string>>(), "dtype")) {
      const int32_t t = dtype_from_name(name);
      if (t < 0 || t == ATTNB_DTYPE_INT8)
        throw UsageError("--dtype: unknown dtype '" + name + "' (expected fp32, fp16 or bf16)");
      dtypes.insert(t);
    }
  if (vm.count("head-dim"))
    for (const std::string& item : split_list(vm["head-dim"].as<std::vector<std::string>>(), "head-dim")) {
      int64_t value = 0;
      try {
        value = std::stoll(item);
      } catch (const std::exception&) {
        throw UsageError("--head-dim: expected a positive integer, got '" + item + "'");
      }
      head_dims.insert(positive(value, "head-dim"));
    }

  const std::vector<AttnbDevice> devices = selected_devices(vm);
  PluginRegistry registry = load_plugins(vm);
  std::vector<std::shared_ptr<LoadedPlugin>> plugins;
  if (vm.count("plugin")) {
    for (const std::string& name : split_list(vm["plugin"].as<std::vector<std::string>>(), "plugin")) {
      auto p = registry.find(name);
      if (!p) throw UsageError("--plugin: no plugin named '" + name + "' was loaded (see attnbench list)");
      plugins.push_back(p);
    }
  } else {
    plugins = registry.plugins();
  }
  if (plugins.empty()) throw UsageError("no plugins to validate (see attnbench list)");

  // A requested dtype or head dim that no selected plugin supports is bad input, not a skip.
  for (int32_t t : dtypes) {
    bool any = false;
    for (const auto& p : plugins)
      for (AttnbDevice dev : devices)
        any |= ((dev == ATTNB_DEVICE_CUDA ? p->descriptor().cuda_dtypes : p->descriptor().cpu_dtypes) &
                ATTNB_BIT(t)) != 0;
    if (!any) throw UsageError(std::string("--dtype: no selected plugin supports ") + dtype_name(t) + " on the selected devices");
  }
  for (int32_t hd : head_dims) {
    bool any = false;
    for (const auto& p : plugins) any |= descriptor_has_head_dim(p->descriptor(), hd);
    if (!any) throw UsageError("--head-dim: no selected plugin supports head dim " + std::to_string(hd));
  }

  const uint64_t seed = vm.count("seed") ? vm["seed"].as<uint64_t>() : std::random_device{}();
  std::printf("validate: seed %llu; tolerance |got-ref| <= atol + rtol*|ref| (fp32 1e-4, fp16 2e-3, bf16 1.6e-2)\n",
              static_cast<unsigned long long>(seed));
  std::printf("%-16s %-5s %-5s %4s %6s %-12s %-26s %10s %10s  %s\n", "plugin", "dev", "dtype", "hdim",
              "heads", "mask", "case", "max_abs", "rel_l2", "result");
  int passed = 0, failed = 0, skipped = 0;
  uint64_t case_seed = seed;
  for (const auto& plugin : plugins) {
    const AttnbDescriptor& d = plugin->descriptor();
    for (AttnbDevice dev : devices) {
      if (!(d.devices & ATTNB_BIT(dev))) continue;
      const uint32_t dev_dtypes = dev == ATTNB_DEVICE_CUDA ? d.cuda_dtypes : d.cpu_dtypes;
      for (int32_t dtype = ATTNB_DTYPE_F32; dtype <= ATTNB_DTYPE_BF16; ++dtype) {
        if (!(dev_dtypes & ATTNB_BIT(dtype)) || (!dtypes.empty() && !dtypes.count(dtype))) continue;
        for (std::size_t i = 0; i < d.num_head_dims; ++i) {
          const int32_t hd = d.head_dims[i];
          if (!head_dims.empty() && !head_dims.count(hd)) continue;
          for (int32_t kv_heads = q_heads; kv_heads >= 1; --kv_heads) {
            if (q_heads % kv_heads) continue;
            for (const Mask& mask : masks_for(d)) {
              AttnbProblem problem = make_problem(dev, dtype, q_heads, kv_heads, hd, mask.causal,
                                                  mask.window, 1, 1, 1, page_size);
              problem.kv_cache_dtype = kv_cache_dtype_for(d, dtype);
              if (!problem_outside_descriptor(d, problem).empty()) continue;  // not declared
              const std::string heads = std::to_string(q_heads) + "/" + std::to_string(kv_heads);
              const std::string why = plugin->why_not(problem);
              if (!why.empty()) {
                std::printf("%-16s %-5s %-5s %4d %6s %-12s skipped: %s\n", plugin->name().c_str(),
                            device_name(dev), dtype_name(dtype), hd, heads.c_str(), mask.name.c_str(), why.c_str());
                ++skipped;
                continue;
              }
              for (const ValidationCase& c : standard_cases()) {
                const CaseOutcome out = run_case(*plugin, problem, c, ++case_seed);
                std::printf("%-16s %-5s %-5s %4d %6s %-12s %-26s ", plugin->name().c_str(),
                            device_name(dev), dtype_name(dtype), hd, heads.c_str(), mask.name.c_str(),
                            c.name.c_str());
                if (!out.error.empty()) {
                  std::printf("%10s %10s  FAIL: %s\n", "-", "-", out.error.c_str());
                } else {
                  std::printf("%10.3e %10.3e  %s\n", out.comparison.max_abs_error,
                              out.comparison.rel_l2_error, out.passed() ? "pass" : "FAIL");
                }
                std::fflush(stdout);
                (out.passed() ? passed : failed) += 1;
              }
            }
          }
        }
      }
    }
  }
  std::printf("validate: %d passed, %d failed, %d skipped; %zu plugin(s) refused at load\n", passed,
              failed, skipped, registry.refused().size());
  return failed == 0 && passed > 0 ? kSuccess : kFailure;
}

}  // namespace attnbench::cli
