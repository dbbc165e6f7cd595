// Checks the CUDA path of every emulated plugin (plugins rebuilt against the SIMT emulator,
// see README.md) against the fp64 reference, through the plugin's own ABI entry points:
// append_kv (the plugin's append kernel writes the pages), then prefill or decode, on fresh
// random inputs, within tolerance_for(dtype, kv_cache_dtype).
//
//   cuda_emulation_check [quick|full] [--seed N] [--plugins a,b] PLUGIN_DIR
//
// The settings come from each plugin's descriptor (README.md lists them): dtypes, head
// dims, group sizes up to 64, causal, full and sliding-window masks, int8 quantization
// modes, page sizes, softmax scales, tunables. Every setting runs a ragged chunked prefill,
// a prefill beside a sequence with no new tokens, a ragged decode around page boundaries and
// a long decode that splits the keys; one setting also runs the extreme shapes. Each case
// runs twice: cp.async landing at issue with threads in order, and landing at the wait with
// threads in reverse order. quick takes a covering subset (every value of every dimension
// at least once) and each tunable value once; full crosses the dimensions and takes every
// combination of tunable values once. Exit status 1 if any case fails, 2 on bad usage, 77
// when no plugin selected has a CUDA path.
#include <algorithm>
#include <attnbench/core/random_tensor.hpp>
#include <attnbench/core/validation.hpp>
#include <attnbench/numeric.hpp>
#include <attnbench/problem_checks.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "emulated_session.hpp"

namespace attnbench::emulation {
namespace {

using Tunables = std::vector<std::pair<std::string, int64_t>>;

struct Setting {
  int32_t dtype;
  int32_t head_dim;
  int32_t group;
  bool causal;
  int32_t window;
  int32_t quant_mode;  // for an int8 cache
  int32_t page_size;
  float sm_scale;  // 0: 1/sqrt(head_dim)
  Tunables tunables;
};

struct Mask {
  bool causal;
  int32_t window;
};

// The call shapes every setting runs (sequence b: kv_lens[b] tokens, q_lens[b] of them new).
std::vector<ValidationCase> shapes() {
  return {
      {"prefill ragged+chunked", false, {1, 17, 130, 70}, {1, 17, 130, 13}},
      {"prefill beside an idle sequence", false, {20, 9, 64}, {0, 9, 30}},
      {"decode ragged", true, {1, 15, 16, 17, 100}, {1, 1, 1, 1, 1}},
      {"decode long", true, {700, 1, 333}, {1, 1, 1}},
  };
}

// One emulator mode: when cp.async copies land, and the order threads run between waits.
struct Mode {
  const char* cp_async;
  const char* order;
};
constexpr Mode kModes[] = {{"issue", "forward"}, {"wait", "reverse"}};

std::string describe(const AttnbProblem& p, const Setting& s) {
  std::ostringstream out;
  out << dtype_name(p.dtype) << " D" << p.head_dim << " heads " << p.num_q_heads << "/"
      << p.num_kv_heads << (s.causal ? " causal" : " full");
  if (s.window > 0) out << " window " << s.window;
  if (s.sm_scale != 0) out << " scale " << s.sm_scale;
  if (p.kv_cache_dtype == ATTNB_DTYPE_INT8)
    out << (s.quant_mode == ATTNB_KV_QUANT_K_PER_CHANNEL ? " int8 per-channel-K"
                                                         : " int8 per-token");
  for (const auto& [name, value] : s.tunables) out << " " << name << "=" << value;
  return out.str();
}

// Where the first element outside the tolerance is, for the failure line.
std::string first_violation(const std::vector<float>& got, const std::vector<double>& ref,
                            Tolerance tol, const AttnbProblem& p) {
  for (std::size_t i = 0; i < std::min(got.size(), ref.size()); ++i) {
    const double err = std::fabs(got[i] - ref[i]);
    if (err <= tol.atol + tol.rtol * std::fabs(ref[i])) continue;
    const std::size_t d = p.head_dim, row = i / d;
    std::ostringstream out;
    out << "first at query token " << row / p.num_q_heads << " head " << row % p.num_q_heads
        << " element " << i % d << ": got " << got[i] << ", want " << ref[i];
    return out.str();
  }
  return "";
}

struct Outcome {
  bool passed = false;
  bool refused = false;  // the plugin said unsupported at the call
  std::string text;
};

Outcome run_case(const LoadedPlugin& plugin, AttnbProblem problem, const Setting& s,
                 const ValidationCase& c, const Mode& mode, uint64_t seed) {
  setenv("SIMT_CP_ASYNC", mode.cp_async, 1);
  setenv("SIMT_ORDER", mode.order, 1);
  Outcome out;
  try {
    std::mt19937_64 rng(seed);
    const std::size_t kv_row = static_cast<std::size_t>(problem.num_kv_heads) * problem.head_dim;
    const std::size_t q_row = static_cast<std::size_t>(problem.num_q_heads) * problem.head_dim;
    std::vector<int32_t> prefix;
    for (std::size_t b = 0; b < c.kv_lens.size(); ++b) prefix.push_back(c.kv_lens[b] - c.q_lens[b]);
    const std::size_t n_prefix = std::accumulate(prefix.begin(), prefix.end(), 0);
    const std::size_t n_new = std::accumulate(c.q_lens.begin(), c.q_lens.end(), 0);
    int64_t pages = 3;  // spare pages: nothing may write them
    for (int32_t len : c.kv_lens) pages += pages_for(len, problem.page_size);

    EmulatedSession session(plugin, problem, pages, seed);
    for (const auto& [name, value] : s.tunables) session.op().set_tunable(name, value);
    session.append(prefix, random_normal(n_prefix * kv_row, problem.dtype, rng),
                   random_normal(n_prefix * kv_row, problem.dtype, rng));
    session.append(c.q_lens, random_normal(n_new * kv_row, problem.dtype, rng),
                   random_normal(n_new * kv_row, problem.dtype, rng));
    // Decode twice on the op, each with its own queries: a split decode's second call finds
    // the counters its first put back (the in-kernel merges' semaphores).
    const Tolerance tol = tolerance_for(problem.dtype, problem.kv_cache_dtype);
    double max_error = 0;
    out.passed = true;
    for (int call = 0; call < (c.decode ? 2 : 1) && out.passed; ++call) {
      const std::vector<float> q = random_normal(n_new * q_row, problem.dtype, rng);
      const std::vector<float> got = session.attend(c.q_lens, q, c.decode);
      const std::vector<double> want = session.reference(c.q_lens, q);
      const Comparison cmp = compare(got, want, tol);
      max_error = std::max(max_error, cmp.max_abs_error);
      out.passed = cmp.passed();
      if (!out.passed)
        out.text = (call ? "second decode: " : "") + std::to_string(cmp.violations) + " of " +
                   std::to_string(cmp.elements) + " outside atol " + std::to_string(tol.atol) + " rtol " +
                   std::to_string(tol.rtol) + "; " + first_violation(got, want, tol, problem) + ", ";
    }
    char text[160];
    std::snprintf(text, sizeof text, "max error %.2g", max_error);
    out.text += text;
  } catch (const PluginError& e) {
    out.refused = e.status == ATTNB_ERR_UNSUPPORTED;
    out.text = e.what();
  } catch (const std::exception& e) {
    out.text = e.what();
  }
  return out;
}

// Every setting a plugin's descriptor allows. The first five dimensions are crossed in
// full; page size and softmax scale (which no kernel specializes on) rotate.
struct Dimensions {
  std::vector<int32_t> dtypes, head_dims, groups;
  std::vector<Mask> masks;
  std::vector<int32_t> quant_modes, page_sizes;
  std::vector<float> scales;
  static constexpr std::size_t kCrossed = 5;
  std::vector<std::size_t> sizes() const {
    return {dtypes.size(),      head_dims.size(),  groups.size(), masks.size(),
            quant_modes.size(), page_sizes.size(), scales.size()};
  }
  Setting at(const std::vector<std::size_t>& i) const {
    return {dtypes[i[0]],       head_dims[i[1]],    groups[i[2]],
            masks[i[3]].causal, masks[i[3]].window, quant_modes[i[4]],
            page_sizes[i[5]],   scales[i[6]],       {}};
  }
};

Dimensions dimensions_of(const AttnbDescriptor& d) {
  Dimensions out;
  for (int32_t t : {ATTNB_DTYPE_F16, ATTNB_DTYPE_BF16})
    if (d.cuda_dtypes & ATTNB_BIT(t)) out.dtypes.push_back(t);
  for (int32_t dim : {64, 128})
    for (std::size_t i = 0; i < d.num_head_dims; ++i)
      if (d.head_dims[i] == dim) out.head_dims.push_back(dim);
  for (int32_t g : {1, 2, 3, 4, 8, 20, 64})
    if (g >= d.min_group_size && (d.max_group_size == 0 || g <= d.max_group_size))
      out.groups.push_back(g);
  const bool window = d.flags & ATTNB_FLAG_SLIDING_WINDOW;
  if (d.flags & ATTNB_FLAG_CAUSAL) out.masks.push_back({true, 0});
  if (d.flags & ATTNB_FLAG_NON_CAUSAL) out.masks.push_back({false, 0});
  if (window && (d.flags & ATTNB_FLAG_CAUSAL))
    for (int32_t w : {1, 5, 200, 1000}) out.masks.push_back({true, w});
  if (window && (d.flags & ATTNB_FLAG_NON_CAUSAL)) out.masks.push_back({false, 40});
  out.quant_modes.push_back(ATTNB_KV_QUANT_PER_TOKEN);
  if ((d.kv_cache_dtypes & ATTNB_BIT(ATTNB_DTYPE_INT8)) &&
      (d.flags & ATTNB_FLAG_K_PER_CHANNEL_SCALES))
    out.quant_modes.push_back(ATTNB_KV_QUANT_K_PER_CHANNEL);
  out.page_sizes = {16, 7, 1, 64};
  out.scales = {0.0f, 0.06f, -0.06f};  // a negative scale too: the softmax must not assume the sign
  return out;
}

// The product of the crossed dimensions; setting n takes the rotating ones from n.
std::vector<Setting> all_settings(const Dimensions& dims) {
  const std::vector<std::size_t> sizes = dims.sizes();
  std::vector<std::size_t> index(sizes.size(), 0);
  std::vector<Setting> out;
  for (std::size_t n = 0;; ++n) {
    for (std::size_t k = Dimensions::kCrossed; k < sizes.size(); ++k)
      index[k] = (n / (k - 1) + n / 7) % sizes[k];
    out.push_back(dims.at(index));
    std::size_t k = 0;
    while (k < Dimensions::kCrossed && ++index[k] == sizes[k]) index[k++] = 0;
    if (k == Dimensions::kCrossed) return out;
  }
}

// A subset in which every value of every dimension appears, as many settings as the largest
// dimension has values: setting i takes value i + k * (i / size_k) + offset * (k + 1) (mod
// size_k) of dimension k, so that dimensions of equal size do not always pair the same way.
std::vector<Setting> covering_settings(const Dimensions& dims, std::size_t offset) {
  const std::vector<std::size_t> sizes = dims.sizes();
  const std::size_t n = *std::max_element(sizes.begin(), sizes.end());
  std::vector<Setting> out;
  for (std::size_t i = 0; i < n; ++i) {
    std::vector<std::size_t> index;
    for (std::size_t k = 0; k < sizes.size(); ++k)
      index.push_back((i + k * (i / sizes[k]) + offset * (k + 1)) % sizes[k]);
    out.push_back(dims.at(index));
  }
  return out;
}

// quick: each tunable value other than the default, the others left at theirs. full: every
// combination of the tunables' values other than all defaults.
std::vector<Tunables> tunable_variants(const AttnbDescriptor& d, bool full) {
  std::vector<Tunables> out;
  if (!full) {
    for (std::size_t i = 0; d.tunables && i < d.num_tunables; ++i)
      for (std::size_t v = 0; v < d.tunables[i].num_values; ++v)
        if (d.tunables[i].values[v] != d.tunables[i].default_value)
          out.push_back({{d.tunables[i].name, d.tunables[i].values[v]}});
    return out;
  }
  std::vector<Tunables> combinations{{}};
  for (std::size_t i = 0; d.tunables && i < d.num_tunables; ++i) {
    std::vector<Tunables> longer;
    for (const Tunables& prefix : combinations)
      for (std::size_t v = 0; v < d.tunables[i].num_values; ++v) {
        Tunables t = prefix;
        t.push_back({d.tunables[i].name, d.tunables[i].values[v]});
        longer.push_back(t);
      }
    combinations = longer;
  }
  for (const Tunables& t : combinations)
    if (std::any_of(t.begin(), t.end(), [&](const auto& nv) {
          return nv.second != find_tunable(d, nv.first)->default_value;
        }))
      out.push_back(t);
  return out;
}

// Default tunables over the covering subset (quick) or every setting (full), then each
// tunable variant on one setting of the covering subset per head dim (kernels specialize on
// both), a different one each time.
std::vector<Setting> settings_for(const AttnbDescriptor& d, bool full) {
  const Dimensions dims = dimensions_of(d);
  std::vector<Setting> out = full ? all_settings(dims) : covering_settings(dims, 0);
  const std::vector<Tunables> variants = tunable_variants(d, full);
  for (std::size_t v = 0; v < variants.size(); ++v) {
    const std::vector<Setting> cover = covering_settings(dims, v);
    for (int32_t head_dim : dims.head_dims)
      for (std::size_t k = 0; k < cover.size(); ++k) {
        Setting s = cover[(v + k) % cover.size()];
        if (s.head_dim != head_dim) continue;
        s.tunables = variants[v];
        out.push_back(s);
        break;
      }
  }
  return out;
}

AttnbProblem problem_for(const LoadedPlugin& plugin, const Setting& s, const ValidationCase& c) {
  const AttnbDescriptor& d = plugin.descriptor();
  const int32_t kv_heads = s.group > 8 || d.max_kv_heads == 1 ? 1 : 2;
  AttnbProblem p = make_problem(
      ATTNB_DEVICE_CUDA, s.dtype, s.group * kv_heads, kv_heads, s.head_dim, s.causal, s.window,
      static_cast<int32_t>(c.kv_lens.size()), std::accumulate(c.q_lens.begin(), c.q_lens.end(), 0),
      *std::max_element(c.kv_lens.begin(), c.kv_lens.end()), s.page_size);
  p.sm_scale = s.sm_scale;
  p.kv_cache_dtype = kv_cache_dtype_for(d, s.dtype);
  p.kv_quant_mode = s.quant_mode;
  return p;
}

struct Totals {
  int passed = 0, failed = 0, refused = 0;
};

// Shapes run on one setting only: the most splits a decode makes (quick and full), and, in
// full, more sequences than a grid's y or z dimension holds.
std::vector<ValidationCase> extreme_shapes(bool full) {
  std::vector<ValidationCase> out = {{"decode at 20000 tokens", true, {20000, 7}, {1, 1}}};
  const std::vector<int32_t> ones(65536, 1);
  if (full) out.push_back({"decode of 65536 one-token sequences", true, ones, ones});
  return out;
}

void check_plugin(const LoadedPlugin& plugin, bool full, uint64_t seed, Totals& totals) {
  const std::vector<Setting> settings = settings_for(plugin.descriptor(), full);
  std::vector<std::pair<Setting, ValidationCase>> cases;
  for (const Setting& s : settings)
    for (const ValidationCase& c : shapes()) cases.push_back({s, c});
  for (const ValidationCase& c : extreme_shapes(full)) cases.push_back({settings.front(), c});
  for (const auto& [s, c] : cases) {
    const AttnbProblem problem = problem_for(plugin, s, c);
    const std::string label = plugin.name() + " " + describe(problem, s) + " page " +
                              std::to_string(problem.page_size) + ", " + c.name;
    std::string refused = plugin.why_not(problem);
    std::string line;
    bool passed = true;
    if (refused.empty()) {
      ++seed;
      bool all_refused = true;
      for (const Mode& mode : kModes) {
        const Outcome o = run_case(plugin, problem, s, c, mode, seed);
        passed &= o.passed;
        all_refused &= o.refused;
        line += std::string(line.empty() ? "" : "; ") + mode.cp_async + "/" + mode.order + ": " +
                (o.passed    ? "ok, "
                 : o.refused ? "refused, "
                             : "FAIL, ") +
                o.text;
      }
      if (all_refused) refused = line;
    }
    if (!refused.empty()) {
      std::printf("%s: refused (%s)\n", label.c_str(), refused.c_str());
      ++totals.refused;
      continue;
    }
    std::printf("%s: %s (%s)\n", label.c_str(), passed ? "ok" : "FAIL", line.c_str());
    std::fflush(stdout);
    ++(passed ? totals.passed : totals.failed);
  }
}

int usage(const char* why) {
  std::fprintf(stderr,
               "cuda_emulation_check: %s\nusage: cuda_emulation_check [quick|full] [--seed N] "
               "[--plugins a,b] PLUGIN_DIR\n",
               why);
  return 2;
}

}  // namespace
}  // namespace attnbench::emulation

int main(int argc, char** argv) {
  using namespace attnbench;
  using namespace attnbench::emulation;
  bool full = false;
  uint64_t seed = std::random_device{}();
  std::vector<std::string> only;
  std::filesystem::path dir;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "quick" || arg == "full") {
      full = arg == "full";
    } else if (arg == "--seed" && i + 1 < argc) {
      char* end = nullptr;
      seed = std::strtoull(argv[++i], &end, 10);
      if (*end) return usage("--seed expects a number");
    } else if (arg == "--plugins" && i + 1 < argc) {
      std::stringstream list(argv[++i]);
      for (std::string name; std::getline(list, name, ',');) only.push_back(name);
    } else if (dir.empty() && arg[0] != '-') {
      dir = arg;
    } else {
      return usage(("unexpected argument " + arg).c_str());
    }
  }
  if (dir.empty() || !std::filesystem::is_directory(dir)) return usage("PLUGIN_DIR expected");
  std::printf("seed %llu (rerun with --seed %llu)\n", static_cast<unsigned long long>(seed),
              static_cast<unsigned long long>(seed));
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    if (entry.path().extension() == ".so") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  const auto start = std::chrono::steady_clock::now();
  Totals totals;
  int checked = 0;
  for (const auto& file : files) {
    const std::string name = file.stem().string();
    if (!only.empty() && std::find(only.begin(), only.end(), name) == only.end()) continue;
    std::shared_ptr<LoadedPlugin> plugin;
    try {
      plugin = LoadedPlugin::load(file);
    } catch (const std::exception& e) {
      std::printf("%s: cannot load: %s\n", name.c_str(), e.what());
      ++totals.failed;
      continue;
    }
    if (!(plugin->descriptor().devices & ATTNB_BIT(ATTNB_DEVICE_CUDA))) continue;
    ++checked;
    check_plugin(*plugin, full, seed, totals);
    seed += 100000;
  }
  if (checked == 0) {  // 77: CTest's "skipped"
    std::printf("skipped: no emulated plugin with a CUDA path in %s\n", dir.c_str());
    return 77;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%d plugins: %d passed, %d failed, %d refused by the plugin (%.0f s)\n", checked,
              totals.passed, totals.failed, totals.refused, seconds);
  return totals.failed ? 1 : 0;
}
