// `attnbench tune`: the search (doubling, then bisection) and the largest batch it reports
// against the budget computed independently from the plugin's own sizes, and against the
// device's free memory.
#include <attnbench/core/bench_workload.hpp>
#include <attnbench/core/buffer.hpp>
#include <attnbench/core/result_reader.hpp>
#include <attnbench/core/tune_runner.hpp>

#include "cli_support.hpp"

#include <limits>
#include <set>

using namespace attnbench;
using namespace attnbench::test;
namespace fs = std::filesystem;

TEST(TuneSearch, FindsTheLastFittingValueAskingEachOnce) {
  for (int64_t answer : {0, 1, 2, 3, 7, 8, 9, 100, 1000, 1023, 1024}) {
    std::set<int64_t> asked;
    const int64_t found = largest_fitting(1024, [&](int64_t n) {
      EXPECT_TRUE(asked.insert(n).second) << "asked twice: " << n;
      EXPECT_GE(n, 1);
      EXPECT_LE(n, 1024);
      return n <= answer;
    });
    EXPECT_EQ(found, answer);
    EXPECT_LE(asked.size(), 22u);  // about 2 log2(1024)
  }
  // A limit that is not a power of two is still reached.
  EXPECT_EQ(largest_fitting(300, [](int64_t) { return true; }), 300);
  EXPECT_EQ(largest_fitting(300, [](int64_t n) { return n <= 299; }), 299);
}

TEST(TuneRunner, OneSequenceBeyondTheFreeMemoryIsBatchZeroWithoutAllocating) {
  // 2^28 cached tokens: a terabyte of one layer's cache, more than any machine has free. The
  // budget allows it; the device's free memory, asked before allocating, does not.
  auto mha = test::plugin("mha");
  ASSERT_TRUE(mha);
  BenchCase c;
  c.plugin = "mha";
  c.device = ATTNB_DEVICE_CPU;
  c.phase = Phase::decode;
  c.dtype = c.kv_cache_dtype = ATTNB_DTYPE_F32;
  c.preset = *find_preset("cpu-small");
  c.preset.num_kv_heads = c.preset.num_q_heads;
  c.context = 1 << 28;
  c.steps = 1;
  c.batch = 1;
  TuneSettings s;
  s.budget_bytes = std::numeric_limits<std::size_t>::max();
  s.tpot_target_s = 1e9;
  s.max_batch = 8;
  MemoryAccounting::reset_peak(ATTNB_DEVICE_CPU);
  const std::size_t before = MemoryAccounting::current(ATTNB_DEVICE_CPU);
  DeviceTimer timer(ATTNB_DEVICE_CPU);
  const std::vector<std::string> row = run_tune_case(*mha, c, s, make_provenance({"test"}), timer);
  auto at = [&](const char* column) { return row.at(tune_schema().index(column)); };
  EXPECT_EQ(at("status"), "ok") << at("message");
  EXPECT_EQ(at("batch"), "0");
  EXPECT_EQ(at("limit"), "memory");
  EXPECT_EQ(at("probes"), "1");
  EXPECT_NE(at("message").find("one sequence does not fit: needs " +
                               std::to_string(BenchWorkload::planned_bytes(*mha, c)) + " bytes, more than the "),
            std::string::npos) << at("message");
  EXPECT_EQ(MemoryAccounting::peak(ATTNB_DEVICE_CPU), before);  // no buffer was made
}

TEST(TuneCli, MemoryBudgetDecidesTheBatchForTheWholeModel) {
  const fs::path dir = fresh_dir("tune_budget");
  const fs::path out = dir / "t.csv";
  const std::size_t budget = 6u << 20;
  const CommandResult r = run_attnbench("tune --plugins " + plugin_dir() + " --device cpu --plugin mha,gqa --context 200"
                                        " --tpot-ms 100000 --budget " + std::to_string(budget) +
                                        " --min-time 0.002 --max-time 0.02 --warmup 0 --out " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const ResultTable t = read_results(out);
  ASSERT_EQ(t.rows.size(), 2u);
  for (std::size_t i = 0; i < t.rows.size(); ++i) {
    SCOPED_TRACE(t.at(i, "plugin"));
    ASSERT_EQ(t.at(i, "status"), "ok") << t.at(i, "message");
    EXPECT_EQ(t.at(i, "limit"), "memory");
    // The same sum by hand: one layer's buffers plus the other layers' KV pools.
    auto plugin = test::plugin(t.at(i, "plugin"));
    BenchCase c;
    c.plugin = plugin->name();
    c.phase = Phase::decode;
    c.preset = *find_preset("cpu-small");
    c.preset.num_kv_heads = static_cast<int32_t>(t.number(i, "kv_heads"));
    c.context = 200;
    c.steps = 1;
    auto model_bytes = [&](int32_t batch) {
      c.batch = batch;
      const std::size_t pool = static_cast<std::size_t>(batch) * pages_for(200, 16) * plugin->kv_page_bytes(problem_for(c));
      return BenchWorkload::planned_bytes(*plugin, c) + (c.preset.layers - 1) * pool;
    };
    const int32_t batch = static_cast<int32_t>(t.number(i, "batch"));
    EXPECT_GT(batch, 0);
    EXPECT_LE(model_bytes(batch), budget);
    EXPECT_GT(model_bytes(batch + 1), budget);
    EXPECT_GT(t.number(i, "tokens_per_s"), 0);
  }
  // GQA stores a quarter of MHA's KV heads, so it fits more sequences.
  EXPECT_GT(t.number(t.at(0, "plugin") == "gqa" ? 0 : 1, "batch"), t.number(t.at(0, "plugin") == "mha" ? 0 : 1, "batch"));
  fs::remove_all(dir);
}

TEST(TuneCli, AnUnreachableTargetIsBatchZeroLimitedByTpot) {
  const fs::path dir = fresh_dir("tune_target");
  const fs::path out = dir / "t.csv";
  const CommandResult r = run_attnbench("tune --plugins " + plugin_dir() + " --device cpu --plugin mha --context 64"
                                        " --tpot-ms 0.00001 --min-time 0.002 --max-time 0.02 --warmup 0 --out " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const ResultTable t = read_results(out);
  ASSERT_EQ(t.rows.size(), 1u);
  EXPECT_EQ(t.at(0, "batch"), "0");
  EXPECT_EQ(t.at(0, "limit"), "tpot");
  fs::remove_all(dir);
}

TEST(TuneCli, BudgetOrTargetAtOrBelowZeroIsExitTwo) {
  const fs::path dir = fresh_dir("tune_bad");
  const std::string base = "tune --plugins " + plugin_dir() + " --device cpu --out " + (dir / "t.csv").string();
  for (const char* bad : {" --budget 0", " --budget -3G", " --budget 0%", " --tpot-ms 0", " --tpot-ms -5", " --plugin nosuch"}) {
    const CommandResult r = run_attnbench(base + bad);
    EXPECT_EQ(r.exit_code, 2) << bad << ": " << r.output;
    EXPECT_EQ(line_count(r.output), 1) << r.output;
  }
  EXPECT_FALSE(fs::exists(dir / "t.csv"));
  fs::remove_all(dir);
}
