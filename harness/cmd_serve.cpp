// attnbench serve: a request workload (arrivals, prompt and output lengths) run through the
// continuous-batching scheduler over a pre-allocated paged KV pool, against one or more
// plugins; reports requests/s, output tokens/s, TTFT and TPOT percentiles, peak pages and
// preemptions, one CSV row per plugin and device.
#include "cli.hpp"

#include <attnbench/core/csv_writer.hpp>
#include <attnbench/core/device.hpp>
#include <attnbench/core/kv_pool.hpp>
#include <attnbench/core/metrics.hpp>
#include <attnbench/core/progress.hpp>
#include <attnbench/core/provenance.hpp>
#include <attnbench/core/result_schema.hpp>
#include <attnbench/core/scheduler.hpp>
#include <attnbench/core/statistics.hpp>
#include <attnbench/core/validation.hpp>
#include <attnbench/core/workload.hpp>
#include <attnbench/numeric.hpp>
#include <attnbench/problem_checks.hpp>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <limits>
#include <optional>

namespace attnbench::cli {

namespace {

// Defaults that finish in seconds on a laptop CPU, and a Llama-3-8B-like layer on a GPU.
struct DeviceDefaults {
  int32_t q_heads, kv_heads, head_dim, max_len, max_batch;
  const char* prompt_len;
  const char* output_len;
  const char* budget;
};
DeviceDefaults defaults_for(AttnbDevice device) {
  if (device == ATTNB_DEVICE_CUDA) return {32, 8, 128, 2048, 256, "512", "128", "90%"};
  return {4, 2, 64, 512, 16, "uniform:16:128", "uniform:8:48", "64MiB"};
}

// Everything one run needs, resolved and checked before any work.
struct ServeRun {
  std::shared_ptr<LoadedPlugin> plugin;
  AttnbProblem problem{};
  WorkloadSpec spec;
  SchedulerConfig config;
  KvBudget budget;
  std::size_t page_bytes = 0;
  int64_t pages = 0;
  std::string label;
};

template <typename T>
T value_or(const po::variables_map& vm, const char* name, T fallback) {
  return vm.count(name) ? vm[name].as<T>() : fallback;
}

// The KV head count nearest to `want` that divides q_heads and the plugin allows.
int32_t kv_heads_for(const AttnbDescriptor& d, int32_t q_heads, int32_t want) {
  int32_t best = 0;
  for (int32_t h = 1; h <= q_heads; ++h) {
    const int32_t group = q_heads / h;
    if (q_heads % h || group < d.min_group_size || (d.max_group_size > 0 && group > d.max_group_size) ||
        (d.max_kv_heads > 0 && h > d.max_kv_heads))
      continue;
    if (best == 0 || std::abs(h - want) <= std::abs(best - want)) best = h;
  }
  if (best == 0)
    throw UsageError(std::string("--q-heads: ") + d.name + " allows no KV head count for " +
                     std::to_string(q_heads) + " query heads");
  return best;
}

int32_t head_dim_for(const AttnbDescriptor& d, int32_t want) {
  int32_t best = d.head_dims[0];
  for (std::size_t i = 0; i < d.num_head_dims; ++i)
    if (std::abs(d.head_dims[i] - want) < std::abs(best - want)) best = d.head_dims[i];
  return best;
}

int32_t dtype_for(const AttnbDescriptor& d, AttnbDevice device, const std::optional<std::string>& name) {
  const uint32_t mask = device == ATTNB_DEVICE_CUDA ? d.cuda_dtypes : d.cpu_dtypes;
  if (name) {
    const int32_t t = dtype_from_name(*name);
    if (t < 0 || t == ATTNB_DTYPE_INT8)
      throw UsageError("--dtype: unknown dtype '" + *name + "' (expected fp32, fp16 or bf16)");
    return t;
  }
  for (int32_t t : {ATTNB_DTYPE_F16, ATTNB_DTYPE_BF16, ATTNB_DTYPE_F32})
    if (mask & ATTNB_BIT(t)) return t;
  return ATTNB_DTYPE_F32;
}

LengthDistribution lengths(const po::variables_map& vm, const char* option, const char* fallback) {
  const std::string text = vm.count(option) ? vm[option].as<std::string>() : fallback;
  try {
    return LengthDistribution::parse(text);
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string("--") + option + ": " + e.what());
  }
}

double parse_rate(const std::string& text) {
  if (text == "inf") return std::numeric_limits<double>::infinity();
  std::size_t used = 0;
  double rate = 0;
  try {
    rate = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || !(rate > 0) || !std::isfinite(rate))
    throw UsageError("--rate: expected requests per second > 0, or inf (all at once), got '" + text + "'");
  return rate;
}

ServeRun resolve(const po::variables_map& vm, const std::shared_ptr<LoadedPlugin>& plugin,
                 AttnbDevice device) {
  const AttnbDescriptor& d = plugin->descriptor();
  const DeviceDefaults def = defaults_for(device);
  ServeRun run;
  run.plugin = plugin;
  run.label = plugin->name() + " on " + device_name(device);

  const int32_t q_heads = positive(value_or<int64_t>(vm, "q-heads", def.q_heads), "q-heads");
  const int32_t kv_heads = vm.count("kv-heads") ? positive(vm["kv-heads"].as<int64_t>(), "kv-heads")
                                                : kv_heads_for(d, q_heads, std::min(def.kv_heads, q_heads));
  const int32_t head_dim = vm.count("head-dim") ? positive(vm["head-dim"].as<int64_t>(), "head-dim")
                                                : head_dim_for(d, def.head_dim);
  const int32_t max_len = positive(value_or<int64_t>(vm, "max-len", def.max_len), "max-len");
  const int32_t page_size = positive(vm["page-size"].as<int64_t>(), "page-size");
  const int64_t window = vm["window"].as<int64_t>();
  if (window < 0 || window > max_len) throw UsageError("--window: expected 0 (none) .. --max-len, got " + std::to_string(window));

  run.spec.requests = positive(vm["requests"].as<int64_t>(), "requests");
  run.spec.rate = parse_rate(vm["rate"].as<std::string>());
  run.spec.prompt = lengths(vm, "prompt-len", def.prompt_len);
  run.spec.output = lengths(vm, "output-len", def.output_len);
  run.spec.seed = vm["seed"].as<uint64_t>();
  if (run.spec.prompt.max > max_len)
    throw UsageError("--prompt-len: prompts of up to " + std::to_string(run.spec.prompt.max) +
                     " tokens are longer than --max-len " + std::to_string(max_len));
  const int64_t longest = static_cast<int64_t>(run.spec.prompt.max) + run.spec.output.max - 1;
  if (longest > max_len)
    throw UsageError("--output-len: a request of up to " + std::to_string(run.spec.prompt.max) +
                     " prompt tokens and " + std::to_string(run.spec.output.max) + " output tokens grows to " +
                     std::to_string(longest) + " tokens, more than --max-len " + std::to_string(max_len));

  run.config.max_batch = positive(value_or<int64_t>(vm, "max-batch", def.max_batch), "max-batch");
  run.config.max_prefill_tokens =
      positive(value_or<int64_t>(vm, "max-prefill-tokens", max_len), "max-prefill-tokens");
  if (run.config.max_prefill_tokens < max_len)
    throw UsageError("--max-prefill-tokens: expected at least --max-len (" + std::to_string(max_len) +
                     ") so any sequence can be recomputed, got " + std::to_string(run.config.max_prefill_tokens));
  const std::string verify = vm["verify"].as<std::string>();
  if (verify != "auto" && verify != "on" && verify != "off")
    throw UsageError("--verify: expected auto, on or off, got '" + verify + "'");
  run.config.verify = verify == "on" || (verify == "auto" && device == ATTNB_DEVICE_CPU);

  const int32_t dtype = dtype_for(d, device, vm.count("dtype") ? std::optional(vm["dtype"].as<std::string>()) : std::nullopt);
  run.problem = make_problem(device, dtype, q_heads, kv_heads, head_dim, true, static_cast<int32_t>(window),
                             run.config.max_batch, std::max(run.config.max_batch, run.config.max_prefill_tokens),
                             max_len, page_size);
  run.problem.kv_cache_dtype = kv_cache_dtype_for(d, dtype);
  const std::string why = plugin->why_not(run.problem);
  if (!why.empty()) throw UsageError(run.label + " cannot run this shape: " + why);

  // The pool: its budget must hold the longest request alone, or nothing could ever finish.
  run.page_bytes = plugin->kv_page_bytes(run.problem);
  try {
    run.budget = KvBudget::parse(vm.count("memory-budget") ? vm["memory-budget"].as<std::string>() : def.budget);
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string("--memory-budget: ") + e.what());
  }
  // A share of free memory leaves out what the scheduler allocates beside the pool: the
  // workspace, and Q/K/V/O for a prefill and a decode call (twice over, for the host copies).
  const std::size_t io_rows = static_cast<std::size_t>(run.config.max_batch) + run.config.max_prefill_tokens;
  const std::size_t io_bytes = io_rows * 4 * (static_cast<std::size_t>(q_heads) + kv_heads) * head_dim * dtype_size(dtype);
  run.pages = pages_in_budget(run.budget.resolve(device, plugin->workspace_bytes(run.problem) + io_bytes), run.page_bytes);
  const int64_t needed = pages_for(longest, page_size);
  if (run.pages < needed)
    throw UsageError("--memory-budget: " + run.budget.text() + " holds " + std::to_string(run.pages) +
                     " pages of " + std::to_string(run.page_bytes) + " bytes (" + run.label + ", " +
                     std::to_string(page_size) + " tokens a page), but one request of up to " +
                     std::to_string(longest) + " tokens needs " + std::to_string(needed));
  // Asked before the pool is allocated: an allocation the kernel overcommits fails only when touched.
  const std::size_t planned = static_cast<std::size_t>(run.pages) * run.page_bytes +
                              plugin->workspace_bytes(run.problem) + io_bytes;
  if (const std::string shortfall = memory_shortfall(device, planned); !shortfall.empty())
    throw UsageError("--memory-budget: " + run.budget.text() + " for " + run.label + " " + shortfall);
  return run;
}

double ms(double seconds) { return seconds * 1e3; }

// Runs one plugin on one device; returns whether every checked output matched.
bool serve_one(const ServeRun& run, const Provenance& provenance, CsvWriter* csv) {
  const AttnbProblem& p = run.problem;
  const AttnbDevice device = static_cast<AttnbDevice>(p.device);
  KvPool pool(device, p.page_size, run.page_bytes, run.pages, run.config.max_batch, p.max_kv_len);
  const SyntheticTokens tokens(p.dtype, p.num_q_heads, p.num_kv_heads, p.head_dim, run.spec.seed);
  Scheduler scheduler(*run.plugin, p, pool, tokens, run.config);
  const std::vector<Request> workload = make_workload(run.spec);
  std::printf("serve: %s, %s (cache %s), %d/%d heads, head dim %d, page %d tokens: pool %lld pages "
              "(%.1f MiB, %lld tokens), %d requests, rate %s, prompt %s, output %s%s\n",
              run.label.c_str(), dtype_name(p.dtype), dtype_name(p.kv_cache_dtype), p.num_q_heads,
              p.num_kv_heads, p.head_dim, p.page_size, static_cast<long long>(pool.num_pages()),
              static_cast<double>(pool.num_pages()) * run.page_bytes / (1024.0 * 1024),
              static_cast<long long>(pool.num_pages()) * p.page_size, run.spec.requests,
              std::isfinite(run.spec.rate) ? std::to_string(run.spec.rate).c_str() : "inf",
              run.spec.prompt.text().c_str(), run.spec.output.text().c_str(),
              run.config.verify ? ", every output checked against the fp64 reference" : "");
  std::fflush(stdout);

  Progress progress(workload.size(), "serve " + run.label);
  const ServeStats stats = scheduler.run(workload, [&](const RequestTiming& t) {
    char what[96];
    std::snprintf(what, sizeof what, "request %d: ttft %.2f ms, %d tokens", t.id, ms(t.ttft_s()), t.output_len);
    progress.step(what);
  });
  progress.finish();

  std::vector<double> ttft, tpot;
  double output_tokens = 0;
  for (const RequestTiming& t : stats.requests) {
    ttft.push_back(ms(t.ttft_s()));
    if (t.output_len > 1) tpot.push_back(ms(t.tpot_s()));
    output_tokens += t.output_len;
  }
  const Summary ttft_ms = summarize(ttft), tpot_ms = summarize(tpot);
  const double duration = stats.end_s - workload.front().arrival_s;
  const double peak_pct = 100.0 * static_cast<double>(pool.peak_pages_in_use()) / static_cast<double>(pool.num_pages());
  std::printf("  %.1f requests/s, %.1f output tokens/s over %.3f s of engine time (%lld steps)\n"
              "  TTFT ms p50 %.3f  p95 %.3f  p99 %.3f   TPOT ms p50 %.3f  p95 %.3f  p99 %.3f\n"
              "  peak pages %lld of %lld (%.1f%%), preemptions %lld\n",
              tokens_per_second(static_cast<double>(stats.requests.size()), duration),
              tokens_per_second(output_tokens, duration), duration, static_cast<long long>(stats.steps),
              ttft_ms.p50, ttft_ms.p95, ttft_ms.p99, tpot_ms.p50, tpot_ms.p95, tpot_ms.p99,
              static_cast<long long>(pool.peak_pages_in_use()), static_cast<long long>(pool.num_pages()),
              peak_pct, static_cast<long long>(stats.preemptions));
  const VerifyReport& v = stats.verify;
  if (run.config.verify)
    std::printf("  verified %lld output rows against the fp64 reference: %lld failed, max abs error %.3e%s%s\n",
                static_cast<long long>(v.rows_checked), static_cast<long long>(v.rows_failed),
                v.max_abs_error, v.passed() ? "" : "; first: ", v.first_failure.c_str());
  std::fflush(stdout);

  if (csv) {
    RowBuilder row(serve_schema());
    row.set_provenance(provenance, run.plugin.get(), device)
        .set("backend", device_name(device))
        .set("dtype", dtype_name(p.dtype))
        .set("kv_dtype", dtype_name(p.kv_cache_dtype))
        .set_int("q_heads", p.num_q_heads)
        .set_int("kv_heads", p.num_kv_heads)
        .set_int("head_dim", p.head_dim)
        .set_int("window", p.window)
        .set_int("page_size", p.page_size)
        .set_int("page_bytes", static_cast<long long>(run.page_bytes))
        .set("kv_bytes_per_token", run.plugin->decode_traffic(p, 1).kv_bytes_per_token)
        .set_int("pool_pages", pool.num_pages())
        .set_int("pool_tokens", pool.num_pages() * p.page_size)
        .set_int("pool_bytes", static_cast<long long>(pool.num_pages() * run.page_bytes))
        .set_int("max_batch", run.config.max_batch)
        .set_int("max_prefill_tokens", run.config.max_prefill_tokens)
        .set_int("max_len", p.max_kv_len)
        .set_int("requests", run.spec.requests)
        .set("rate", std::isfinite(run.spec.rate) ? std::to_string(run.spec.rate) : "inf")
        .set("prompt_len", run.spec.prompt.text())
        .set("output_len", run.spec.output.text())
        .set("seed", std::to_string(run.spec.seed))
        .set("output_tokens", output_tokens)
        .set("duration_s", duration)
        .set("requests_per_s", tokens_per_second(static_cast<double>(stats.requests.size()), duration))
        .set("output_tokens_per_s", tokens_per_second(output_tokens, duration))
        .set("ttft_p50_ms", ttft_ms.p50)
        .set("ttft_p95_ms", ttft_ms.p95)
        .set("ttft_p99_ms", ttft_ms.p99)
        .set("tpot_p50_ms", tpot_ms.p50)
        .set("tpot_p95_ms", tpot_ms.p95)
        .set("tpot_p99_ms", tpot_ms.p99)
        .set_int("peak_pages", pool.peak_pages_in_use())
        .set("peak_pages_pct", peak_pct)
        .set_int("preemptions", stats.preemptions)
        .set_int("steps", stats.steps);
    if (run.config.verify)
      row.set_int("verified_rows", v.rows_checked).set_int("failed_rows", v.rows_failed).set("max_abs_error", v.max_abs_error);
    csv->write_row(row.values());
  }
  return v.passed();
}

}  // namespace

int run_serve(const std::vector<std::string>& args) {
  po::options_description options("serve options");
  add_plugin_options(options);
  options.add_options()
      ("plugin", po::value<std::vector<std::string>>()->composing()->value_name("NAME[,NAME]"),
       "the plugins to serve with (required); each gets the same workload")
      ("requests", po::value<int64_t>()->default_value(16)->value_name("N"), "requests in the workload")
      ("rate", po::value<std::string>()->default_value("inf")->value_name("R|inf"),
       "arrivals per second (Poisson), or inf: all at time 0")
      ("prompt-len", po::value<std::string>()->value_name("N|uniform:MIN:MAX"),
       "prompt tokens per request (default: uniform:16:128 on the CPU, 512 on CUDA)")
      ("output-len", po::value<std::string>()->value_name("N|uniform:MIN:MAX"),
       "tokens each request generates (default: uniform:8:48 on the CPU, 128 on CUDA)")
      ("seed", po::value<uint64_t>()->default_value(1)->value_name("N"), "seed of the workload and its tokens")
      ("q-heads", po::value<int64_t>()->value_name("N"), "query heads (default: 4 on the CPU, 32 on CUDA)")
      ("kv-heads", po::value<int64_t>()->value_name("N"),
       "KV heads (default: the count nearest to 2 on the CPU, 8 on CUDA that the plugin allows)")
      ("head-dim", po::value<int64_t>()->value_name("D"),
       "head dimension (default: the plugin's nearest to 64 on the CPU, 128 on CUDA)")
      ("dtype", po::value<std::string>()->value_name("fp16|bf16|fp32"),
       "Q/K/V/O type (default: fp16 where the plugin has it); the cache type is the plugin's")
      ("page-size", po::value<int64_t>()->default_value(16)->value_name("N"), "tokens per KV page")
      ("window", po::value<int64_t>()->default_value(0)->value_name("W"), "sliding window (0: none)")
      ("max-len", po::value<int64_t>()->value_name("N"),
       "the model's longest sequence, prompt + output (default: 512 on the CPU, 2048 on CUDA)")
      ("memory-budget", po::value<std::string>()->value_name("BYTES|P%"),
       "KV pool size: bytes (64MiB, 2GiB) or a share of free device memory (default: 64MiB on "
       "the CPU, 90% on CUDA)")
      ("max-batch", po::value<int64_t>()->value_name("N"),
       "running sequences at once (default: 16 on the CPU, 256 on CUDA)")
      ("max-prefill-tokens", po::value<int64_t>()->value_name("N"),
       "prompt tokens one step may prefill (default: --max-len)")
      ("verify", po::value<std::string>()->default_value("auto")->value_name("auto|on|off"),
       "check every output row against the fp64 reference (auto: on the CPU only)")
      ("out", po::value<std::string>()->value_name("FILE.csv"), "append one result row per plugin and device");
  po::variables_map vm;
  const char* usage =
      "--plugin NAME [options]\n\n"
      "Runs a request workload through continuous batching over a pre-allocated paged KV pool:\n"
      "each step preempts the youngest sequences if the pool is full, admits waiting requests\n"
      "(prefill), decodes every running sequence in one ragged batch and retires finished ones.\n"
      "There is no model: each request's Q/K/V are synthetic, a function of its seed and position.\n"
      "Times are on the engine clock: one attention layer's steps (scheduling, page tables,\n"
      "append, prefill, decode), input synthesis and output checks excluded.";
  if (!parse("serve", usage, options, args, vm)) return kSuccess;
  if (!vm.count("plugin")) throw UsageError("--plugin: required (see attnbench list)");

  // Everything is checked for every plugin and device before the first request runs.
  const std::vector<AttnbDevice> devices = selected_devices(vm);
  const PluginRegistry registry = load_plugins(vm);
  std::vector<ServeRun> runs;
  for (const auto& plugin : selected_plugins(registry, vm)) {
    const std::string& name = plugin->name();
    for (AttnbDevice device : devices) {
      if (plugin->descriptor().devices & ATTNB_BIT(device))
        runs.push_back(resolve(vm, plugin, device));
      else if (vm["device"].as<std::string>() != "all")
        throw UsageError("--device: " + name + " does not run on " + device_name(device));
    }
  }
  std::unique_ptr<CsvWriter> csv;
  if (vm.count("out")) {
    try {
      csv = std::make_unique<CsvWriter>(vm["out"].as<std::string>(), serve_schema().columns);
    } catch (const std::runtime_error& e) {
      throw UsageError(std::string("--out: ") + e.what());
    }
  }
  std::vector<std::string> command{"attnbench", "serve"};
  command.insert(command.end(), args.begin(), args.end());
  const Provenance provenance = make_provenance(command);

  bool all_passed = true;
  for (const ServeRun& run : runs) all_passed &= serve_one(run, provenance, csv.get());
  return all_passed ? kSuccess : kFailure;
}

}  // namespace attnbench::cli
