// Continuous batching through the scheduler: every output row of every request matches the
// fp64 reference over that sequence's prefix, with sequences batched at different positions,
// with preemptions forced by a tiny pool (recomputed sequences see the same inputs), and
// with Poisson arrivals; the pool ends empty and its invariants hold after every step.
#include "test_support.hpp"

#include <attnbench/core/hot_path_allocations.hpp>
#include <attnbench/core/scheduler.hpp>
#include <attnbench/numeric.hpp>

#include <cmath>
#include <map>
#include <numeric>

using namespace attnbench;

namespace {

struct Shape {
  int32_t dtype = ATTNB_DTYPE_F16;
  int32_t kv_cache_dtype = -1;  // -1: the query dtype
  int32_t q_heads = 4, kv_heads = 4, head_dim = 64;
  int32_t page_size = 16;
  int32_t window = 0;
  int32_t max_len = 256;
};

AttnbProblem problem_of(AttnbDevice device, const Shape& s, const SchedulerConfig& config) {
  AttnbProblem p = make_problem(device, s.dtype, s.q_heads, s.kv_heads, s.head_dim, true, s.window,
                                config.max_batch, std::max(config.max_batch, config.max_prefill_tokens),
                                s.max_len, s.page_size);
  if (s.kv_cache_dtype >= 0) p.kv_cache_dtype = s.kv_cache_dtype;
  return p;
}

// A scheduler over a pool of `pages` pages, for `plugin` on `device`.
struct Engine {
  Engine(const LoadedPlugin& plugin, AttnbDevice device, const Shape& s, int64_t pages,
         SchedulerConfig config)
      : problem(problem_of(device, s, config)),
        pool(device, s.page_size, plugin.kv_page_bytes(problem), pages, config.max_batch, s.max_len),
        tokens(s.dtype, s.q_heads, s.kv_heads, s.head_dim, 7),
        scheduler(plugin, problem, pool, tokens, config) {}
  AttnbProblem problem;
  KvPool pool;
  SyntheticTokens tokens;
  Scheduler scheduler;
};

SchedulerConfig verifying(int32_t max_batch, int32_t max_prefill_tokens) {
  SchedulerConfig c;
  c.max_batch = max_batch;
  c.max_prefill_tokens = max_prefill_tokens;
  c.verify = true;
  return c;
}

WorkloadSpec spec_of(int32_t requests, double rate, LengthDistribution prompt, LengthDistribution output) {
  WorkloadSpec w;
  w.requests = requests;
  w.rate = rate;
  w.prompt = prompt;
  w.output = output;
  w.seed = 11;
  return w;
}

// Output rows of a run without preemption: each prompt position once (the prefill), then one
// row per further output token (the decode steps).
int64_t rows_without_preemption(const std::vector<Request>& workload) {
  int64_t rows = 0;
  for (const Request& r : workload) rows += r.prompt_len + r.output_len - 1;
  return rows;
}

void expect_finished_cleanly(const ServeStats& stats, const std::vector<Request>& workload,
                             const KvPool& pool) {
  EXPECT_TRUE(stats.verify.passed()) << stats.verify.first_failure;
  EXPECT_GT(stats.verify.rows_checked, 0);
  ASSERT_EQ(stats.requests.size(), workload.size());
  for (const RequestTiming& t : stats.requests) {
    const Request& r = workload[static_cast<std::size_t>(t.id)];
    EXPECT_EQ(t.prompt_len, r.prompt_len);
    EXPECT_EQ(t.output_len, r.output_len);
    EXPECT_GE(t.first_token_s, r.arrival_s);
    EXPECT_GE(t.finish_s, t.first_token_s);
    EXPECT_GT(t.ttft_s(), 0);
  }
  EXPECT_EQ(pool.pages_in_use(), 0) << "pages leaked";
  EXPECT_EQ(pool.open_sequences(), 0);
  EXPECT_NO_THROW(pool.check_invariants());
}

void serve_matches_reference(const std::string& name, AttnbDevice device, Shape shape) {
  const auto plugin = test::plugin(name);
  ASSERT_NE(plugin, nullptr);
  Engine e(*plugin, device, shape, 4096, verifying(8, shape.max_len));
  const std::vector<Request> workload = make_workload(spec_of(12, INFINITY, {1, 90}, {1, 40}));
  const ServeStats stats = e.scheduler.run(workload);
  expect_finished_cleanly(stats, workload, e.pool);
  EXPECT_EQ(stats.preemptions, 0);
  EXPECT_EQ(stats.verify.rows_checked, rows_without_preemption(workload));
  EXPECT_EQ(stats.decode_tokens + stats.prefill_tokens, rows_without_preemption(workload));
}

void preemptions_keep_results(const std::string& name, AttnbDevice device, Shape shape) {
  const auto plugin = test::plugin(name);
  ASSERT_NE(plugin, nullptr);
  const std::vector<Request> workload = make_workload(spec_of(16, INFINITY, {20, 100}, {10, 60}));
  int64_t longest = 0;
  for (const Request& r : workload) longest = std::max(longest, r.final_length());
  // Room for the longest request and a little more: the others must be preempted to finish.
  Engine e(*plugin, device, shape, pages_for(longest, shape.page_size) + 2, verifying(8, shape.max_len));
  const ServeStats stats = e.scheduler.run(workload);
  expect_finished_cleanly(stats, workload, e.pool);
  EXPECT_GT(stats.preemptions, 0);
  EXPECT_EQ(e.pool.peak_pages_in_use(), e.pool.num_pages());
  // Recomputation re-runs prompts and generated tokens: more rows, every one still right.
  EXPECT_GT(stats.verify.rows_checked, rows_without_preemption(workload));
  int32_t preempted = 0;
  for (const RequestTiming& t : stats.requests) preempted += t.preemptions;
  EXPECT_EQ(preempted, stats.preemptions);
}

}  // namespace

TEST(Scheduler, EveryOutputMatchesTheReferenceMha) {
  serve_matches_reference("mha", ATTNB_DEVICE_CPU, Shape{});
}

TEST(Scheduler, EveryOutputMatchesTheReferenceGqaFp32) {
  Shape s;
  s.dtype = ATTNB_DTYPE_F32;
  s.q_heads = 8;
  s.kv_heads = 2;
  s.page_size = 8;
  serve_matches_reference("gqa", ATTNB_DEVICE_CPU, s);
}

TEST(Scheduler, EveryOutputMatchesTheReferenceSlidingWindow) {
  Shape s;
  s.q_heads = 4;
  s.kv_heads = 2;
  s.window = 24;
  serve_matches_reference("sliding_window", ATTNB_DEVICE_CPU, s);
}

TEST(Scheduler, PreemptionsByATinyPoolKeepEveryOutputRight) {
  preemptions_keep_results("mha", ATTNB_DEVICE_CPU, Shape{});
}

// An int8 cache (quantized on append) through batching and preemption, within the int8-cache
// tolerance of validation.hpp.
TEST(Scheduler, Int8CacheThroughPreemptions) {
  if (!test::registry().find("int8_kv")) GTEST_SKIP() << "int8_kv plugin not built";
  Shape s;
  s.kv_heads = 2;
  s.kv_cache_dtype = ATTNB_DTYPE_INT8;
  preemptions_keep_results("int8_kv", ATTNB_DEVICE_CPU, s);
}

TEST(Scheduler, OddPageSizesAndBatchOfOne) {
  const auto plugin = test::plugin("mha");
  Shape s;
  s.page_size = 5;
  s.max_len = 128;
  Engine e(*plugin, ATTNB_DEVICE_CPU, s, 30, verifying(1, 128));
  const std::vector<Request> workload = make_workload(spec_of(6, INFINITY, {1, 60}, {1, 30}));
  const ServeStats stats = e.scheduler.run(workload);
  expect_finished_cleanly(stats, workload, e.pool);
}

// The tokens a request gets do not depend on how it was scheduled: one at a time, batched,
// or batched with preemptions, each (request, token) is produced exactly once, from the same
// position, with the same output row.
TEST(Scheduler, TokensDoNotDependOnBatchingOrPreemption) {
  const auto plugin = test::plugin("mha");
  const std::vector<Request> workload = make_workload(spec_of(12, INFINITY, {10, 80}, {5, 40}));
  int64_t longest = 0, tokens = 0;
  for (const Request& r : workload) {
    longest = std::max(longest, r.final_length());
    tokens += r.output_len;
  }
  using Tokens = std::map<std::pair<int32_t, int32_t>, std::vector<float>>;
  auto run = [&](int32_t max_batch, int64_t pages, int64_t* preemptions) {
    SchedulerConfig c = verifying(max_batch, 256);
    c.verify = false;
    Engine e(*plugin, ATTNB_DEVICE_CPU, Shape{}, pages, c);
    Tokens out;
    e.scheduler.set_output_sink([&](const Request& r, int32_t token, const std::vector<float>& row) {
      EXPECT_TRUE(out.emplace(std::make_pair(r.id, token), row).second)
          << "request " << r.id << " token " << token << " produced twice";
    });
    *preemptions = e.scheduler.run(workload).preemptions;
    EXPECT_EQ(static_cast<int64_t>(out.size()), tokens);
    return out;
  };
  int64_t p1 = 0, p8 = 0, tiny = 0;
  const Tokens one = run(1, 1024, &p1);
  const Tokens batched = run(8, 1024, &p8);
  const Tokens preempted = run(8, pages_for(longest, 16) + 1, &tiny);
  EXPECT_EQ(p1 + p8, 0);
  EXPECT_GT(tiny, 0);
  for (const auto& [key, row] : one) {
    const std::vector<double> want(row.begin(), row.end());
    for (const Tokens* other : {&batched, &preempted}) {
      const auto it = other->find(key);
      ASSERT_NE(it, other->end()) << "request " << key.first << " token " << key.second;
      const Comparison c = compare(it->second, want, tolerance_for(ATTNB_DTYPE_F16));
      EXPECT_TRUE(c.passed()) << "request " << key.first << " token " << key.second << ": " << c.max_abs_error;
    }
  }
}

// Step by step: the pool's invariants after every step, no batch above max_batch, and each
// step either prefills or decodes something.
TEST(Scheduler, InvariantsHoldAfterEveryStep) {
  const auto plugin = test::plugin("mha");
  Shape s;
  s.page_size = 4;
  s.max_len = 128;
  Engine e(*plugin, ATTNB_DEVICE_CPU, s, 40, verifying(6, 128));
  const std::vector<Request> workload = make_workload(spec_of(20, INFINITY, {1, 70}, {1, 50}));
  for (const Request& r : workload) e.scheduler.submit(r);
  int64_t steps = 0, preempted = 0, finished = 0;
  while (!e.scheduler.idle()) {
    const double before = e.scheduler.now();
    const StepReport r = e.scheduler.step();
    ++steps;
    preempted += r.preempted;
    finished += r.finished;
    EXPECT_LE(r.decode_sequences + r.prefill_sequences, 6);
    EXPECT_LE(r.prefill_tokens, 128);
    EXPECT_GT(r.decode_sequences + r.prefill_sequences, 0);
    EXPECT_GT(e.scheduler.now(), before);
    ASSERT_NO_THROW(e.pool.check_invariants());
    EXPECT_LE(e.pool.open_sequences(), 6);
    ASSERT_LT(steps, 100000) << "no progress";
  }
  EXPECT_EQ(finished, 20);
  EXPECT_GT(preempted, 0);
  EXPECT_EQ(e.pool.pages_in_use(), 0);
  EXPECT_TRUE(e.scheduler.stats().verify.passed()) << e.scheduler.stats().verify.first_failure;
}

// After submission, steps allocate nothing: admissions, preemptions, page tables, plugin
// calls and retirements all use what was sized up front (checking outputs off). The count
// includes the plugin's calls: mha's hot path allocates nothing either.
TEST(Scheduler, StepsDoNotAllocate) {
  ASSERT_TRUE(hot_path_allocations_counted());
  const auto plugin = test::plugin("mha");
  SchedulerConfig c = verifying(4, 256);
  c.verify = false;
  Engine e(*plugin, ATTNB_DEVICE_CPU, Shape{}, 20, c);  // small: preemptions happen
  for (const Request& r : make_workload(spec_of(16, INFINITY, {20, 100}, {10, 60}))) e.scheduler.submit(r);
  const uint64_t before = hot_path_allocations().total_allocations();
  {
    const HotPathCall counting(HotPathKind::kDecode);
    while (!e.scheduler.idle()) e.scheduler.step();
  }
  EXPECT_EQ(hot_path_allocations().total_allocations() - before, 0u);
  EXPECT_GT(e.scheduler.stats().preemptions, 0);
  EXPECT_EQ(e.scheduler.stats().requests.size(), 16u);
}

// Batching is what continuous batching buys: the same work in far fewer steps.
TEST(Scheduler, BatchingTakesFewerStepsThanOneAtATime) {
  const auto plugin = test::plugin("mha");
  const std::vector<Request> workload = make_workload(spec_of(8, INFINITY, {16, 16}, {32, 32}));
  SchedulerConfig one = verifying(1, 256), eight = verifying(8, 256);
  one.verify = eight.verify = false;
  Engine a(*plugin, ATTNB_DEVICE_CPU, Shape{}, 512, one);
  Engine b(*plugin, ATTNB_DEVICE_CPU, Shape{}, 512, eight);
  EXPECT_EQ(a.scheduler.run(workload).steps, 8 * 32);  // one prefill + 31 decodes each
  EXPECT_EQ(b.scheduler.run(workload).steps, 32);      // all prefilled at once, then decoded together
}

TEST(Scheduler, PoissonArrivalsWaitForTheirTime) {
  const auto plugin = test::plugin("mha");
  Engine e(*plugin, ATTNB_DEVICE_CPU, Shape{}, 1024, verifying(8, 256));
  const std::vector<Request> workload = make_workload(spec_of(10, 20.0, {8, 40}, {2, 10}));
  EXPECT_GT(workload.back().arrival_s, 0);
  const ServeStats stats = e.scheduler.run(workload);
  expect_finished_cleanly(stats, workload, e.pool);
  EXPECT_GE(stats.end_s, workload.back().arrival_s);
  EXPECT_LE(stats.busy_s, stats.end_s);
}

TEST(Scheduler, RefusesWhatCanNeverRun) {
  const auto plugin = test::plugin("mha");
  Shape s;
  s.max_len = 64;
  Engine e(*plugin, ATTNB_DEVICE_CPU, s, 3, verifying(2, 64));  // 48 tokens of pages
  Request too_long;
  too_long.prompt_len = 60;
  too_long.output_len = 6;  // 65 tokens > max_len 64
  EXPECT_THROW(e.scheduler.submit(too_long), std::invalid_argument);
  Request too_big;
  too_big.prompt_len = 50;  // 4 pages > the pool's 3
  EXPECT_THROW(e.scheduler.submit(too_big), std::invalid_argument);
  EXPECT_THROW(e.scheduler.run({too_big}), std::invalid_argument);
  EXPECT_TRUE(e.scheduler.idle());
  EXPECT_THROW(e.scheduler.step(), std::logic_error);

  // A pool sized with another page size or format is refused.
  AttnbProblem p = e.problem;
  KvPool wrong(ATTNB_DEVICE_CPU, 8, plugin->kv_page_bytes(p), 8, 2, 64);
  EXPECT_THROW(Scheduler(*plugin, p, wrong, e.tokens, verifying(2, 64)), std::invalid_argument);
  // A prefill budget that cannot hold the longest sequence is refused.
  EXPECT_THROW(Scheduler(*plugin, p, e.pool, e.tokens, verifying(2, 32)), std::invalid_argument);
}

TEST(SchedulerGpu, EveryOutputMatchesTheReference) {
  ATTNB_SKIP_WITHOUT_GPU();
  Shape s;
  s.q_heads = 8;
  s.kv_heads = 8;
  s.head_dim = 128;
  serve_matches_reference("mha", ATTNB_DEVICE_CUDA, s);
  s.kv_heads = 2;
  serve_matches_reference("gqa", ATTNB_DEVICE_CUDA, s);
}

TEST(SchedulerGpu, PreemptionsByATinyPoolKeepEveryOutputRight) {
  ATTNB_SKIP_WITHOUT_GPU();
  Shape s;
  s.head_dim = 128;
  preemptions_keep_results("mha", ATTNB_DEVICE_CUDA, s);
  if (!test::registry().find("int8_kv")) return;
  s.kv_heads = 2;
  s.kv_cache_dtype = ATTNB_DTYPE_INT8;
  preemptions_keep_results("int8_kv", ATTNB_DEVICE_CUDA, s);
}
