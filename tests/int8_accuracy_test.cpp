// The accuracy study behind `attnbench validate --accuracy`: its measures on hand-computed
// numbers, and int8_kv's claims from results/int8_accuracy.md on a fixed seed (CPU).
#include "test_support.hpp"

#include <attnbench/core/validation.hpp>

#include <cmath>

using namespace attnbench;

namespace {

TEST(AccuracyMeasures, MaxAbsRelativeL2AndWorstRowCosine) {
  // Two rows of two: the first exact, the second turned by 90 degrees.
  const std::vector<double> ref = {3, 4, 1, 0};
  const std::vector<float> got = {3, 4, 0, 1};
  const Accuracy a = accuracy_of(got, ref, 2);
  EXPECT_DOUBLE_EQ(a.max_abs, 1.0);
  EXPECT_DOUBLE_EQ(a.rel_l2, std::sqrt(2.0 / 26.0));
  EXPECT_DOUBLE_EQ(a.worst_cosine, 0.0);
  // Zero rows on both sides agree; a NaN poisons the cosine so it cannot look good.
  EXPECT_DOUBLE_EQ(accuracy_of({0, 0}, {0, 0}, 2).worst_cosine, 1.0);
  EXPECT_TRUE(std::isnan(accuracy_of({NAN, 1}, {1, 1}, 2).worst_cosine));
}

class Int8Accuracy : public testing::Test {
 protected:
  AccuracyOutcome measure(int32_t mode, KvData data, const ValidationCase& c) const {
    const auto plugin = test::plugin("int8_kv");
    EXPECT_NE(plugin, nullptr);
    AttnbProblem p = make_problem(ATTNB_DEVICE_CPU, ATTNB_DTYPE_F32, 8, 2, 128, true, 0, 1, 1, 1);
    p.kv_cache_dtype = ATTNB_DTYPE_INT8;
    p.kv_quant_mode = mode;
    const AccuracyOutcome out = run_accuracy_case(*plugin, p, c, data, 20261123);
    EXPECT_EQ(out.error, "");
    return out;
  }
};

TEST_F(Int8Accuracy, RandomDataIsWithinOnePercentOfAnFp16Cache) {
  for (const ValidationCase& c : accuracy_cases()) {
    const AccuracyOutcome out = measure(ATTNB_KV_QUANT_PER_TOKEN, KvData::kRandom, c);
    EXPECT_LT(out.vs_fp16_cache.rel_l2, 0.01) << c.name;
    EXPECT_GT(out.vs_fp16_cache.worst_cosine, 0.999) << c.name;
    // The fp16 cache itself is much closer to fp64 than int8 is: the comparison is fair.
    EXPECT_GT(out.fp16_cache_vs_fp64.rel_l2, 0.0) << c.name;
    EXPECT_LT(out.fp16_cache_vs_fp64.rel_l2, out.vs_fp64.rel_l2 / 10) << c.name;
  }
}

TEST_F(Int8Accuracy, PerChannelKeyScalesHelpOnOutlierChannels) {
  for (const ValidationCase& c : accuracy_cases()) {
    const double per_token = measure(ATTNB_KV_QUANT_PER_TOKEN, KvData::kOutlierKeyChannels, c).vs_fp64.rel_l2;
    const double per_channel = measure(ATTNB_KV_QUANT_K_PER_CHANNEL, KvData::kOutlierKeyChannels, c).vs_fp64.rel_l2;
    EXPECT_GT(per_token, 0.04) << c.name;  // outliers hurt a per-token scale ...
    EXPECT_LT(per_channel, 0.03) << c.name;  // ... and per-channel K scales recover most of it
  }
}

}  // namespace
