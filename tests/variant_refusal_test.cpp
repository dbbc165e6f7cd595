// What mqa, gqa and sliding_window cannot do is refused by can_implement with a reason (and
// create() refuses the same problem, so it never reaches a kernel). The reasons are printed,
// as the harness prints them. None of this needs a GPU: can_implement is pure.
#include "test_support.hpp"

#include <attnbench/core/validation.hpp>

#include <iostream>

using namespace attnbench;

namespace {

// Expects `plugin` to refuse `p` with a reason containing `expected`, in why_not and create.
void expect_refused(const std::string& plugin_name, const AttnbProblem& p, const std::string& expected) {
  const auto plugin = test::plugin(plugin_name);
  ASSERT_NE(plugin, nullptr);
  const std::string why = plugin->why_not(p);
  std::cout << "  " << plugin_name << " refuses " << p.num_q_heads << "/" << p.num_kv_heads
            << " heads, window " << p.window << ", causal " << p.causal << ": " << why << "\n";
  EXPECT_NE(why.find(expected), std::string::npos) << plugin_name << ": '" << why << "'";
  try {
    plugin->create(p);
    ADD_FAILURE() << plugin_name << ": create() accepted a refused problem";
  } catch (const PluginError& e) {
    EXPECT_EQ(e.status, ATTNB_ERR_UNSUPPORTED);
    EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
  }
}

AttnbProblem cpu_problem(int32_t q_heads, int32_t kv_heads, int32_t window, bool causal = true) {
  return make_problem(ATTNB_DEVICE_CPU, ATTNB_DTYPE_F16, q_heads, kv_heads, 64, causal, window, 1, 1, 1);
}

TEST(VariantRefusals, GroupSizeThatDoesNotDivide) {
  for (const char* name : {"gqa", "sliding_window"}) expect_refused(name, cpu_problem(6, 4, 0), "not a multiple");
  expect_refused("mqa", cpu_problem(6, 4, 0), "not a multiple");
}

TEST(VariantRefusals, MqaHasOneKvHead) {
  expect_refused("mqa", cpu_problem(8, 2, 0), "KV heads 2 above the plugin's limit of 1");
}

TEST(VariantRefusals, WindowOnPluginsWithoutOne) {
  expect_refused("gqa", cpu_problem(8, 2, 16), "sliding window not supported");
  expect_refused("mqa", cpu_problem(8, 1, 16), "sliding window not supported");
}

TEST(VariantRefusals, SlidingWindowIsCausal) {
  expect_refused("sliding_window", cpu_problem(8, 2, 16, false), "non-causal attention not supported");
}

TEST(VariantRefusals, CacheMustStoreTheQueryType) {
  AttnbProblem p = cpu_problem(8, 2, 0);
  p.kv_cache_dtype = ATTNB_DTYPE_INT8;
  expect_refused("gqa", p, "KV cache dtype int8 not supported");
  p.kv_cache_dtype = ATTNB_DTYPE_BF16;  // declared, but not with fp16 queries
  expect_refused("gqa", p, "the cache stores the query dtype");
}

// On CUDA: no fp32 kernel, and a group larger than one block serves (or, in a build without
// CUDA, no CUDA at all).
TEST(VariantRefusals, WhatTheCudaKernelCannotDo) {
  AttnbProblem p = make_problem(ATTNB_DEVICE_CUDA, ATTNB_DTYPE_F32, 8, 2, 64, true, 0, 1, 1, 1);
  for (const char* name : {"gqa", "mqa", "sliding_window"}) {
    p.num_kv_heads = std::string(name) == "mqa" ? 1 : 2;
    expect_refused(name, p, "dtype fp32 not supported on cuda");
  }
  p = make_problem(ATTNB_DEVICE_CUDA, ATTNB_DTYPE_F16, 128, 1, 64, true, 0, 1, 1, 1);
  const std::string expected = built_with_cuda() ? "group size 128 above 64" : "built without CUDA";
  for (const char* name : {"gqa", "mqa"}) expect_refused(name, p, expected);
}

// The limits are where they say: the largest CUDA group and every CPU group are accepted.
TEST(VariantRefusals, AcceptsTheEdgesOfWhatItDeclares) {
  EXPECT_EQ(test::plugin("gqa")->why_not(cpu_problem(128, 1, 0)), "");
  EXPECT_EQ(test::plugin("sliding_window")->why_not(cpu_problem(8, 8, 1)), "");
  if (built_with_cuda())
    EXPECT_EQ(test::plugin("mqa")->why_not(make_problem(ATTNB_DEVICE_CUDA, ATTNB_DTYPE_BF16, 64, 1, 128,
                                                        true, 0, 1, 1, 1)),
              "");
}

}  // namespace
