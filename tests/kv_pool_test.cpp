// The paged KV pool: sizing from a byte budget with the plugin's own page bytes (an INT8
// cache holds about twice the tokens of fp16), the allocator's invariants under long random
// schedules (no page owned twice, none leaked, a full pool answered by preemption rather than
// failure), batches described in place without allocating, and misuse refused.
#include "test_support.hpp"

#include <attnbench/core/hot_path_allocations.hpp>
#include <attnbench/core/kv_pool.hpp>
#include <attnbench/core/validation.hpp>

#ifdef ATTNB_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

#include <functional>
#include <random>
#include <set>

using namespace attnbench;

namespace {

// Every page of the pool, as the test sees it from the outside: owned by one open sequence
// (each holding exactly the pages its length needs) or free, never both, never twice.
void expect_pages_accounted(const KvPool& pool) {
  std::set<int32_t> owned;
  for (int32_t s = 0; s < pool.max_sequences(); ++s) {
    if (!pool.is_open(s)) continue;
    const std::vector<int32_t>& pages = pool.pages(s);
    EXPECT_EQ(static_cast<int64_t>(pages.size()), pages_for(pool.length(s), pool.page_size()));
    for (int32_t page : pages) {
      EXPECT_GE(page, 0);
      EXPECT_LT(page, pool.num_pages());
      EXPECT_TRUE(owned.insert(page).second) << "page " << page << " owned twice";
    }
  }
  EXPECT_EQ(static_cast<int64_t>(owned.size()), pool.pages_in_use());
  EXPECT_NO_THROW(pool.check_invariants());
}

// Heap allocations on this thread while `work` runs, by core's counting malloc.
uint64_t allocations_during(const std::function<void()>& work) {
  const uint64_t before = hot_path_allocations().total_allocations();
  {
    const HotPathCall counting(HotPathKind::kAppendKv);
    work();
  }
  return hot_path_allocations().total_allocations() - before;
}

AttnbProblem problem_of(int32_t dtype, int32_t kv_cache_dtype) {
  AttnbProblem p = make_problem(ATTNB_DEVICE_CPU, dtype, 32, 8, 128, true, 0, 8, 64, 1024, 16);
  p.kv_cache_dtype = kv_cache_dtype;
  return p;
}

}  // namespace

TEST(KvBudget, ParsesBytesUnitsAndShares) {
  EXPECT_EQ(KvBudget::parse("67108864").bytes, 67108864u);
  EXPECT_EQ(KvBudget::parse("64MiB").bytes, 64u << 20);
  EXPECT_EQ(KvBudget::parse("2GiB").bytes, 2ull << 30);
  EXPECT_EQ(KvBudget::parse("512KiB").bytes, 512u << 10);
  const KvBudget share = KvBudget::parse("90%");
  EXPECT_EQ(share.bytes, 0u);
  EXPECT_DOUBLE_EQ(share.fraction, 0.9);
  EXPECT_GT(share.resolve(ATTNB_DEVICE_CPU), 0u);
  for (const char* bad : {"", "abc", "0", "-5", "150%", "0%", "12XB", "MiB"})
    EXPECT_THROW(KvBudget::parse(bad), std::invalid_argument) << bad;
}

TEST(KvPoolSizing, PagesComeFromThePluginsPageBytes) {
  const auto mha = test::plugin("mha");
  ASSERT_NE(mha, nullptr);
  const std::size_t budget = 64u << 20;
  const std::size_t fp16 = mha->kv_page_bytes(problem_of(ATTNB_DTYPE_F16, ATTNB_DTYPE_F16));
  const std::size_t fp32 = mha->kv_page_bytes(problem_of(ATTNB_DTYPE_F32, ATTNB_DTYPE_F32));
  // K and V, 8 heads, 16 tokens, 128 dims of 2 bytes.
  EXPECT_EQ(fp16, 2u * 8 * 16 * 128 * 2);
  EXPECT_EQ(pages_in_budget(budget, fp16), 2 * pages_in_budget(budget, fp32));
  KvPool pool(ATTNB_DEVICE_CPU, 16, fp16, pages_in_budget(budget, fp16), 4, 1024);
  EXPECT_EQ(pool.num_pages(), static_cast<int64_t>(budget / fp16));
  EXPECT_EQ(pool.free_pages(), pool.num_pages());
}

TEST(KvPoolSizing, AnInt8CacheHoldsAboutTwiceTheTokensOfFp16) {
  const auto int8 = test::registry().find("int8_kv");
  if (!int8) GTEST_SKIP() << "int8_kv plugin not built";
  const auto mha = test::plugin("mha");
  const std::size_t budget = 64u << 20;
  const int64_t fp16_pages = pages_in_budget(budget, mha->kv_page_bytes(problem_of(ATTNB_DTYPE_F16, ATTNB_DTYPE_F16)));
  const int64_t int8_pages = pages_in_budget(budget, int8->kv_page_bytes(problem_of(ATTNB_DTYPE_F16, ATTNB_DTYPE_INT8)));
  // Half the bytes per value, plus the scales (4 bytes per token and head for K and for V).
  EXPECT_GT(int8_pages, 1.8 * static_cast<double>(fp16_pages));
  EXPECT_LE(int8_pages, 2 * fp16_pages);
}

TEST(KvPool, AppendsTakePagesOnlyAtPageBoundaries) {
  KvPool pool(ATTNB_DEVICE_CPU, 4, 64, 10, 3, 40);
  const int32_t a = pool.open();
  EXPECT_EQ(pool.pages_needed(a, 1), 1);
  ASSERT_TRUE(pool.append(a, 1));
  EXPECT_EQ(pool.pages_needed(a, 3), 0);
  ASSERT_TRUE(pool.append(a, 3));
  EXPECT_EQ(pool.pages(a).size(), 1u);
  EXPECT_EQ(pool.pages_needed(a, 1), 1);
  ASSERT_TRUE(pool.append(a, 5));  // 9 tokens: 3 pages
  EXPECT_EQ(pool.length(a), 9);
  EXPECT_EQ(pool.pages(a).size(), 3u);
  const int32_t b = pool.open();
  EXPECT_FALSE(pool.append(b, 29));  // 8 pages, 7 free: refused, nothing taken
  EXPECT_EQ(pool.length(b), 0);
  EXPECT_EQ(pool.free_pages(), 7);
  ASSERT_TRUE(pool.append(b, 28));
  EXPECT_EQ(pool.free_pages(), 0);
  EXPECT_EQ(pool.peak_pages_in_use(), 10);
  expect_pages_accounted(pool);
  pool.release(a);
  EXPECT_EQ(pool.free_pages(), 3);
  EXPECT_FALSE(pool.is_open(a));
  pool.release(b);
  EXPECT_EQ(pool.free_pages(), 10);
  EXPECT_EQ(pool.peak_pages_in_use(), 10);
  expect_pages_accounted(pool);
}

TEST(KvPool, MisuseIsRefused) {
  KvPool pool(ATTNB_DEVICE_CPU, 4, 64, 10, 2, 8);
  const int32_t a = pool.open();
  pool.open();
  EXPECT_THROW(pool.open(), std::logic_error);            // every slot taken
  EXPECT_THROW(pool.append(a, 9), std::logic_error);      // past the longest sequence
  EXPECT_THROW(pool.append(a, -1), std::logic_error);
  pool.release(a);
  EXPECT_THROW(pool.release(a), std::logic_error);        // twice
  EXPECT_THROW(pool.append(a, 1), std::logic_error);      // closed
  EXPECT_THROW(pool.append(7, 1), std::logic_error);      // no such sequence
  EXPECT_THROW(KvPool(ATTNB_DEVICE_CPU, 4, 64, 0, 2, 8), std::invalid_argument);
}

// A long random schedule like a server's: sequences open, grow by prompts and single tokens,
// finish; when the pool is full the youngest sequence is preempted (freed), never a failure.
TEST(KvPool, InvariantsHoldUnderLongRandomSchedules) {
  for (uint64_t seed : {1u, 2u, 3u}) {
    std::mt19937_64 rng(seed);
    const int32_t page_size = 1 + static_cast<int32_t>(rng() % 16);
    const int64_t pages = 20 + static_cast<int64_t>(rng() % 60);
    const int64_t longest = pages * page_size / 2;
    KvPool pool(ATTNB_DEVICE_CPU, page_size, 256, pages, 12, longest);
    std::vector<int32_t> open;  // oldest first
    int64_t preemptions = 0, finished = 0;
    for (int op = 0; op < 20000; ++op) {
      const int kind = static_cast<int>(rng() % 10);
      if (kind < 2 && static_cast<int32_t>(open.size()) < pool.max_sequences()) {
        open.push_back(pool.open());
      } else if (kind < 9 && !open.empty()) {
        const int32_t seq = open[rng() % open.size()];
        const int64_t room = longest - pool.length(seq);
        if (room == 0) continue;
        const int64_t tokens = kind < 4 ? 1 + static_cast<int64_t>(rng() % room) : 1;
        while (true) {
          const int64_t free_before = pool.free_pages(), length_before = pool.length(seq);
          if (pool.append(seq, tokens)) break;
          EXPECT_EQ(pool.free_pages(), free_before) << "a refused append took pages";
          EXPECT_EQ(pool.length(seq), length_before);
          const int32_t youngest = open.back();  // preempt, as the scheduler does
          open.pop_back();
          pool.release(youngest);
          ++preemptions;
          if (youngest == seq) break;
        }
      } else if (!open.empty()) {
        const std::size_t i = rng() % open.size();
        pool.release(open[i]);
        open.erase(open.begin() + static_cast<std::ptrdiff_t>(i));
        ++finished;
      }
      if (op % 97 == 0) expect_pages_accounted(pool);
      ASSERT_LE(pool.pages_in_use(), pool.num_pages());
      ASSERT_EQ(pool.open_sequences(), static_cast<int32_t>(open.size()));
    }
    expect_pages_accounted(pool);
    for (int32_t seq : open) pool.release(seq);
    EXPECT_EQ(pool.free_pages(), pool.num_pages()) << "pages leaked";
    EXPECT_EQ(pool.open_sequences(), 0);
    EXPECT_EQ(pool.peak_pages_in_use(), pool.num_pages()) << "the schedule never filled the pool";
    EXPECT_GT(preemptions, 0);
    EXPECT_GT(finished, 0);
    expect_pages_accounted(pool);
  }
}

TEST(KvPool, DescribesABatchInPlace) {
  KvPool pool(ATTNB_DEVICE_CPU, 4, 64, 16, 4, 64);
  const int32_t a = pool.open(), b = pool.open(), c = pool.open();
  ASSERT_TRUE(pool.append(a, 5));   // pages 0, 1
  ASSERT_TRUE(pool.append(b, 4));   // page 2
  ASSERT_TRUE(pool.append(c, 9));   // pages 3, 4, 5
  ASSERT_TRUE(pool.append(a, 1));   // a: 6 tokens, still 2 pages
  PagedKvBatch batch(ATTNB_DEVICE_CPU, 4, 16);
  batch.clear();
  pool.describe(batch, a, 1);
  pool.describe(batch, c, 9);
  const AttnbPagedKv& kv = pool.publish(batch);
  EXPECT_EQ(kv.batch, 2);
  EXPECT_EQ(kv.pages, pool.data());
  EXPECT_EQ(kv.page_bytes, 64u);
  EXPECT_EQ(kv.num_pages, 16);
  EXPECT_EQ(std::vector<int32_t>(kv.page_indptr, kv.page_indptr + 3), (std::vector<int32_t>{0, 2, 5}));
  EXPECT_EQ(std::vector<int32_t>(kv.page_indices, kv.page_indices + 5), (std::vector<int32_t>{0, 1, 3, 4, 5}));
  EXPECT_EQ(std::vector<int32_t>(kv.last_page_len, kv.last_page_len + 2), (std::vector<int32_t>{2, 1}));
  EXPECT_EQ(std::vector<int32_t>(batch.token_indptr(), batch.token_indptr() + 3), (std::vector<int32_t>{0, 1, 10}));
  EXPECT_EQ(batch.tokens(), 10);
  EXPECT_EQ(kv.page_indptr, kv.page_indptr_host);  // one copy on the CPU

  // Refilling and publishing again, appending and releasing: no allocation at all.
  ASSERT_TRUE(hot_path_allocations_counted());
  EXPECT_EQ(allocations_during([&] {
              for (int i = 0; i < 100; ++i) {
                batch.clear();
                pool.describe(batch, b, 4);
                pool.describe(batch, a, 6);
                pool.publish(batch);
                const int32_t d = pool.open();
                pool.append(d, 7);
                pool.append(d, 1);
                pool.release(d);
              }
            }),
            0u);
  std::size_t length = 0;
  EXPECT_GT(allocations_during([&] { length = std::string(100, 'x').size(); }), 0u)
      << "the counter counts nothing";
  EXPECT_EQ(length, 100u);
  EXPECT_THROW(pool.describe(batch, b, 5), std::logic_error);  // more new tokens than its length
}

TEST(KvPool, DescribesABatchOnTheGpu) {
  ATTNB_SKIP_WITHOUT_GPU();
#ifdef ATTNB_WITH_CUDA
  KvPool pool(ATTNB_DEVICE_CUDA, 4, 64, 16, 4, 64);
  const int32_t a = pool.open(), b = pool.open();
  ASSERT_TRUE(pool.append(a, 5));   // pages 0, 1
  ASSERT_TRUE(pool.append(b, 12));  // pages 2, 3, 4
  PagedKvBatch batch(ATTNB_DEVICE_CUDA, 4, 16);
  batch.clear();
  pool.describe(batch, b, 1);
  pool.describe(batch, a, 5);
  const AttnbPagedKv& kv = pool.publish(batch);
  EXPECT_NE(kv.page_indptr, kv.page_indptr_host);  // a device copy on CUDA
  auto download = [](const int32_t* device_ptr, std::size_t count) {
    std::vector<int32_t> out(count);
    EXPECT_EQ(cudaMemcpy(out.data(), device_ptr, count * sizeof(int32_t), cudaMemcpyDeviceToHost), cudaSuccess);
    return out;
  };
  EXPECT_EQ(download(kv.page_indptr, 3), (std::vector<int32_t>{0, 3, 5}));
  EXPECT_EQ(download(kv.page_indices, 5), (std::vector<int32_t>{2, 3, 4, 0, 1}));
  EXPECT_EQ(download(kv.last_page_len, 2), (std::vector<int32_t>{4, 1}));
  EXPECT_EQ(download(batch.token_indptr(), 3), (std::vector<int32_t>{0, 1, 6}));
#endif
}
