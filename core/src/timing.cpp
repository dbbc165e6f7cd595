#include <attnbench/core/timing.hpp>

#include <attnbench/core/cuda_check.hpp>
#include <attnbench/core/device.hpp>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <mutex>
#include <numeric>
#include <stdexcept>

namespace attnbench {

DeviceTimer::DeviceTimer(AttnbDevice device) : device_(device) {
#ifdef ATTNB_WITH_CUDA
  if (device == ATTNB_DEVICE_CUDA) {
    const std::size_t l2 = detect_device().l2_bytes;
    flush_ = Buffer(ATTNB_DEVICE_CUDA, l2 > 0 ? 2 * l2 : std::size_t{256} << 20);
    cudaEvent_t start, stop;
    ATTNB_CUDA_CHECK(cudaEventCreate(&start));
    ATTNB_CUDA_CHECK(cudaEventCreate(&stop));
    start_ = start;
    stop_ = stop;
  }
#endif
}

DeviceTimer::~DeviceTimer() {
#ifdef ATTNB_WITH_CUDA
  if (start_) cudaEventDestroy(static_cast<cudaEvent_t>(start_));
  if (stop_) cudaEventDestroy(static_cast<cudaEvent_t>(stop_));
#endif
}

double DeviceTimer::time(const std::function<void()>& work) {
#ifdef ATTNB_WITH_CUDA
  if (device_ == ATTNB_DEVICE_CUDA) {
    auto start = static_cast<cudaEvent_t>(start_), stop = static_cast<cudaEvent_t>(stop_);
    // A different byte each time, so no layer of the memory system can skip the write.
    ATTNB_CUDA_CHECK(cudaMemsetAsync(flush_.data(), ++flush_value_, flush_.bytes(), nullptr));
    ATTNB_CUDA_CHECK(cudaEventRecord(start, nullptr));
    work();
    ATTNB_CUDA_CHECK(cudaEventRecord(stop, nullptr));
    ATTNB_CUDA_CHECK(cudaEventSynchronize(stop));
    ATTNB_CUDA_CHECK(cudaGetLastError());
    float ms = 0;
    ATTNB_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    return ms / 1e3;
  }
#endif
  const auto start = std::chrono::steady_clock::now();
  work();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double relative_spread(const std::vector<double>& values) {
  const double median = percentile(values, 50);
  if (!(median > 0)) return 0;
  std::vector<double> deviations;
  for (double v : values) deviations.push_back(std::fabs(v - median));
  return 1.4826 * percentile(deviations, 50) / median;
}

namespace {

double total(const Sample& s) { return std::accumulate(s.begin(), s.end(), 0.0); }

// Keeps what Google Benchmark reports instead of printing it.
class CaptureReporter : public benchmark::BenchmarkReporter {
 public:
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>& runs) override {
    this->runs.insert(this->runs.end(), runs.begin(), runs.end());
  }
  std::vector<Run> runs;
};

void initialize_benchmark_library() {
  static std::once_flag once;
  std::call_once(once, [] {
    static char program[] = "attnbench";
    static char* argv[] = {program, nullptr};
    int argc = 1;
    benchmark::Initialize(&argc, argv);
  });
}

struct Round {
  std::vector<Sample> samples;
  double repetition_cv = 0;
};

// One Google Benchmark run of `repetitions` repetitions. Every call of the benchmark body
// records its samples; the reported repetitions are the last calls (earlier ones are the
// warm-up and the first repetition's search for an iteration count).
Round run_round(const std::string& name, const std::function<Sample()>& sample, int repetitions,
                double min_time_per_repetition, double warmup_s) {
  std::vector<std::vector<Sample>> calls;
  std::exception_ptr failure;
  benchmark::ClearRegisteredBenchmarks();
  auto* b = benchmark::RegisterBenchmark(name.c_str(), [&](benchmark::State& state) {
    calls.emplace_back();
    if (failure) {
      state.SkipWithError("an earlier call failed");
      return;
    }
    for (auto _ : state) {
      try {
        Sample s = sample();
        state.SetIterationTime(total(s));
        calls.back().push_back(std::move(s));
      } catch (...) {
        failure = std::current_exception();
        state.SkipWithError("the timed call failed");
        break;
      }
    }
  });
  b->UseManualTime()->Repetitions(repetitions)->MinTime(min_time_per_repetition);
  if (warmup_s > 0) b->MinWarmUpTime(warmup_s);
  CaptureReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter, ".");
  benchmark::ClearRegisteredBenchmarks();
  if (failure) std::rethrow_exception(failure);

  std::vector<const benchmark::BenchmarkReporter::Run*> reported;
  Round round;
  for (const auto& run : reporter.runs) {
    if (run.error_occurred) throw std::runtime_error(name + ": " + run.error_message);
    if (run.run_type == benchmark::BenchmarkReporter::Run::RT_Iteration) reported.push_back(&run);
    else if (run.aggregate_name == "cv") round.repetition_cv = run.real_accumulated_time;
  }
  if (reported.empty() || reported.size() > calls.size())
    throw std::logic_error(name + ": Google Benchmark reported runs the body never made");
  const std::size_t first = calls.size() - reported.size();
  for (std::size_t i = 0; i < reported.size(); ++i) {
    std::vector<Sample>& call = calls[first + i];
    if (static_cast<int64_t>(call.size()) != reported[i]->iterations)
      throw std::logic_error(name + ": a reported repetition does not match the body's calls");
    round.samples.insert(round.samples.end(), call.begin(), call.end());
  }
  return round;
}

}  // namespace

TimingResult measure(const std::string& name, const std::function<Sample()>& sample,
                     const TimingPolicy& policy) {
  initialize_benchmark_library();
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  // The first call pays for lazy initialization and tells how long one sample takes, so a
  // slow configuration gets fewer repetitions instead of blowing the time limit.
  // Google Benchmark counts only the timed parts; the wall clock also pays for the L2 flush
  // and the synchronization, so the time asked of it is scaled by the pilot's timed share.
  const double pilot = total(sample());
  const double pilot_wall = std::max({elapsed(), pilot, 1e-9});
  const int repetitions = std::clamp(static_cast<int>(policy.max_time_s / (2 * pilot_wall)), 1,
                                     std::max(policy.repetitions, 1));
  const double per_repetition =
      std::max(std::min(policy.min_time_s, policy.max_time_s / 2 * pilot / pilot_wall) / repetitions, 1e-6);

  TimingResult result;
  std::vector<double> totals;
  double measured = 0;
  for (;;) {
    const double warmup = result.rounds == 0 ? std::max(policy.warmup_s - elapsed(), 0.0) : 0.0;
    Round round = run_round(name, sample, repetitions, per_repetition, warmup);
    ++result.rounds;
    result.repetition_cv = round.repetition_cv;
    for (Sample& s : round.samples) {
      totals.push_back(total(s));
      measured += totals.back();
      result.samples.push_back(std::move(s));
    }
    result.totals = summarize(totals);
    result.noise = relative_spread(totals);
    if (measured >= policy.min_time_s && result.noise <= policy.max_noise) {
      result.converged = true;
      break;
    }
    if (elapsed() >= policy.max_time_s) break;
  }
  return result;
}

}  // namespace attnbench
