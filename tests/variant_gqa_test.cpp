// gqa and mqa against the fp64 reference: a Llama-3-8B-like shape (32 query heads over 8 KV
// heads), the MHA (group 1) and MQA (one KV head) corners, group sizes that are not powers
// of two, the largest group one CUDA block serves, and a long-context decode (which the CUDA
// kernel splits across blocks and merges). Each runs on the CPU and, with a GPU, on CUDA.
#include "test_support.hpp"

#include <attnbench/core/validation.hpp>
#include <attnbench/numeric.hpp>

#include <random>

using namespace attnbench;

namespace {

// A prompt, a ragged batch with a chunked prefill, and a continuous-batching decode step.
const std::vector<ValidationCase> kSmallCases = {
    {"prefill prompt", false, {40}, {40}},
    {"prefill ragged + chunked", false, {9, 33, 20}, {9, 5, 1}},
    {"decode ragged", true, {1, 17, 40}, {1, 1, 1}},
};

class GroupedVariants : public testing::TestWithParam<AttnbDevice> {
 protected:
  void SetUp() override {
    if (GetParam() == ATTNB_DEVICE_CUDA) ATTNB_SKIP_WITHOUT_GPU();
  }

  // Runs every case for each dtype `plugin` supports on this device, causal, no window.
  void expect_reference(const std::string& name, int32_t q_heads, int32_t kv_heads, int32_t head_dim,
                        const std::vector<ValidationCase>& cases) {
    const auto plugin = test::plugin(name);
    ASSERT_NE(plugin, nullptr);
    const AttnbDescriptor& d = plugin->descriptor();
    const uint32_t dtypes = GetParam() == ATTNB_DEVICE_CUDA ? d.cuda_dtypes : d.cpu_dtypes;
    uint64_t seed = std::random_device{}();
    for (int32_t dtype = ATTNB_DTYPE_F32; dtype <= ATTNB_DTYPE_BF16; ++dtype) {
      if (!(dtypes & ATTNB_BIT(dtype))) continue;
      const AttnbProblem p = make_problem(GetParam(), dtype, q_heads, kv_heads, head_dim, true, 0, 1, 1, 1);
      ASSERT_EQ(plugin->why_not(p), "") << name << " " << q_heads << "/" << kv_heads;
      for (const ValidationCase& c : cases) {
        const CaseOutcome out = run_case(*plugin, p, c, ++seed);
        EXPECT_TRUE(out.passed()) << name << " " << q_heads << "/" << kv_heads << " D " << head_dim
                                  << " " << dtype_name(dtype) << " " << c.name << ": " << out.error
                                  << " max_abs " << out.comparison.max_abs_error << " seed " << seed;
      }
    }
  }
};

TEST_P(GroupedVariants, Llama3ShapeThirtyTwoQueryHeadsOverEightKvHeads) {
  expect_reference("gqa", 32, 8, 128, kSmallCases);
}

TEST_P(GroupedVariants, MhaCornerGroupOfOne) {
  for (int32_t head_dim : {64, 128}) expect_reference("gqa", 8, 8, head_dim, kSmallCases);
}

TEST_P(GroupedVariants, MqaCornerOneKvHead) {
  for (int32_t head_dim : {64, 128}) {
    expect_reference("gqa", 8, 1, head_dim, kSmallCases);
    expect_reference("mqa", 8, 1, head_dim, kSmallCases);
    expect_reference("mqa", 32, 1, head_dim, kSmallCases);
  }
}

// Groups of 3 and 5 leave rows of the kernel's 8-row slices empty; 64 fills a whole block.
TEST_P(GroupedVariants, GroupsThatAreNotPowersOfTwoAndTheLargest) {
  expect_reference("gqa", 6, 2, 64, kSmallCases);
  expect_reference("gqa", 10, 2, 128, kSmallCases);
  expect_reference("mqa", 64, 1, 64, kSmallCases);
}

// Long enough that the CUDA decode splits each sequence over several blocks (and leaves
// some of the short sequence's splits empty); the CPU path must agree all the same.
TEST_P(GroupedVariants, LongContextDecode) {
  const std::vector<ValidationCase> cases = {{"decode long ragged", true, {1000, 333, 2}, {1, 1, 1}}};
  expect_reference("gqa", 8, 2, 128, cases);
  expect_reference("mqa", 16, 1, 64, cases);
}

INSTANTIATE_TEST_SUITE_P(Devices, GroupedVariants, testing::Values(ATTNB_DEVICE_CPU, ATTNB_DEVICE_CUDA),
                         [](const testing::TestParamInfo<AttnbDevice>& info) {
                           return std::string(device_name(info.param));
                         });

}  // namespace
