// How a plugin call is timed, the same way for every plugin: Google Benchmark drives the
// registered measurement (warm-up, iteration count, repetitions, its aggregate statistics),
// with manual times taken by the device's own clock (CUDA events on the GPU), the GPU's L2
// flushed before every timed call, and a stopping rule on relative noise bounded by a
// minimum and a maximum time.
#pragma once

#include <attnbench/abi.h>
#include <attnbench/core/buffer.hpp>
#include <attnbench/core/statistics.hpp>

#include <functional>
#include <string>
#include <vector>

namespace attnbench {

// Times one piece of work on a device.
class DeviceTimer {
 public:
  // On CUDA: two events and a flush buffer of twice the L2 (DeviceInfo.l2_bytes).
  explicit DeviceTimer(AttnbDevice device);
  ~DeviceTimer();
  DeviceTimer(const DeviceTimer&) = delete;
  DeviceTimer& operator=(const DeviceTimer&) = delete;

  // Seconds `work` takes. On the GPU the L2 is flushed first (by writing a buffer larger
  // than it), outside the timed interval, so every call starts as cold as it would in a
  // model whose other layers ran in between; work is timed by events on the default stream.
  // On the CPU: the steady clock around work (the CPU's caches are not flushed).
  double time(const std::function<void()>& work);
  AttnbDevice device() const { return device_; }

 private:
  AttnbDevice device_;
  Buffer flush_;
  uint8_t flush_value_ = 0;
  void* start_ = nullptr;  // cudaEvent_t
  void* stop_ = nullptr;
};

struct TimingPolicy {
  double warmup_s = 0.05;    // calls before measuring, not recorded
  double min_time_s = 0.2;   // measured time before the noise rule may stop
  double max_time_s = 1.0;   // wall time after which measuring stops, noisy or not
  double max_noise = 0.03;   // stop once the samples' relative_spread is at or below this
  int repetitions = 5;       // Google Benchmark repetitions per round
};

// One timed sample: the seconds of each timed part (one part for a prefill or a decode
// step; a generate sample is its prefill followed by each decode step).
using Sample = std::vector<double>;

// The noise of a sample set, robust to the odd call a busy machine preempts: 1.4826 times
// the median absolute deviation over the median (stddev / mean for normal samples). Heavy
// tails stay visible in the p95 / p99 columns; they must not stop the noise rule from ever
// being met.
double relative_spread(const std::vector<double>& values);

struct TimingResult {
  std::vector<Sample> samples;  // warm-up excluded
  Summary totals;               // of each sample's total seconds
  double noise = 0;             // relative_spread of the totals
  double repetition_cv = 0;     // Google Benchmark's cv aggregate of the repetition means
  int rounds = 0;
  bool converged = false;       // the noise rule stopped it, not the maximum time
};

// Measures `sample` under `policy` as a Google Benchmark named `name`. An exception thrown
// by `sample` stops the measurement and is rethrown here.
TimingResult measure(const std::string& name, const std::function<Sample()>& sample,
                     const TimingPolicy& policy);

}  // namespace attnbench
