// The serving workload: length distributions, seeded arrivals (all at once or Poisson), and
// the synthetic tokens that make a recomputed sequence see the same inputs.
#include <attnbench/core/workload.hpp>
#include <attnbench/numeric.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

using namespace attnbench;

TEST(LengthDistribution, ParsesFixedAndUniform) {
  const LengthDistribution fixed = LengthDistribution::parse("128");
  EXPECT_EQ(fixed.min, 128);
  EXPECT_EQ(fixed.max, 128);
  EXPECT_EQ(fixed.text(), "128");
  const LengthDistribution uniform = LengthDistribution::parse("uniform:64:256");
  EXPECT_EQ(uniform.min, 64);
  EXPECT_EQ(uniform.max, 256);
  EXPECT_EQ(uniform.text(), "uniform:64:256");
  for (const char* bad : {"", "0", "-4", "12x", "uniform:5", "uniform:9:3", "uniform:0:4", "normal:1:2", "1e3"})
    EXPECT_THROW(LengthDistribution::parse(bad), std::invalid_argument) << bad;
}

TEST(Workload, SeededLengthsInRangeAllAtOnce) {
  WorkloadSpec spec;
  spec.requests = 500;
  spec.rate = INFINITY;
  spec.prompt = {10, 20};
  spec.output = {1, 3};
  const std::vector<Request> a = make_workload(spec), b = make_workload(spec);
  ASSERT_EQ(a.size(), 500u);
  std::vector<int> seen_prompt(21, 0);
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].id, static_cast<int32_t>(i));
    EXPECT_EQ(a[i].arrival_s, 0.0);
    EXPECT_EQ(a[i].prompt_len, b[i].prompt_len);
    EXPECT_EQ(a[i].seed, b[i].seed);
    ASSERT_GE(a[i].prompt_len, 10);
    ASSERT_LE(a[i].prompt_len, 20);
    ASSERT_GE(a[i].output_len, 1);
    ASSERT_LE(a[i].output_len, 3);
    ++seen_prompt[a[i].prompt_len];
    if (i > 0) EXPECT_NE(a[i].seed, a[i - 1].seed);
  }
  for (int len = 10; len <= 20; ++len) EXPECT_GT(seen_prompt[len], 0) << len;  // both ends drawn
  spec.seed = 2;
  EXPECT_NE(make_workload(spec)[0].seed, a[0].seed);
}

TEST(Workload, PoissonArrivalsHaveTheRequestedRate) {
  WorkloadSpec spec;
  spec.requests = 4000;
  spec.rate = 50;
  const std::vector<Request> w = make_workload(spec);
  EXPECT_EQ(w.front().arrival_s, 0.0);
  for (std::size_t i = 1; i < w.size(); ++i) ASSERT_GE(w[i].arrival_s, w[i - 1].arrival_s);
  // Mean gap 1/rate: 3999 exponential gaps have a relative standard error of 1/sqrt(3999).
  const double mean_gap = w.back().arrival_s / static_cast<double>(w.size() - 1);
  EXPECT_NEAR(mean_gap, 1.0 / 50, 4.0 / 50 / std::sqrt(3999.0));
}

TEST(SyntheticTokens, RowsAreAFunctionOfSeedAndPosition) {
  const SyntheticTokens tokens(ATTNB_DTYPE_F16, 4, 2, 8, 3);
  EXPECT_EQ(tokens.row_elements(SyntheticTokens::kQ), 32u);
  EXPECT_EQ(tokens.row_elements(SyntheticTokens::kK), 16u);
  // Positions 5..9 in one go equal positions 5..6 then 7..9: what a recompute relies on.
  std::vector<double> whole, parts;
  tokens.append_values(SyntheticTokens::kK, 42, 5, 5, whole);
  tokens.append_values(SyntheticTokens::kK, 42, 5, 2, parts);
  tokens.append_values(SyntheticTokens::kK, 42, 7, 3, parts);
  EXPECT_EQ(whole, parts);
  std::vector<double> other_seed, v_rows;
  tokens.append_values(SyntheticTokens::kK, 43, 5, 5, other_seed);
  tokens.append_values(SyntheticTokens::kV, 42, 5, 5, v_rows);
  EXPECT_NE(whole, other_seed);
  EXPECT_NE(whole, v_rows);
  EXPECT_NE(std::vector<double>(whole.begin(), whole.begin() + 16), std::vector<double>(whole.begin() + 16, whole.begin() + 32));
  EXPECT_TRUE(std::any_of(whole.begin(), whole.end(), [](double x) { return x != 0; }));

  // fill writes the same values, in the dtype, at the row asked for.
  Buffer buffer(ATTNB_DEVICE_CPU, 7 * 16 * 2);
  buffer.fill_bytes(0);
  tokens.fill(SyntheticTokens::kK, 42, 5, 5, buffer, 2);
  const auto* halves = static_cast<const uint16_t*>(buffer.data());
  for (std::size_t i = 0; i < whole.size(); ++i)
    ASSERT_EQ(static_cast<double>(half_to_float(halves[2 * 16 + i])), whole[i]) << i;
  for (std::size_t i = 0; i < 2 * 16; ++i) ASSERT_EQ(halves[i], 0) << "wrote before row 2";
}
