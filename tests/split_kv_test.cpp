// The split-KV plan shared by the fused and int8_kv decode kernels (plugins/common/split_kv.hpp):
// how keys are cut into splits, and how many splits a decode call gets. The counts below
// are those the H100 runs used (results/h100/README.md): 132 SMs x 3 resident blocks.
#include "../plugins/common/split_kv.hpp"

#include <gtest/gtest.h>

namespace {

using attnbench::plain_kv::plan_splits;
using attnbench::plain_kv::split_capacity;
using attnbench::plain_kv::split_range;
using attnbench::plain_kv::split_slots;

constexpr int64_t kResident = 132 * 3;

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

TEST(PlanSplits, FillsTheLastWaveOfResidentBlocks) {
  // 32 sequences x 8 KV heads = 256 blocks: 0.65 of a wave; 3 splits make 1.94 waves.
  EXPECT_EQ(plan_splits(0, 4096, 256, kResident, 64, 64), 3);
  // 8 x 8 = 64 blocks: 6 splits fill 97% of one wave.
  EXPECT_EQ(plan_splits(0, 32768, 64, kResident, 64, 64), 6);
  // Batch 1: as many splits as fit one wave, within the capacity.
  EXPECT_EQ(plan_splits(0, 65536, 8, kResident, 64, 64), 45);
  EXPECT_EQ(plan_splits(0, 65536, 8, kResident, 64, 16), 15);  // within 90% of 16 splits
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
