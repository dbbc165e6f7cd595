// One bench case end to end on the CPU: the row it makes, the memory it plans and uses, the
// reference check, and the rows for what cannot run (unsupported, oom, a failing plugin).
#include <attnbench/core/bench_runner.hpp>
#include <attnbench/core/bench_workload.hpp>
#include <attnbench/core/result_schema.hpp>

#include "test_support.hpp"

#include <cmath>

using namespace attnbench;

namespace {

BenchCase small_case(const std::string& plugin, Phase phase, int32_t batch, int32_t context) {
  BenchCase c;
  c.plugin = plugin;
  c.device = ATTNB_DEVICE_CPU;
  c.phase = phase;
  c.dtype = c.kv_cache_dtype = ATTNB_DTYPE_F32;
  c.preset = *find_preset("cpu-small");
  c.preset.num_kv_heads = c.preset.num_q_heads;  // mha
  c.batch = batch;
  c.context = context;
  c.steps = phase == Phase::prefill ? 0 : phase == Phase::decode ? 1 : 3;
  return c;
}

BenchSettings quick() {
  BenchSettings s;
  s.timing.warmup_s = 0;
  s.timing.min_time_s = 0.005;
  s.timing.max_time_s = 0.05;
  s.seed = 42;
  return s;
}

struct Row {
  std::vector<std::string> values;
  const std::string& operator[](const std::string& c) const { return values[bench_schema().index(c)]; }
  double number(const std::string& c) const { return std::stod((*this)[c]); }
};

Row run(const LoadedPlugin& plugin, const BenchCase& c, const BenchSettings& s) {
  DeviceTimer timer(c.device);
  return {run_bench_case(plugin, c, s, make_provenance({"test"}), timer)};
}

}  // namespace

TEST(BenchRunner, EveryPhaseRunsChecksAndAccountsItsMemoryExactly) {
  auto mha = test::plugin("mha");
  ASSERT_TRUE(mha);
  for (Phase phase : {Phase::prefill, Phase::decode, Phase::generate}) {
    for (bool shuffled : {false, true}) {
      BenchCase c = small_case("mha", phase, 3, 37);  // not a multiple of the page size
      c.shuffled_pages = shuffled;
      const Row r = run(*mha, c, quick());
      SCOPED_TRACE(c.label());
      ASSERT_EQ(r["status"], "ok") << r["message"];
      EXPECT_LT(r.number("max_abs_error"), 1e-4);
      EXPECT_GT(r.number("samples"), 0);
      // The host's own accounting sees exactly what was planned before allocating.
      EXPECT_EQ(r.number("peak_bytes"), r.number("planned_bytes"));
      EXPECT_GT(r.number("tokens_per_s"), 0);
      EXPECT_GT(r.number("ceiling_gbps"), 0);
      EXPECT_NEAR(r.number("gbps"), r.number("bytes") / r.number("time_p50_s") / 1e9, 1e-5 * r.number("gbps"));
      EXPECT_TRUE(r["bound"] == "memory" || r["bound"] == "compute");
      EXPECT_EQ(r["plugin"], "mha");
      EXPECT_EQ(r["command"], "test");
      if (phase == Phase::prefill) {
        EXPECT_EQ(r["tpot_p50_s"], "");
        EXPECT_NEAR(r.number("tokens_per_s"), 3 * 37 / r.number("time_p50_s"), 1e-5 * r.number("tokens_per_s"));
      } else {
        EXPECT_LE(r.number("tpot_p50_s"), r.number("tpot_p95_s"));
        EXPECT_LE(r.number("tpot_p95_s"), r.number("tpot_p99_s"));
      }
      if (phase == Phase::decode) {
        // 8 heads x 64 x fp32 x K,V = 4 KiB per token; 37 tokens read by each of 3 sequences.
        EXPECT_EQ(r.number("kv_bytes_per_token"), 4096);
        EXPECT_EQ(r.number("kv_bytes_read"), 3 * 37 * 4096);
        EXPECT_EQ(r["ttft_s"], "");
      }
    }
  }
}

TEST(BenchRunner, DecodeContextLongerThanTheTemplatePagesIsChecked) {
  // 300 tokens = 19 pages: the context is tiled from 8 template pages written by the plugin.
  auto mha = test::plugin("mha");
  ASSERT_TRUE(mha);
  const Row r = run(*mha, small_case("mha", Phase::decode, 2, 300), quick());
  ASSERT_EQ(r["status"], "ok") << r["message"];
  EXPECT_LT(r.number("max_abs_error"), 1e-4);
}

TEST(BenchRunner, OverTheMemoryBudgetIsAnOomRow) {
  auto mha = test::plugin("mha");
  ASSERT_TRUE(mha);
  BenchSettings s = quick();
  s.memory_budget = 1000;
  const Row r = run(*mha, small_case("mha", Phase::decode, 2, 64), s);
  EXPECT_EQ(r["status"], "oom");
  EXPECT_NE(r["message"].find("memory budget"), std::string::npos);
  EXPECT_GT(r.number("planned_bytes"), 1000);
}

TEST(BenchRunner, AnAllocationTheMachineCannotMakeIsAnOomRow) {
  // 2^31 sequences' worth of queries would need petabytes: the allocation itself fails.
  auto mha = test::plugin("mha");
  ASSERT_TRUE(mha);
  BenchCase c = small_case("mha", Phase::prefill, 1 << 14, 1 << 16);
  const Row r = run(*mha, c, quick());
  EXPECT_EQ(r["status"], "oom") << r["message"];
}

TEST(BenchRunner, WhatThePluginCannotDoIsUnsupported) {
  auto mha = test::plugin("mha");
  ASSERT_TRUE(mha);
  BenchCase c = small_case("mha", Phase::decode, 1, 16);
  c.preset.num_kv_heads = 2;  // group size 4: mha allows only 1
  const Row r = run(*mha, c, quick());
  EXPECT_EQ(r["status"], "unsupported");
  EXPECT_NE(r["message"].find("group size"), std::string::npos);
}

TEST(BenchRunner, APluginThatFailsIsAnErrorRow) {
  PluginRegistry registry;
  ASSERT_TRUE(registry.load_file(test::fault_plugin_dir() + "/fault_failing_calls.so"));
  BenchCase c = small_case("failing_calls", Phase::decode, 1, 16);
  c.preset.num_kv_heads = c.preset.num_q_heads;
  const Row r = run(*registry.find("failing_calls"), c, quick());
  EXPECT_EQ(r["status"], "error");
  EXPECT_NE(r["message"].find("planted"), std::string::npos);
}

TEST(BenchCase, KvHeadsFollowWhatThePluginAllows) {
  const HeadPreset& llama = *find_preset("llama3-8b");
  AttnbDescriptor d{};
  d.min_group_size = 1;
  d.max_group_size = 1;  // MHA only
  EXPECT_EQ(kv_heads_for(d, llama), 32);
  d.max_group_size = 0;  // any group
  EXPECT_EQ(kv_heads_for(d, llama), 8);
  d.max_kv_heads = 1;  // MQA only
  EXPECT_EQ(kv_heads_for(d, llama), 1);
  d.max_kv_heads = 0;
  d.min_group_size = 16;  // groups of 16 or more: 2 or 1 KV heads, 2 is nearest to 8
  EXPECT_EQ(kv_heads_for(d, llama), 2);
}

TEST(BenchRunner, CudaPhasesRunCheckAndAccountTheirMemory) {
  ATTNB_SKIP_WITHOUT_GPU();
  auto mha = test::plugin("mha");
  ASSERT_TRUE(mha);
  for (Phase phase : {Phase::prefill, Phase::decode, Phase::generate}) {
    BenchCase c = small_case("mha", phase, 3, 300);  // a decode context tiled from template pages
    c.device = ATTNB_DEVICE_CUDA;
    c.dtype = c.kv_cache_dtype = ATTNB_DTYPE_F16;
    c.preset.head_dim = 128;
    const Row r = run(*mha, c, quick());
    SCOPED_TRACE(c.label());
    ASSERT_EQ(r["status"], "ok") << r["message"];
    EXPECT_LT(r.number("max_abs_error"), 2e-3);
    EXPECT_EQ(r.number("peak_bytes"), r.number("planned_bytes"));
    EXPECT_GT(r.number("driver_bytes"), 0);  // the driver saw the allocations too
    EXPECT_GT(r.number("ceiling_gbps"), 100);  // a GPU copies faster than 100 GB/s
    EXPECT_GT(r.number("time_p50_s"), 0);
  }
}
