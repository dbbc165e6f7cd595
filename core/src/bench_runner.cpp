#include <attnbench/core/bench_runner.hpp>

#include <attnbench/core/bench_workload.hpp>
#include <attnbench/core/buffer.hpp>
#include <attnbench/core/ceilings.hpp>
#include <attnbench/core/cuda_check.hpp>
#include <attnbench/core/device.hpp>
#include <attnbench/core/metrics.hpp>
#include <attnbench/core/random_source.hpp>
#include <attnbench/core/result_schema.hpp>
#include <attnbench/problem_checks.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <unistd.h>

namespace attnbench {

std::size_t device_bytes_in_use(AttnbDevice device) {
#ifdef ATTNB_WITH_CUDA
  if (device == ATTNB_DEVICE_CUDA) {
    std::size_t free = 0, total = 0;
    ATTNB_CUDA_CHECK(cudaMemGetInfo(&free, &total));
    return total - free;
  }
#endif
  (void)device;
  std::ifstream statm("/proc/self/statm");
  std::size_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<std::size_t>(sysconf(_SC_PAGE_SIZE));
}

namespace {

// The kernel keeps the peak resident set (VmHWM); writing 5 to clear_refs restarts it.
void reset_resident_peak() { std::ofstream("/proc/self/clear_refs") << "5"; }

std::size_t resident_peak() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;  // kB
  return 0;
}

}  // namespace

namespace {

RowBuilder base_row(const LoadedPlugin& plugin, const BenchCase& c, const Provenance& provenance) {
  RowBuilder row(bench_schema());
  row.set_provenance(provenance, &plugin, c.device);
  for (const auto& [name, value] : case_columns(c)) row.set(name, value);
  return row;
}

// Bytes, FLOPs and tokens of one sample, and the cache bytes the last step reads.
struct SampleWork {
  double bytes = 0, flops = 0, tokens = 0, kv_bytes_read = NAN;
};

SampleWork work_of(const LoadedPlugin& plugin, const BenchCase& c, const AttnbProblem& p) {
  SampleWork w;
  auto add_step = [&](int64_t kv_len) {
    const StepTraffic s = decode_step_traffic(plugin.decode_traffic(p, kv_len), c.batch);
    w.bytes += s.bytes();
    w.flops += s.flops;
    w.kv_bytes_read = s.kv_bytes_read;
  };
  if (c.phase == Phase::decode) {
    add_step(c.context);
    w.tokens = c.batch;
    return w;
  }
  const double kv_per_token = plugin.decode_traffic(p, c.context).kv_bytes_per_token;
  w.bytes = prefill_bytes(p, kv_per_token, c.batch, c.context);
  w.flops = prefill_flops(c.batch, p.num_q_heads, p.head_dim, c.context, p.causal != 0, p.window);
  w.tokens = static_cast<double>(c.batch) * c.context;
  if (c.phase == Phase::generate) {
    for (int32_t i = 1; i <= c.steps; ++i) add_step(c.context + i);
    w.tokens = static_cast<double>(c.batch) * (1 + c.steps);  // the prompt's token, then one per step
  }
  return w;
}

void set_metrics(RowBuilder& row, const LoadedPlugin& plugin, const BenchCase& c,
                 const AttnbProblem& p, const TimingResult& t, const Ceilings& ceiling) {
  const Summary& total = t.totals;
  row.set_int("samples", static_cast<long long>(t.samples.size()));
  row.set("noise", t.noise);
  row.set("repetition_cv", t.repetition_cv);
  row.set("time_p50_s", total.p50);
  row.set("time_p95_s", total.p95);
  row.set("time_p99_s", total.p99);
  if (c.phase == Phase::decode) {
    row.set("tpot_p50_s", total.p50).set("tpot_p95_s", total.p95).set("tpot_p99_s", total.p99);
  } else {
    std::vector<double> first, steps;
    for (const Sample& s : t.samples) {
      first.push_back(s.front());
      steps.insert(steps.end(), s.begin() + 1, s.end());
    }
    row.set("ttft_s", percentile(first, 50));
    if (!steps.empty()) {
      const Summary tpot = summarize(steps);
      row.set("tpot_p50_s", tpot.p50).set("tpot_p95_s", tpot.p95).set("tpot_p99_s", tpot.p99);
    }
  }
  const SampleWork w = work_of(plugin, c, p);
  const Roofline r = roofline(w.bytes, w.flops, total.p50, ceiling.bytes_per_s, ceiling.flops_per_s);
  row.set("tokens_per_s", tokens_per_second(w.tokens, total.p50));
  row.set("kv_bytes_per_token", plugin.decode_traffic(p, c.max_len()).kv_bytes_per_token);
  row.set("kv_bytes_read", w.kv_bytes_read);
  row.set("bytes", w.bytes).set("flops", w.flops);
  row.set("gbps", r.bytes_per_s / 1e9).set("tflops", r.flops_per_s / 1e12);
  row.set("ceiling_gbps", ceiling.bytes_per_s / 1e9).set("ceiling_tflops", ceiling.flops_per_s / 1e12);
  row.set("bandwidth_pct", 100 * r.bandwidth_fraction).set("compute_pct", 100 * r.compute_fraction);
  row.set("intensity", r.arithmetic_intensity).set("ridge", r.ridge_intensity);
  row.set("bound", r.memory_bound() ? "memory" : "compute");
}

}  // namespace

std::string bench_case_key(const BenchCase& c) {
  RowBuilder row(bench_schema());
  for (const auto& [name, value] : case_columns(c)) row.set(name, value);
  return row_key(bench_schema(), row.values());
}

std::vector<std::string> bench_status_row(const LoadedPlugin& plugin, const BenchCase& c,
                                          const Provenance& provenance, const std::string& status,
                                          const std::string& message) {
  return base_row(plugin, c, provenance).set("status", status).set("message", message).values();
}

std::vector<std::string> run_bench_case(const LoadedPlugin& plugin, const BenchCase& c,
                                        const BenchSettings& settings, const Provenance& provenance,
                                        DeviceTimer& timer) {
  RowBuilder row = base_row(plugin, c, provenance);
  auto status = [&](const char* s, const std::string& message) {
    return row.set("status", s).set("message", message).values();
  };
  const AttnbProblem problem = problem_for(c);
  const std::string why_not = plugin.why_not(problem);
  if (!why_not.empty()) return status(kStatusUnsupported, why_not);
  for (const auto& [name, value] : c.tunables) {
    const AttnbTunable* t = find_tunable(plugin.descriptor(), name);
    if (!t || !tunable_allows(*t, value))
      return status(kStatusUnsupported, "tunable " + name + "=" + std::to_string(value) + " is not one it declares");
  }
  try {
    const std::size_t planned = BenchWorkload::planned_bytes(plugin, c);
    row.set("planned_bytes", static_cast<double>(planned));
    if (settings.memory_budget > 0 && planned > settings.memory_budget)
      return status(kStatusOom, "needs " + std::to_string(planned) + " bytes, over the memory budget of " +
                                    std::to_string(settings.memory_budget));
    if (const std::string shortfall = memory_shortfall(c.device, planned); !shortfall.empty())
      return status(kStatusOom, shortfall);
    // Measured before the case allocates anything, so the ceilings have the device to themselves.
    const Ceilings& ceiling = measured_ceilings(c.device, c.dtype);
    shared_random_source(c.dtype, settings.seed);  // made once per process, not the case's memory
    const AttnbDevice device = c.device;
    const std::size_t accounted_before = MemoryAccounting::current(device);
    const std::size_t driver_before = device_bytes_in_use(device);
    MemoryAccounting::reset_peak(device);
    if (device == ATTNB_DEVICE_CPU) reset_resident_peak();

    BenchWorkload workload(plugin, c, settings.seed);
    const Comparison check = workload.check(tolerance_for(problem.dtype, problem.kv_cache_dtype));
    row.set("max_abs_error", check.max_abs_error).set("rel_l2_error", check.rel_l2_error);
    std::size_t driver_peak = device_bytes_in_use(device);
    if (!check.passed())
      return status(kStatusError, "output differs from the fp64 reference (" +
                                      std::to_string(check.violations) + " of " +
                                      std::to_string(check.elements) + " elements outside tolerance)");
    const TimingResult timing = measure(c.label(), [&] { return workload.run(timer); }, settings.timing);
    driver_peak = std::max(driver_peak, device == ATTNB_DEVICE_CPU ? resident_peak() : device_bytes_in_use(device));
    row.set("peak_bytes", static_cast<double>(MemoryAccounting::peak(device) - accounted_before));
    row.set("driver_bytes", static_cast<double>(driver_peak > driver_before ? driver_peak - driver_before : 0));
    set_metrics(row, plugin, c, problem, timing, ceiling);
    return status(kStatusOk, timing.converged ? "" : "noise above the limit at the maximum time");
  } catch (const OutOfMemory& e) {
    return status(kStatusOom, e.what());
  } catch (const std::bad_alloc&) {
    return status(kStatusOom, "out of host memory");
  } catch (const PluginError& e) {
    return status(e.status == ATTNB_ERR_UNSUPPORTED ? kStatusUnsupported : kStatusError, e.what());
  } catch (const std::exception& e) {
    return status(kStatusError, e.what());
  }
}

}  // namespace attnbench
