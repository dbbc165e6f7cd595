// What mqa, gqa and sliding_window report through decode_traffic and kv_page_bytes, against
// the formulas their READMEs state: a token stores K and V for each KV head,
//   bytes per token = 2 * kv_heads * head_dim * element size,
// a decode step reads that for every token it can see (all of them, or the last W), reads
// Q, and writes O and the new token. The formulas are written out here, not borrowed from
// the SDK, so a change on either side shows.
#include "test_support.hpp"

#include <attnbench/core/validation.hpp>
#include <attnbench/numeric.hpp>

#include <algorithm>

using namespace attnbench;

namespace {

struct Shape {
  const char* plugin;
  int32_t q_heads, kv_heads, head_dim, window;
};

void expect_formula(const Shape& s, int32_t dtype, int64_t kv_len) {
  const auto plugin = test::plugin(s.plugin);
  ASSERT_NE(plugin, nullptr);
  AttnbProblem p = make_problem(ATTNB_DEVICE_CPU, dtype, s.q_heads, s.kv_heads, s.head_dim, true, s.window, 1, 1, 1);
  ASSERT_EQ(plugin->why_not(p), "");
  const double elem = static_cast<double>(dtype_size(dtype));
  const double per_token = 2.0 * s.kv_heads * s.head_dim * elem;
  const int64_t visible = s.window > 0 ? std::min<int64_t>(kv_len, s.window) : kv_len;
  const double q_bytes = static_cast<double>(s.q_heads) * s.head_dim * elem;
  const AttnbTraffic t = plugin->decode_traffic(p, kv_len);
  const std::string what = std::string(s.plugin) + " " + std::to_string(s.q_heads) + "/" +
                           std::to_string(s.kv_heads) + " D " + std::to_string(s.head_dim) + " W " +
                           std::to_string(s.window) + " " + dtype_name(dtype) + " kv_len " +
                           std::to_string(kv_len);
  EXPECT_EQ(t.kv_bytes_per_token, per_token) << what;
  EXPECT_EQ(t.kv_bytes_read, per_token * static_cast<double>(visible)) << what;
  EXPECT_EQ(t.other_bytes_read, q_bytes) << what;
  EXPECT_EQ(t.bytes_written, q_bytes + per_token) << what;  // O, and the token appended
  EXPECT_EQ(t.flops, 4.0 * s.q_heads * s.head_dim * static_cast<double>(visible)) << what;
  EXPECT_EQ(plugin->kv_page_bytes(p), static_cast<std::size_t>(per_token) * p.page_size) << what;
}

TEST(VariantTraffic, ReportedBytesMatchTheFormula) {
  const Shape shapes[] = {
      {"gqa", 32, 8, 128, 0},  {"gqa", 8, 8, 64, 0},   {"gqa", 8, 1, 128, 0},
      {"mqa", 32, 1, 128, 0},  {"mqa", 8, 1, 64, 0},   {"sliding_window", 32, 8, 128, 4096},
      {"sliding_window", 8, 2, 64, 1}, {"sliding_window", 8, 8, 64, 0},
  };
  for (const Shape& s : shapes)
    for (int32_t dtype : {ATTNB_DTYPE_F32, ATTNB_DTYPE_F16, ATTNB_DTYPE_BF16})
      for (int64_t kv_len : {1, 17, 4096, 4097, 100000}) expect_formula(s, dtype, kv_len);
}

double read_per_step(const char* plugin, int32_t q_heads, int32_t kv_heads, int32_t window, int64_t kv_len) {
  const AttnbProblem p = make_problem(ATTNB_DEVICE_CPU, ATTNB_DTYPE_F16, q_heads, kv_heads, 128, true, window, 1, 1, 1);
  return test::plugin(plugin)->decode_traffic(p, kv_len).kv_bytes_read;
}

// The Llama-3-8B-like shape the READMEs work through: 32 query heads, 128 dims, fp16, 8K context.
TEST(VariantTraffic, WhatEachVariantSavesOnALlamaShape) {
  const int64_t context = 8192;
  const double mha = read_per_step("mha", 32, 32, 0, context);
  EXPECT_EQ(mha, 128.0 * 1024 * 1024);                                 // 16 KiB a token
  EXPECT_EQ(read_per_step("gqa", 32, 8, 0, context), mha / 4);         // 8 KV heads
  EXPECT_EQ(read_per_step("mqa", 32, 1, 0, context), mha / 32);        // 1 KV head
  EXPECT_EQ(read_per_step("sliding_window", 32, 8, 4096, context), mha / 8);
  // Past the window, a longer context costs a windowed decode step nothing more.
  EXPECT_EQ(read_per_step("sliding_window", 32, 8, 4096, 100000), mha / 8);
}

}  // namespace
