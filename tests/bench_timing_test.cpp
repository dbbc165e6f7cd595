// The timing engine (Google Benchmark driving manual times) and the measured ceilings.
#include <attnbench/core/ceilings.hpp>
#include <attnbench/core/random_source.hpp>
#include <attnbench/core/timing.hpp>
#include <attnbench/numeric.hpp>

#include "test_support.hpp"

#include <chrono>
#include <stdexcept>
#include <thread>

using namespace attnbench;

namespace {
void spin_for(double seconds) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
  }
}
}  // namespace

TEST(Timing, MeasuresOnlyTheTimedPartAndExcludesWarmUp) {
  DeviceTimer timer(ATTNB_DEVICE_CPU);
  int calls = 0;
  TimingPolicy policy;
  policy.warmup_s = 0.01;
  policy.min_time_s = 0.02;
  policy.max_time_s = 0.5;
  const TimingResult r = measure("spin", [&] {
    ++calls;
    spin_for(2e-4);  // untimed setup: must not show in the samples
    return Sample{timer.time([] { spin_for(1e-3); })};
  }, policy);
  ASSERT_GT(r.samples.size(), 5u);
  EXPECT_LT(r.samples.size(), static_cast<std::size_t>(calls));  // pilot and warm-up dropped
  EXPECT_NEAR(r.totals.p50, 1e-3, 2e-4);
  EXPECT_GE(r.totals.min, 1e-3);
  EXPECT_GE(r.rounds, 1);
}

TEST(Timing, SamplesKeepTheirParts) {
  TimingPolicy policy;
  policy.warmup_s = 0;
  policy.min_time_s = 0.001;
  policy.max_time_s = 0.2;
  const TimingResult r = measure("parts", [] { return Sample{1e-4, 2e-4, 3e-4}; }, policy);
  ASSERT_FALSE(r.samples.empty());
  EXPECT_EQ(r.samples.front().size(), 3u);
  EXPECT_DOUBLE_EQ(r.totals.p50, 6e-4);
  EXPECT_TRUE(r.converged);  // no noise at all: the noise rule stops it
}

TEST(Timing, AFailingCallIsRethrown) {
  int calls = 0;
  EXPECT_THROW(measure("fails", [&]() -> Sample {
                 if (++calls > 3) throw std::runtime_error("planted");
                 return Sample{1e-6};
               }, TimingPolicy{}),
               std::runtime_error);
}

TEST(RandomSource, TilesTheSameValuesItReports) {
  RandomSource source(ATTNB_DTYPE_F16, 9);
  const std::size_t count = RandomSource::kPeriod + 1000;
  Buffer b(ATTNB_DEVICE_CPU, count * 2);
  source.fill(b, count, 777);
  const auto* h = static_cast<const uint16_t*>(b.data());
  bool any_nonzero = false;
  for (std::size_t i : {std::size_t{0}, std::size_t{5}, RandomSource::kPeriod - 777, count - 1}) {
    EXPECT_EQ(half_to_float(h[i]), source.value(i, 777)) << i;
    any_nonzero |= source.value(i, 777) != 0;
  }
  EXPECT_TRUE(any_nonzero);
}

TEST(Ceilings, CpuCeilingsAreMeasuredAndPlausible) {
  const Ceilings& c = measured_ceilings(ATTNB_DEVICE_CPU, ATTNB_DTYPE_F16);
  EXPECT_GT(c.bytes_per_s, 1e8);    // any machine copies faster than 100 MB/s
  EXPECT_LT(c.bytes_per_s, 1e13);
  EXPECT_GT(c.flops_per_s, 1e7);
  EXPECT_LT(c.flops_per_s, 1e13);
  EXPECT_EQ(&c, &measured_ceilings(ATTNB_DEVICE_CPU, ATTNB_DTYPE_F32));  // measured once
}

TEST(Ceilings, GpuCeilingsAreMeasured) {
  ATTNB_SKIP_WITHOUT_GPU();
  const Ceilings& c = measured_ceilings(ATTNB_DEVICE_CUDA, ATTNB_DTYPE_F16);
  EXPECT_GT(c.bytes_per_s, 1e11);
  EXPECT_GT(c.flops_per_s, 1e13);
}
