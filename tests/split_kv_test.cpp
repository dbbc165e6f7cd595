// The split-KV plan shared by the fused and int8_kv decode kernels (plugins/common/split_kv.hpp):
// how keys are cut into splits, and how many splits a decode call gets. The counts below
// are those the H100 runs used (results/h100/README.md): 132 SMs x 3 resident blocks.
#include "../plugins/common/split_kv.hpp"

#include <gtest/gtest.h>

namespace {

using attnbench::plain_kv::first_fresh_tile;
using attnbench::plain_kv::plan_splits;
using attnbench::plain_kv::split_capacity;
using attnbench::plain_kv::split_range;
using attnbench::plain_kv::split_slots;

constexpr int32_t kSms = 132;
constexpr int64_t kResident = kSms * 3;

TEST(SplitRange, SplitsCoverTheKeysOnceOnTileBoundaries) {
  for (int64_t lo : {0, 5, 100})
    for (int64_t hi : {lo, lo + 1, lo + 63, lo + 64, lo + 1000})
      for (int32_t splits : {1, 2, 3, 7, 64}) {
        int64_t next = lo;
        for (int32_t s = 0; s < splits; ++s) {
          const auto r = split_range(lo, hi, s, splits, 64);
          ASSERT_EQ(r.begin, next) << lo << ".." << hi << " split " << s << "/" << splits;
          ASSERT_LE(r.begin, r.end);
          if (r.end < hi) EXPECT_EQ((r.begin - lo) % 64, 0);  // whole tiles but the last
          next = r.end;
        }
        EXPECT_EQ(next, hi);
      }
}

// A decode started early waits before the first of its tiles that holds a key the append
// may still be writing, and never when none of its tiles does.
TEST(FirstFreshTile, IsTheFirstTileHoldingAFreshKey) {
  for (int64_t begin : {0, 64, 100})
    for (int64_t end : {begin, begin + 1, begin + 64, begin + 65, begin + 300})
      for (int64_t kv_len : {end, end + 1, end + 200})
        for (int64_t fresh : {0, 1, 2, 64, 65, 1000}) {
          const int64_t first_fresh = kv_len - fresh;
          int32_t want = -1;
          for (int64_t key = begin; key < end && want < 0; ++key)
            if (key >= first_fresh) want = static_cast<int32_t>((key - begin) / 64);
          EXPECT_EQ(first_fresh_tile(first_fresh, begin, end, 64), want)
              << "keys " << begin << ".." << end << " of " << kv_len << ", " << fresh << " fresh";
        }
}

TEST(PlanSplits, AsManyAsOneWaveOfResidentBlocksHolds) {
  // 32 sequences x 8 KV heads = 256 blocks: a second split would not fit one wave.
  EXPECT_EQ(plan_splits(0, 4096, 256, kResident, 64, 64), 1);
  // 8 x 8 = 64 blocks: 6 splits make 384 of the 396.
  EXPECT_EQ(plan_splits(0, 32768, 64, kResident, 64, 64), 6);
  // Two blocks an SM (the fused decode with three stages): 4 splits.
  EXPECT_EQ(plan_splits(0, 32768, 64, 2 * kSms, 64, 64), 4);
  // Batch 1: 49 splits of 8 blocks, or what the workspace holds.
  EXPECT_EQ(plan_splits(0, 65536, 8, kResident, 64, 64), 49);
  EXPECT_EQ(plan_splits(0, 65536, 8, kResident, 64, 16), 16);
}

TEST(PlanSplits, OneSplitWhereSplittingCannotPay) {
  EXPECT_EQ(plan_splits(0, 32768, 1024, kResident, 64, 64), 1);  // the grid fills the device
  EXPECT_EQ(plan_splits(0, 200, 8, kResident, 64, 64), 1);       // under 4 tiles a split
  EXPECT_EQ(plan_splits(0, 65536, 8, 0, 64, 64), 1);             // the CPU: no resident count
}

TEST(PlanSplits, ARequestIsTakenWithinTheCapacity) {
  EXPECT_EQ(plan_splits(4, 100, 1024, kResident, 64, 64), 4);
  EXPECT_EQ(plan_splits(32, 100, 8, kResident, 64, 16), 16);
}

TEST(SplitCapacity, EveryBatchUpToTheMaximumFitsTheWorkspace) {
  for (int64_t max_batch : {1, 7, 32, 128, 1000})
    for (int64_t batch = 1; batch <= max_batch; batch += 1 + batch / 3) {
      const int32_t capacity = split_capacity(max_batch, 64, batch);
      EXPECT_GE(capacity, 1);
      EXPECT_LE(capacity, 64);
      EXPECT_LE(batch * capacity, split_slots(max_batch, 64)) << max_batch << " " << batch;
    }
  EXPECT_EQ(split_capacity(128, 64, 1), 64);  // a batch of one gets the most
}

}  // namespace
