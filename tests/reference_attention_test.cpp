// The oracle itself, against cases small enough to work out by hand.
#include <attnbench/core/reference_attention.hpp>

#include <gtest/gtest.h>

#include <cmath>

using namespace attnbench;

namespace {
AttentionShape shape(int32_t hq, int32_t hkv, int32_t d, std::vector<int32_t> q_indptr,
                     std::vector<int32_t> kv_indptr, bool causal = true, int32_t window = 0) {
  AttentionShape s;
  s.num_q_heads = hq;
  s.num_kv_heads = hkv;
  s.head_dim = d;
  s.causal = causal;
  s.window = window;
  s.q_indptr = std::move(q_indptr);
  s.kv_indptr = std::move(kv_indptr);
  return s;
}
}  // namespace

TEST(ReferenceAttention, SingleKeyReturnsItsValue) {
  const auto o = reference_attention(shape(1, 1, 2, {0, 1}, {0, 1}), {3, -1}, {0.5, 2}, {7, -8});
  EXPECT_DOUBLE_EQ(o[0], 7);
  EXPECT_DOUBLE_EQ(o[1], -8);
}

TEST(ReferenceAttention, TwoKeysWeighedBySoftmax) {
  // q = (1, 0), keys (0, 0) and (sqrt(2) * ln 3, 0), scale 1/sqrt(2): scores 0 and ln 3,
  // weights 1/4 and 3/4.
  const double k1 = std::sqrt(2.0) * std::log(3.0);
  const auto o = reference_attention(shape(1, 1, 2, {0, 1}, {0, 2}), {1, 0}, {0, 0, k1, 0},
                                     {4, 0, 8, 4});
  EXPECT_NEAR(o[0], 0.25 * 4 + 0.75 * 8, 1e-12);
  EXPECT_NEAR(o[1], 0.75 * 4, 1e-12);
}

TEST(ReferenceAttention, CausalQueriesSeeOnlyThePast) {
  // Two queries over two keys: the first query (position 0) sees only key 0.
  const auto o = reference_attention(shape(1, 1, 1, {0, 2}, {0, 2}), {1, 1}, {0, 0}, {2, 6});
  EXPECT_DOUBLE_EQ(o[0], 2);
  EXPECT_DOUBLE_EQ(o[1], 4);  // equal scores: the mean
  const auto full = reference_attention(shape(1, 1, 1, {0, 2}, {0, 2}, false), {1, 1}, {0, 0}, {2, 6});
  EXPECT_DOUBLE_EQ(full[0], 4);
}

TEST(ReferenceAttention, WindowOfOneSeesOnlyItself) {
  const auto o = reference_attention(shape(1, 1, 1, {0, 3}, {0, 3}, true, 1), {1, 1, 1}, {0, 0, 0},
                                     {1, 2, 3});
  EXPECT_DOUBLE_EQ(o[0], 1);
  EXPECT_DOUBLE_EQ(o[1], 2);
  EXPECT_DOUBLE_EQ(o[2], 3);
}

TEST(ReferenceAttention, QueriesAreTheNewestPositions) {
  // One query over three keys sits at position 2: it sees all three (mean 2).
  const auto o = reference_attention(shape(1, 1, 1, {0, 1}, {0, 3}), {0}, {0, 0, 0}, {1, 2, 3});
  EXPECT_DOUBLE_EQ(o[0], 2);
}

TEST(ReferenceAttention, QueryHeadsShareKvHeadsByGroup) {
  // 4 query heads, 2 KV heads: heads 0,1 read KV head 0 (value 10), heads 2,3 KV head 1 (20).
  const auto o = reference_attention(shape(4, 2, 1, {0, 1}, {0, 1}), {1, 1, 1, 1}, {0, 0}, {10, 20});
  EXPECT_DOUBLE_EQ(o[0], 10);
  EXPECT_DOUBLE_EQ(o[1], 10);
  EXPECT_DOUBLE_EQ(o[2], 20);
  EXPECT_DOUBLE_EQ(o[3], 20);
}

TEST(ReferenceAttention, RaggedSequencesAreIndependent) {
  const auto o = reference_attention(shape(1, 1, 1, {0, 1, 2}, {0, 1, 3}), {0, 0}, {0, 0, 0},
                                     {5, 1, 3});
  EXPECT_DOUBLE_EQ(o[0], 5);
  EXPECT_DOUBLE_EQ(o[1], 2);
}

TEST(ReferenceAttention, RejectsMismatchedShapes) {
  EXPECT_THROW(reference_attention(shape(3, 2, 1, {0, 1}, {0, 1}), {1, 1, 1}, {0, 0}, {1, 1}),
               std::invalid_argument);
  EXPECT_THROW(reference_attention(shape(1, 1, 1, {0, 2}, {0, 1}), {1, 1}, {0}, {1}),
               std::invalid_argument);
}
