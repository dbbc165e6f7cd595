#include <attnbench/core/tune_runner.hpp>

#include <attnbench/core/bench_workload.hpp>
#include <attnbench/core/device.hpp>
#include <attnbench/core/metrics.hpp>
#include <attnbench/core/page_table.hpp>
#include <attnbench/core/result_schema.hpp>

#include <map>

namespace attnbench {

int64_t largest_fitting(int64_t limit, const std::function<bool(int64_t)>& fits) {
  int64_t good = 0, bad = limit + 1;
  for (int64_t n = 1; n <= limit; n *= 2) {
    if (!fits(n)) {
      bad = n;
      break;
    }
    good = n;
  }
  if (good == 0) return 0;
  if (bad == limit + 1 && good < limit) {  // never failed: the limit itself may fit
    if (fits(limit)) return limit;
    bad = limit;
  }
  while (bad - good > 1) {
    const int64_t mid = good + (bad - good) / 2;
    (fits(mid) ? good : bad) = mid;
  }
  return good;
}

namespace {

struct Probe {
  bool fits = false;
  std::string limit;  // why it did not fit: "memory" or "tpot"
  double tpot_p50 = 0, tpot_p95 = 0;  // whole model
  std::size_t planned_model_bytes = 0;
  std::string shortfall;  // one layer's buffers are more than the device has free
};

// The columns that identify a tune row: the case without its phase, batch and steps, and
// the budget and target.
RowBuilder tune_key_row(const BenchCase& c, const TuneSettings& s) {
  RowBuilder row(tune_schema());
  for (const auto& [name, value] : case_columns(c))
    if (name != "phase" && name != "window" && name != "batch" && name != "steps") row.set(name, value);
  row.set("budget_bytes", static_cast<double>(s.budget_bytes)).set("tpot_target_s", s.tpot_target_s);
  return row;
}

}  // namespace

std::string tune_case_key(const BenchCase& c, const TuneSettings& settings) {
  return row_key(tune_schema(), tune_key_row(c, settings).values());
}

std::vector<std::string> run_tune_case(const LoadedPlugin& plugin, const BenchCase& decode_case,
                                       const TuneSettings& settings, const Provenance& provenance,
                                       DeviceTimer& timer) {
  RowBuilder row = tune_key_row(decode_case, settings);
  row.set_provenance(provenance, &plugin, decode_case.device);
  auto status = [&](const char* s, const std::string& message) {
    return row.set("status", s).set("message", message).values();
  };
  BenchCase c = decode_case;
  c.phase = Phase::decode;
  c.steps = 1;
  c.batch = 1;
  const std::string why_not = plugin.why_not(problem_for(c));
  if (!why_not.empty()) return status(kStatusUnsupported, why_not);

  const int32_t layers = c.preset.layers;
  std::map<int64_t, Probe> probes;
  auto fits = [&](int64_t batch) {
    c.batch = static_cast<int32_t>(batch);
    Probe& p = probes[batch];
    const AttnbProblem problem = problem_for(c);
    const std::size_t pool = static_cast<std::size_t>(batch) * pages_for(c.context, c.page_size) *
                             plugin.kv_page_bytes(problem);
    // One layer's buffers are allocated and timed; the other layers' caches only counted.
    const std::size_t layer_bytes = BenchWorkload::planned_bytes(plugin, c);
    p.planned_model_bytes = layer_bytes + (layers - 1) * pool;
    p.limit = "memory";
    if (p.planned_model_bytes > settings.budget_bytes) return false;
    p.shortfall = memory_shortfall(c.device, layer_bytes);
    if (!p.shortfall.empty()) return false;
    try {
      BenchWorkload workload(plugin, c, settings.bench.seed);
      const Comparison check = workload.check(tolerance_for(problem.dtype, problem.kv_cache_dtype));
      if (!check.passed()) throw std::runtime_error("output differs from the fp64 reference at batch " + std::to_string(batch));
      const TimingResult t = measure(c.label(), [&] { return workload.run(timer); }, settings.bench.timing);
      p.tpot_p50 = t.totals.p50 * layers;
      p.tpot_p95 = t.totals.p95 * layers;
    } catch (const std::bad_alloc&) {  // OutOfMemory too: the device said no
      return false;
    }
    p.fits = p.tpot_p95 <= settings.tpot_target_s;
    p.limit = p.fits ? "" : "tpot";
    return p.fits;
  };
  try {
    const int64_t best = largest_fitting(settings.max_batch, fits);
    row.set_int("probes", static_cast<long long>(probes.size()));
    const auto beyond = probes.find(best + 1);
    const std::string limit = best == settings.max_batch ? "max_batch"
                              : beyond != probes.end() ? beyond->second.limit
                                                       : probes.upper_bound(best)->second.limit;
    row.set_int("batch", best).set("limit", limit);
    if (best == 0) {
      if (limit == "tpot") return status(kStatusOk, "one sequence already misses the TPOT target");
      const std::string& shortfall = probes.at(1).shortfall;
      return status(kStatusOk, shortfall.empty() ? "one sequence does not fit the budget"
                                                 : "one sequence does not fit: " + shortfall);
    }
    const Probe& p = probes.at(best);
    c.batch = static_cast<int32_t>(best);
    const double kv_per_token = plugin.decode_traffic(problem_for(c), c.context).kv_bytes_per_token;
    row.set("tpot_p50_s", p.tpot_p50).set("tpot_p95_s", p.tpot_p95);
    row.set("tokens_per_s", tokens_per_second(static_cast<double>(best), p.tpot_p50));
    row.set("kv_cache_bytes", kv_cache_bytes(kv_per_token, static_cast<double>(best) * c.context, layers));
    row.set("planned_bytes", static_cast<double>(p.planned_model_bytes));
    return status(kStatusOk, "");
  } catch (const PluginError& e) {
    return status(e.status == ATTNB_ERR_UNSUPPORTED ? kStatusUnsupported : kStatusError, e.what());
  } catch (const std::exception& e) {
    return status(kStatusError, e.what());
  }
}

}  // namespace attnbench
