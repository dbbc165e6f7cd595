#include <attnbench/core/conformance.hpp>

#include <attnbench/core/device.hpp>
#include <attnbench/core/hot_path_allocations.hpp>
#include <attnbench/core/loaded_plugin.hpp>
#include <attnbench/core/validation.hpp>
#include <attnbench/numeric.hpp>
#include <attnbench/problem_checks.hpp>

#include <boost/dll/shared_library.hpp>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <set>

namespace attnbench {

const char* verdict_name(Verdict verdict) {
  switch (verdict) {
    case Verdict::kPass: return "PASS";
    case Verdict::kFail: return "FAIL";
    case Verdict::kSkip: return "SKIP";
  }
  return "?";
}

namespace {

// Hands each line on and remembers whether any failed.
class Lines {
 public:
  explicit Lines(const std::function<void(const CheckLine&)>& report) : report_(report) {}
  void add(Verdict verdict, const std::string& check, const std::string& detail) {
    failed_ |= verdict == Verdict::kFail;
    report_({verdict, check, detail});
  }
  void pass_or_fail(bool ok, const std::string& check, const std::string& detail) {
    add(ok ? Verdict::kPass : Verdict::kFail, check, detail);
  }
  bool failed() const { return failed_; }

 private:
  const std::function<void(const CheckLine&)>& report_;
  bool failed_ = false;
};

std::string sci(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1e", value);
  return text;
}

std::string count(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.0f", value);
  return text;
}

std::string version(uint32_t major, uint32_t minor) {
  return std::to_string(major) + "." + std::to_string(minor);
}

std::string quoted(const std::string& text) { return "'" + text + "'"; }

std::string mask_text(const AttnbProblem& p) {
  if (p.window > 0) return "window=" + std::to_string(p.window);
  return p.causal ? "causal" : "full";
}

// "cpu fp16 d=64 heads 8/2 causal": enough to rerun one configuration with validate.
std::string describe(const AttnbProblem& p) {
  return std::string(device_name(p.device)) + " " + dtype_name(p.dtype) + " d=" +
         std::to_string(p.head_dim) + " heads " + std::to_string(p.num_q_heads) + "/" +
         std::to_string(p.num_kv_heads) + " " + mask_text(p);
}

// ---- negotiation -------------------------------------------------------------------------

using NegotiateFn = AttnbStatus(const AttnbHostInfo*, AttnbNegotiation*);

struct Answer {
  AttnbStatus status;
  AttnbNegotiation negotiation;
};

Answer negotiate_with(NegotiateFn* negotiate, uint32_t major, uint32_t minor_min, uint32_t minor_max) {
  AttnbHostInfo host = make_host_info(ATTNB_DEVICE_CUDA);
  host.abi_major = major;
  host.abi_minor_min = minor_min;
  host.abi_minor_max = minor_max;
  Answer answer{};
  answer.negotiation.struct_size = sizeof(AttnbNegotiation);
  answer.status = negotiate(&host, &answer.negotiation);
  return answer;
}

// Hosts other than this one: of the next major (must be refused) and one that knows only
// 1.0 (must be served at 1.0, or refused when the plugin needs more).
void check_other_hosts(NegotiateFn* negotiate, Lines& lines) {
  const uint32_t other_major = ATTNB_ABI_MAJOR + 1;
  const Answer newer = negotiate_with(negotiate, other_major, 0, 0);
  const bool refused = newer.status == ATTNB_ERR_INCOMPATIBLE && !newer.negotiation.api;
  lines.pass_or_fail(refused, "negotiation",
                     "a host of ABI " + version(other_major, 0) +
                         (refused ? " is answered INCOMPATIBLE (plugin says ABI " +
                                        version(newer.negotiation.abi_major, newer.negotiation.abi_minor) + ")"
                                  : " is not answered INCOMPATIBLE with no function table"));
  const Answer oldest = negotiate_with(negotiate, ATTNB_ABI_MAJOR, 0, 0);
  const std::string host10 = "a host offering only ABI " + version(ATTNB_ABI_MAJOR, 0);
  if (oldest.status == ATTNB_ERR_INCOMPATIBLE && !oldest.negotiation.api)
    lines.add(Verdict::kPass, "negotiation",
              host10 + " is refused (the plugin needs " +
                  version(oldest.negotiation.abi_major, oldest.negotiation.abi_minor) + ")");
  else {
    const bool ok = oldest.status == ATTNB_OK && oldest.negotiation.api &&
                    oldest.negotiation.abi_major == ATTNB_ABI_MAJOR && oldest.negotiation.abi_minor == 0;
    lines.pass_or_fail(ok, "negotiation",
                       host10 + " gets ABI " +
                           version(oldest.negotiation.abi_major, oldest.negotiation.abi_minor) +
                           (oldest.negotiation.api ? "" : " without a function table") +
                           (ok ? "" : " (expected " + version(ATTNB_ABI_MAJOR, 0) + ", or INCOMPATIBLE)"));
  }
}

// ---- descriptor --------------------------------------------------------------------------

constexpr uint32_t kComputeDtypes =
    ATTNB_BIT(ATTNB_DTYPE_F32) | ATTNB_BIT(ATTNB_DTYPE_F16) | ATTNB_BIT(ATTNB_DTYPE_BF16);
constexpr uint32_t kKnownFlags = ATTNB_FLAG_CAUSAL | ATTNB_FLAG_NON_CAUSAL | ATTNB_FLAG_SLIDING_WINDOW |
                                 ATTNB_FLAG_QUANTIZED_KV | ATTNB_FLAG_K_PER_CHANNEL_SCALES;

// What the loader does not already refuse, but an author wants to hear about.
std::string descriptor_doubts(const LoadedPlugin& plugin) {
  const AttnbDescriptor& d = plugin.descriptor();
  if (!d.description || !*d.description) return "the description is empty";
  if ((d.cpu_dtypes | d.cuda_dtypes) & ~kComputeDtypes) return "a device lists a dtype other than fp32/fp16/bf16";
  if (d.kv_cache_dtypes & ~(kComputeDtypes | ATTNB_BIT(ATTNB_DTYPE_INT8))) return "kv_cache_dtypes has unknown bits";
  if (d.flags & ~kKnownFlags) return "flags has unknown bits";
  const std::set<int32_t> dims(d.head_dims, d.head_dims + d.num_head_dims);
  if (dims.size() != d.num_head_dims) return "a head dim is listed twice";
  std::set<std::string> names;
  for (std::size_t i = 0; i < d.num_tunables; ++i)
    if (!names.insert(d.tunables[i].name).second) return std::string("tunable ") + d.tunables[i].name + " is listed twice";
  if (plugin.api().descriptor() != plugin.api().descriptor()) return "descriptor() returns a different pointer each call";
  return "";
}

std::string descriptor_summary(const LoadedPlugin& plugin) {
  const AttnbDescriptor& d = plugin.descriptor();
  std::string devices;
  if (d.devices & ATTNB_BIT(ATTNB_DEVICE_CPU)) devices += " cpu " + dtypes_text(d.cpu_dtypes) + ";";
  if (d.devices & ATTNB_BIT(ATTNB_DEVICE_CUDA)) devices += " cuda " + dtypes_text(d.cuda_dtypes) + ";";
  return plugin.name() + " " + d.version + ":" + devices + " cache " + dtypes_text(d.kv_cache_dtypes) +
         "; head dims " + head_dims_text(d) + "; group " + std::to_string(d.min_group_size) + ".." +
         (d.max_group_size ? std::to_string(d.max_group_size) : "any") + "; " +
         std::to_string(d.num_tunables) + " tunable(s)";
}

// ---- can_implement honesty: refusals -----------------------------------------------------

// Every claimed device with its compute dtypes, CPU first.
std::vector<AttnbDevice> claimed_devices(const AttnbDescriptor& d) {
  std::vector<AttnbDevice> devices;
  for (AttnbDevice dev : {ATTNB_DEVICE_CPU, ATTNB_DEVICE_CUDA})
    if (d.devices & ATTNB_BIT(dev)) devices.push_back(dev);
  return devices;
}

uint32_t dtypes_on(const AttnbDescriptor& d, AttnbDevice device) {
  return (device == ATTNB_DEVICE_CUDA ? d.cuda_dtypes : d.cpu_dtypes) & kComputeDtypes;
}

int32_t first_dtype(uint32_t mask) {
  for (int32_t t = ATTNB_DTYPE_F32; t <= ATTNB_DTYPE_BF16; ++t)
    if (mask & ATTNB_BIT(t)) return t;
  return ATTNB_DTYPE_F32;
}

int32_t kv_heads_for(const AttnbDescriptor& d) { return d.max_kv_heads == 1 ? 1 : 2; }

// A problem the descriptor allows, to vary one field at a time.
AttnbProblem declared_problem(const AttnbDescriptor& d, AttnbDevice device, int32_t page_size) {
  const int32_t dtype = first_dtype(dtypes_on(d, device));
  const int32_t kv = kv_heads_for(d);
  AttnbProblem p = make_problem(device, dtype, kv * d.min_group_size, kv, d.head_dims[0],
                                (d.flags & ATTNB_FLAG_CAUSAL) != 0, 0, 4, 64, 128, page_size);
  p.kv_cache_dtype = kv_cache_dtype_for(d, dtype);
  return p;
}

struct Refusal {
  std::string what;  // "group size 9 (the descriptor allows 1..8)"
  AttnbProblem problem;
};

// Problems the descriptor rules out, one field off at a time.
std::vector<Refusal> problems_to_refuse(const AttnbDescriptor& d, int32_t page_size) {
  const AttnbDevice device = claimed_devices(d).front();
  const AttnbProblem base = declared_problem(d, device, page_size);
  std::vector<Refusal> out;
  auto add = [&](const std::string& what, auto change) {
    AttnbProblem p = base;
    change(p);
    out.push_back({what, p});
  };
  if (d.max_group_size > 0)
    add("group size " + std::to_string(d.max_group_size + 1) + " (allowed up to " +
            std::to_string(d.max_group_size) + ")",
        [&](AttnbProblem& p) { p.num_q_heads = p.num_kv_heads * (d.max_group_size + 1); });
  if (d.min_group_size > 1)
    add("group size " + std::to_string(d.min_group_size - 1) + " (allowed from " +
            std::to_string(d.min_group_size) + ")",
        [&](AttnbProblem& p) { p.num_q_heads = p.num_kv_heads * (d.min_group_size - 1); });
  if (d.max_kv_heads > 0)
    add(std::to_string(d.max_kv_heads + 1) + " KV heads (allowed up to " + std::to_string(d.max_kv_heads) + ")",
        [&](AttnbProblem& p) {
          p.num_kv_heads = d.max_kv_heads + 1;
          p.num_q_heads = p.num_kv_heads * d.min_group_size;
        });
  int32_t unlisted = 8;
  while (descriptor_has_head_dim(d, unlisted)) unlisted += 8;
  add("head dim " + std::to_string(unlisted) + " (not listed)",
      [&](AttnbProblem& p) { p.head_dim = unlisted; });
  if (!(d.flags & ATTNB_FLAG_SLIDING_WINDOW))
    add("a sliding window of 8 (no sliding-window flag)", [](AttnbProblem& p) { p.window = 8; });
  if (!(d.flags & ATTNB_FLAG_NON_CAUSAL))
    add("non-causal attention (no non-causal flag)", [](AttnbProblem& p) { p.causal = 0; });
  if (!(d.flags & ATTNB_FLAG_CAUSAL))
    add("causal attention (no causal flag)", [](AttnbProblem& p) { p.causal = 1; });
  for (int32_t t = ATTNB_DTYPE_F32; t <= ATTNB_DTYPE_BF16; ++t)
    if (!(dtypes_on(d, device) & ATTNB_BIT(t))) {
      add(std::string(dtype_name(t)) + " on " + device_name(device) + " (not listed)", [&](AttnbProblem& p) {
        p.dtype = t;
        p.kv_cache_dtype = t;
      });
      break;
    }
  for (AttnbDevice other : {ATTNB_DEVICE_CPU, ATTNB_DEVICE_CUDA})
    if (!(d.devices & ATTNB_BIT(other)))
      add(std::string("device ") + device_name(other) + " (not claimed)",
          [&](AttnbProblem& p) { p.device = other; });
  return out;
}

// The plugin's own can_implement (not the host's descriptor check in front of it) must say
// no, with a reason, to every problem its descriptor rules out.
void check_refusals(const LoadedPlugin& plugin, int32_t page_size, Lines& lines) {
  for (const Refusal& r : problems_to_refuse(plugin.descriptor(), page_size)) {
    const AttnbStatus status = plugin.api().can_implement(&r.problem);
    const char* message = status == ATTNB_OK ? nullptr : plugin.api().last_error();
    const std::string reason = message ? message : "";
    if (status == ATTNB_OK)
      lines.add(Verdict::kFail, "refuses", r.what + ": can_implement accepted it");
    else
      lines.pass_or_fail(!reason.empty(), "refuses",
                         r.what + (reason.empty() ? ": refused with an empty reason" : ": " + quoted(reason)));
  }
}

// ---- correctness on every claimed device -------------------------------------------------

struct Mask {
  bool causal;
  int32_t window;
};

std::vector<Mask> declared_masks(const AttnbDescriptor& d) {
  std::vector<Mask> masks;
  if (d.flags & ATTNB_FLAG_CAUSAL) masks.push_back({true, 0});
  if (d.flags & ATTNB_FLAG_NON_CAUSAL) masks.push_back({false, 0});
  if ((d.flags & ATTNB_FLAG_SLIDING_WINDOW) && (d.flags & ATTNB_FLAG_CAUSAL))
    for (int32_t w : {1, 8, 1000}) masks.push_back({true, w});
  return masks;
}

// The smallest group size, a few above it, and the largest when there is one.
std::vector<int32_t> group_sizes(const AttnbDescriptor& d) {
  std::set<int32_t> groups;
  for (int32_t g : {d.min_group_size, 2 * d.min_group_size, 4 * d.min_group_size, d.max_group_size})
    if (g >= d.min_group_size && (d.max_group_size == 0 || g <= d.max_group_size)) groups.insert(g);
  return {groups.begin(), groups.end()};
}

// Every configuration of one device and dtype that the descriptor declares.
std::vector<AttnbProblem> declared_configurations(const AttnbDescriptor& d, AttnbDevice device,
                                                  int32_t dtype, int32_t page_size) {
  std::vector<AttnbProblem> out;
  const int32_t kv = kv_heads_for(d);
  for (std::size_t i = 0; i < d.num_head_dims; ++i)
    for (int32_t g : group_sizes(d))
      for (const Mask& m : declared_masks(d)) {
        AttnbProblem p = make_problem(device, dtype, kv * g, kv, d.head_dims[i], m.causal, m.window,
                                      1, 1, 1, page_size);
        p.kv_cache_dtype = kv_cache_dtype_for(d, dtype);
        if (problem_outside_descriptor(d, p).empty()) out.push_back(p);
      }
  return out;
}

// Runs the standard cases on `p`; returns "" when all pass, else what failed first, and
// raises `worst` to the largest relative L2 error seen.
std::string run_cases(const LoadedPlugin& plugin, const AttnbProblem& p, uint64_t& seed, double& worst,
                      const std::vector<std::pair<std::string, int64_t>>& tunables = {}) {
  for (const ValidationCase& c : standard_cases()) {
    const CaseOutcome out = run_case(plugin, p, c, ++seed, tunables);
    if (!out.error.empty()) return describe(p) + " '" + c.name + "': " + out.error;
    worst = std::max(worst, out.comparison.rel_l2_error);
    if (!out.passed())
      return describe(p) + " '" + c.name + "': " + std::to_string(out.comparison.violations) + " of " +
             std::to_string(out.comparison.elements) + " elements outside atol " +
             sci(out.tolerance.atol) + " + rtol " + sci(out.tolerance.rtol) + " (max abs error " +
             sci(out.comparison.max_abs_error) + ")";
  }
  return "";
}

// Checks every declared configuration of one device and dtype; returns the ones that were
// accepted and ran correctly.
std::vector<AttnbProblem> check_correctness(const LoadedPlugin& plugin, AttnbDevice device, int32_t dtype,
                                            const ConformanceOptions& options, uint64_t& seed, Lines& lines) {
  const std::string where = std::string(device_name(device)) + " " + dtype_name(dtype);
  std::vector<AttnbProblem> accepted, correct;
  std::string first_failure, first_refusal;
  int failures = 0, refusals = 0;
  double worst = 0;
  const std::vector<AttnbProblem> declared =
      declared_configurations(plugin.descriptor(), device, dtype, options.page_size);
  for (const AttnbProblem& p : declared) {
    if (plugin.api().can_implement(&p) != ATTNB_OK) {  // allowed: not every combination need work
      const std::string why = plugin.api().last_error();
      if (why.empty()) lines.add(Verdict::kFail, "refuses", describe(p) + ": refused with an empty reason");
      if (refusals++ == 0) first_refusal = describe(p) + ": " + quoted(why);
      continue;
    }
    accepted.push_back(p);
    std::string failure = run_cases(plugin, p, seed, worst);
    if (failure.empty() && accepted.size() == 1) {  // once: a softmax scale other than 1/sqrt(d)
      AttnbProblem scaled = p;
      scaled.sm_scale = 0.3f;
      failure = run_cases(plugin, scaled, seed, worst);
      if (!failure.empty()) failure = "sm_scale 0.3: " + failure;
    }
    if (failure.empty())
      correct.push_back(p);
    else if (failures++ == 0)
      first_failure = failure;
  }
  if (refusals > 0)
    lines.add(Verdict::kSkip, "accepts", where + ": " + std::to_string(refusals) + " of " +
                                             std::to_string(declared.size()) +
                                             " declared configurations refused by can_implement, e.g. " +
                                             first_refusal);
  if (accepted.empty())
    lines.add(Verdict::kFail, "accepts", where + ": can_implement refused every one of the " +
                                             std::to_string(declared.size()) + " configurations the descriptor declares");
  else if (failures > 0)
    lines.add(Verdict::kFail, "correctness", where + ": " + std::to_string(failures) + " of " +
                                                 std::to_string(accepted.size()) +
                                                 " configurations wrong; first: " + first_failure);
  else
    lines.add(Verdict::kPass, "correctness",
              where + ": " + std::to_string(accepted.size()) + " configurations x " +
                  std::to_string(standard_cases().size()) + " cases (prefill, chunked prefill, decode) match the fp64 reference; worst rel_l2 " +
                  sci(worst));
  return correct;
}

// ---- tunables (ABI 1.1) ------------------------------------------------------------------

std::string values_text(const AttnbTunable& t) {
  std::string text;
  for (std::size_t i = 0; i < t.num_values; ++i) text += (i ? "," : "") + std::to_string(t.values[i]);
  return text;
}

// Whether set_tunable refuses `name` = `value` on a fresh op for `p`; "" if it did.
std::string refusal_of_setting(const LoadedPlugin& plugin, const AttnbProblem& p, const std::string& name,
                               int64_t value) {
  const std::unique_ptr<AttentionOp> op = plugin.create(p);
  try {
    op->set_tunable(name, value);
  } catch (const PluginError&) {
    return "";
  }
  return "set_tunable accepted " + name + "=" + std::to_string(value);
}

void check_each_tunable(const LoadedPlugin& plugin, const AttnbProblem& p, uint64_t& seed, Lines& lines) {
  const AttnbDescriptor& d = plugin.descriptor();
  const std::string where = " (" + describe(p) + ")";
  for (std::size_t i = 0; i < d.num_tunables; ++i) {
    const AttnbTunable& t = d.tunables[i];
    std::string failure;
    double worst = 0;
    for (std::size_t v = 0; v < t.num_values && failure.empty(); ++v) {
      failure = run_cases(plugin, p, seed, worst, {{t.name, t.values[v]}});
      if (!failure.empty()) failure = std::string(t.name) + "=" + std::to_string(t.values[v]) + ": " + failure;
    }
    if (failure.empty()) {
      const int64_t unlisted = *std::max_element(t.values, t.values + t.num_values) + 1;
      failure = refusal_of_setting(plugin, p, t.name, unlisted);
    }
    lines.pass_or_fail(failure.empty(), "tunables",
                       failure.empty() ? std::string(t.name) + ": every value (" + values_text(t) +
                                             ") matches the reference, worst rel_l2 " + sci(worst) +
                                             "; an unlisted value is refused" + where
                                       : failure);
  }
  const std::string unknown = refusal_of_setting(plugin, p, "attnbench_check_no_such_tunable", 0);
  lines.pass_or_fail(unknown.empty(), "tunables",
                     unknown.empty() ? "an unknown tunable name is refused" : unknown + " (an unknown name)");
}

void check_tunables(const LoadedPlugin& plugin, const AttnbProblem& p, uint64_t& seed, Lines& lines) {
  if (!plugin.api().set_tunable) {
    lines.add(Verdict::kSkip, "tunables", "ABI " + version(ATTNB_ABI_MAJOR, plugin.abi_minor()) +
                                              " plugin without set_tunable (tunables came with 1.1)");
    return;
  }
  try {
    check_each_tunable(plugin, p, seed, lines);
  } catch (const std::exception& e) {  // create() failed for a problem it had accepted
    lines.add(Verdict::kFail, "tunables", e.what());
  }
}

// ---- the hot path stays off the heap ------------------------------------------------------

void check_hot_path_allocations(const LoadedPlugin& plugin, const AttnbProblem& p, uint64_t& seed, Lines& lines) {
  if (!hot_path_allocations_counted()) {
    lines.add(Verdict::kSkip, "allocations", "this host cannot count a plugin's heap allocations (needs glibc)");
    return;
  }
  // Measured after the correctness runs, so one-time setup (lazy CUDA module loading, a
  // function-local static) is already done: what remains is per call.
  const HotPathAllocations before = hot_path_allocations();
  double worst = 0;
  const std::string failure = run_cases(plugin, p, seed, worst);
  const HotPathAllocations after = hot_path_allocations();
  if (!failure.empty()) {
    lines.add(Verdict::kFail, "allocations", failure);
    return;
  }
  uint64_t counts[3], calls = after.total_calls() - before.total_calls();
  for (int i = 0; i < 3; ++i) counts[i] = after.allocations[i] - before.allocations[i];
  const uint64_t total = counts[0] + counts[1] + counts[2];
  const std::string where = " in " + std::to_string(calls) + " append_kv/prefill/decode calls (" + describe(p) + ")";
  if (total == 0)
    lines.add(Verdict::kPass, "allocations", "no heap allocation" + where);
  else
    lines.add(Verdict::kFail, "allocations",
              std::to_string(total) + " heap allocations" + where + ": append_kv " + std::to_string(counts[0]) +
                  ", prefill " + std::to_string(counts[1]) + ", decode " + std::to_string(counts[2]) +
                  " (the hot path must use the host's buffers and workspace_bytes())");
}

// ---- decode traffic -----------------------------------------------------------------------

void check_traffic(const LoadedPlugin& plugin, const AttnbProblem& p, Lines& lines) {
  const int64_t kv_len = 128;
  try {
    const AttnbTraffic t = plugin.decode_traffic(p, kv_len);
    const bool sane = t.kv_bytes_per_token > 0 && t.kv_bytes_read > 0 && t.other_bytes_read >= 0 &&
                      t.bytes_written > 0 && t.flops > 0;
    lines.pass_or_fail(sane, "traffic",
                       describe(p) + ": " + count(t.kv_bytes_per_token) + " B/token stored; one decode step at kv_len " +
                           std::to_string(kv_len) + " reads " + count(t.kv_bytes_read) + " B of cache, " +
                           count(t.flops) + " flop" + (sane ? "" : " (every figure must be positive)"));
  } catch (const std::exception& e) {
    lines.add(Verdict::kFail, "traffic", e.what());
  }
}

// ---- the whole suite ----------------------------------------------------------------------

// Opens `file` as a plugin library, or says why it is not one.
boost::dll::shared_library open_plugin_library(const std::filesystem::path& file) {
  std::error_code fs_error;
  if (!std::filesystem::exists(file, fs_error))
    throw NotAPlugin(file.string() + ": no such file (expected a plugin .so)");
  if (!std::filesystem::is_regular_file(file, fs_error))
    throw NotAPlugin(file.string() + ": not a regular file (expected a plugin .so)");
  boost::dll::shared_library library;
  boost::dll::fs::error_code ec;
  library.load(file, boost::dll::load_mode::rtld_lazy | boost::dll::load_mode::rtld_local, ec);
  if (ec) throw NotAPlugin(file.string() + ": not a loadable shared library (" + ec.message() + ")");
  if (!library.has(ATTNB_ENTRY_SYMBOL))
    throw NotAPlugin(file.string() + ": no entry symbol " ATTNB_ENTRY_SYMBOL " (not an attnbench plugin?)");
  return library;
}

std::string why_device_skipped(AttnbDevice device) {
  if (device == ATTNB_DEVICE_CUDA && !detect_device().has_cuda)
    return "no GPU here (" + detect_device().why_no_cuda + ")";
  return "not selected (--device)";
}

}  // namespace

bool check_conformance(const std::filesystem::path& file, const ConformanceOptions& options,
                       const std::function<void(const CheckLine&)>& report) {
  const boost::dll::shared_library library = open_plugin_library(file);
  Lines lines(report);
  check_other_hosts(&library.get<NegotiateFn>(ATTNB_ENTRY_SYMBOL), lines);

  // This host's own negotiation, the function table and the descriptor, as every command
  // loads a plugin (last, so the plugin keeps this host's info from now on).
  std::shared_ptr<LoadedPlugin> plugin;
  try {
    plugin = LoadedPlugin::load(file);
  } catch (const std::exception& e) {
    lines.add(Verdict::kFail, "load", e.what());
    lines.add(Verdict::kSkip, "the rest", "nothing more can be checked on a plugin the host refuses");
    return false;
  }
  lines.add(Verdict::kPass, "negotiation",
            "this host (ABI " + version(ATTNB_ABI_MAJOR, 0) + "-" + version(ATTNB_ABI_MAJOR, ATTNB_ABI_MINOR) +
                ") gets ABI " + version(ATTNB_ABI_MAJOR, plugin->abi_minor()) + " and a complete function table");
  const std::string doubt = descriptor_doubts(*plugin);
  lines.pass_or_fail(doubt.empty(), "descriptor", doubt.empty() ? descriptor_summary(*plugin) : doubt);

  check_refusals(*plugin, options.page_size, lines);

  uint64_t seed = options.seed;
  for (AttnbDevice device : claimed_devices(plugin->descriptor())) {
    if (std::find(options.devices.begin(), options.devices.end(), device) == options.devices.end()) {
      lines.add(Verdict::kSkip, device_name(device), "everything on " + std::string(device_name(device)) + ": " +
                                                         why_device_skipped(device));
      continue;
    }
    std::optional<AttnbProblem> sample;  // the first configuration that runs on this device
    for (int32_t dtype = ATTNB_DTYPE_F32; dtype <= ATTNB_DTYPE_BF16; ++dtype) {
      if (!(dtypes_on(plugin->descriptor(), device) & ATTNB_BIT(dtype))) continue;
      const std::vector<AttnbProblem> correct = check_correctness(*plugin, device, dtype, options, seed, lines);
      if (!sample && !correct.empty()) sample = correct.front();
    }
    if (!sample) {
      lines.add(Verdict::kSkip, "the rest", std::string("traffic, tunables and allocations on ") +
                                                device_name(device) + ": no configuration ran correctly");
      continue;
    }
    check_traffic(*plugin, *sample, lines);
    check_tunables(*plugin, *sample, seed, lines);
    check_hot_path_allocations(*plugin, *sample, seed, lines);
  }
  return !lines.failed();
}

}  // namespace attnbench
