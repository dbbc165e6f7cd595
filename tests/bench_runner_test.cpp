// One bench case end to end on the CPU: the row it makes, the memory it plans and uses, the
// reference check, and the rows for what cannot run (unsupported, oom, a failing plugin).
#include <attnbench/core/bench_runner.hpp>
#include <attnbench/core/bench_workload.hpp>
#include <attnbench/core/buffer.hpp>
#include <attnbench/core/device.hpp>
#include <attnbench/core/result_schema.hpp>

#include "test_support.hpp"

#include <cmath>
#include <unistd.h>

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

Row run(const LoadedPlugin& plugin, const BenchCase& c, const BenchSettings& s, DeviceTimer& timer) {
  return {run_bench_case(plugin, c, s, make_provenance({"test"}), timer)};
}

Row run(const LoadedPlugin& plugin, const BenchCase& c, const BenchSettings& s) {
  DeviceTimer timer(c.device);
  return run(plugin, c, s, timer);
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
  // 2^30 prompt tokens need terabytes (cache and queries), more than any machine has free. It
  // is refused from the planned bytes before anything is allocated: where the kernel
  // overcommits, the allocation would succeed and the process be killed once it touched it.
  auto mha = test::plugin("mha");
  ASSERT_TRUE(mha);
  const BenchCase c = small_case("mha", Phase::prefill, 1 << 14, 1 << 16);
  const std::size_t planned = BenchWorkload::planned_bytes(*mha, c);
  MemoryAccounting::reset_peak(ATTNB_DEVICE_CPU);
  const std::size_t before = MemoryAccounting::current(ATTNB_DEVICE_CPU);
  const Row r = run(*mha, c, quick());
  EXPECT_EQ(r["status"], "oom") << r["message"];
  EXPECT_NE(r["message"].find("needs " + std::to_string(planned) + " bytes, more than the "), std::string::npos)
      << r["message"];
  EXPECT_NE(r["message"].find(" bytes free on " + hardware_name(ATTNB_DEVICE_CPU)), std::string::npos) << r["message"];
  EXPECT_EQ(MemoryAccounting::peak(ATTNB_DEVICE_CPU), before);  // no buffer was made
}

TEST(DeviceMemory, WhatIsFreeDecidesWhatMayBeAllocated) {
  const std::size_t free = free_memory_bytes(ATTNB_DEVICE_CPU);
  EXPECT_GT(free, 0u);
  EXPECT_LE(free, static_cast<std::size_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<std::size_t>(sysconf(_SC_PAGE_SIZE)));
  EXPECT_EQ(memory_shortfall(ATTNB_DEVICE_CPU, 4096), "");
  const std::size_t too_much = std::size_t{1} << 60;  // an exbibyte
  const std::string why = memory_shortfall(ATTNB_DEVICE_CPU, too_much);
  EXPECT_EQ(why.rfind("needs " + std::to_string(too_much) + " bytes, more than the ", 0), 0u) << why;
  EXPECT_NE(why.find(" bytes free on " + hardware_name(ATTNB_DEVICE_CPU)), std::string::npos) << why;
  EXPECT_EQ(why.find('\n'), std::string::npos);
}

TEST(BenchRunner, AGpuAllocationBeyondItsFreeMemoryIsAnOomRow) {
  ATTNB_SKIP_WITHOUT_GPU();
  const std::size_t free = free_memory_bytes(ATTNB_DEVICE_CUDA);
  EXPECT_GT(free, 0u);
  EXPECT_LE(free, detect_device().total_memory);
  auto mha = test::plugin("mha");
  ASSERT_TRUE(mha);
  BenchCase c = small_case("mha", Phase::prefill, 1 << 14, 1 << 16);
  c.device = ATTNB_DEVICE_CUDA;
  c.dtype = c.kv_cache_dtype = ATTNB_DTYPE_F16;
  c.preset.head_dim = 128;
  DeviceTimer timer(ATTNB_DEVICE_CUDA);  // its L2-flush buffer is the harness's, not the case's
  MemoryAccounting::reset_peak(ATTNB_DEVICE_CUDA);
  const std::size_t before = MemoryAccounting::current(ATTNB_DEVICE_CUDA);
  const Row r = run(*mha, c, quick(), timer);
  EXPECT_EQ(r["status"], "oom") << r["message"];
  EXPECT_NE(r["message"].find(" bytes free on " + detect_device().name + " (cudaMemGetInfo)"), std::string::npos)
      << r["message"];
  EXPECT_EQ(MemoryAccounting::peak(ATTNB_DEVICE_CUDA), before);
}

TEST(BenchRunner, ACpuRowNamesTheCpuEvenWhereThereIsAGpu) {
  auto mha = test::plugin("mha");
  ASSERT_TRUE(mha);
  const Row r = run(*mha, small_case("mha", Phase::decode, 1, 16), quick());
  ASSERT_EQ(r["status"], "ok") << r["message"];
  EXPECT_EQ(r["device"], detect_device().cpu_name);
  EXPECT_EQ(r["driver"], "");  // the CUDA driver is not the CPU's
  if (detect_device().has_cuda) EXPECT_NE(r["device"], detect_device().name);
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
    EXPECT_EQ(r["device"], detect_device().name);  // the GPU's, with its driver
    EXPECT_EQ(r["driver"], detect_device().driver);
  }
}
