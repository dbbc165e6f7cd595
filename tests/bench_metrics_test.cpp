// The metric formulas against cases computed by hand.
#include <attnbench/core/metrics.hpp>
#include <attnbench/core/validation.hpp>
#include <attnbench/plugin.hpp>

#include <gtest/gtest.h>

using namespace attnbench;

TEST(Metrics, AttendedPairsByMask) {
  EXPECT_DOUBLE_EQ(attended_pairs(10, false, 0), 100);
  EXPECT_DOUBLE_EQ(attended_pairs(10, true, 0), 50);
  EXPECT_DOUBLE_EQ(attended_pairs(10, true, 4), 10 * 4 - 8);  // S*W - W^2/2
  EXPECT_DOUBLE_EQ(attended_pairs(10, true, 10), 50);          // a window as wide as S: none
  EXPECT_DOUBLE_EQ(attended_pairs(10, true, 99), 50);
}

TEST(Metrics, PrefillFlopsFollowTheFlashAttentionConvention) {
  // Issue 6's prefill target shape: 2*2*B*H*S^2*D/2 with B=4, H=32, S=4096, D=128.
  EXPECT_DOUBLE_EQ(prefill_flops(4, 32, 128, 4096, true, 0), 549755813888.0);
  EXPECT_DOUBLE_EQ(prefill_flops(4, 32, 128, 4096, false, 0), 2 * 549755813888.0);
  EXPECT_DOUBLE_EQ(prefill_flops(1, 1, 2, 3, false, 0), 4.0 * 2 * 9);
}

TEST(Metrics, PrefillBytesCountEveryTensorOnce) {
  // fp16, Hq=4, Hkv=2, D=8: Q+O = 2*4*8*2 = 128 B/token, new K/V = 2*2*8*2 = 64 B/token,
  // cache written + read = 2 * 64 B/token (plain format) -> 320 B/token; 3 * 5 tokens.
  const AttnbProblem p = make_problem(ATTNB_DEVICE_CPU, ATTNB_DTYPE_F16, 4, 2, 8, true, 0, 3, 15, 5);
  EXPECT_DOUBLE_EQ(prefill_bytes(p, 64, 3, 5), 15 * 320.0);
}

TEST(Metrics, DecodeStepScalesThePluginsReportByBatch) {
  // The plain format, MHA 32 heads x 128, fp16, 4096 cached tokens: 16 KiB per token.
  AttnbProblem p = make_problem(ATTNB_DEVICE_CUDA, ATTNB_DTYPE_F16, 32, 32, 128, true, 0, 8, 8, 4096);
  const AttnbTraffic t = plain_decode_traffic(p, 4096);
  EXPECT_DOUBLE_EQ(t.kv_bytes_per_token, 16384);
  const StepTraffic s = decode_step_traffic(t, 8);
  EXPECT_DOUBLE_EQ(s.kv_bytes_read, 8 * 16384.0 * 4096);
  EXPECT_DOUBLE_EQ(s.other_bytes_read, 8 * 8192.0);
  EXPECT_DOUBLE_EQ(s.bytes_written, 8 * (8192.0 + 16384.0));
  EXPECT_DOUBLE_EQ(s.flops, 8 * 4.0 * 32 * 128 * 4096);
  EXPECT_DOUBLE_EQ(s.bytes(), s.kv_bytes_read + s.other_bytes_read + s.bytes_written);
}

TEST(Metrics, KvCacheBytesAcrossLayers) {
  // Llama-3-8B-like: 8 KV heads x 128 x fp16 x K,V = 4 KiB per token per layer, 32 layers.
  EXPECT_DOUBLE_EQ(kv_cache_bytes(4096, 8192, 32), 1073741824.0);  // 1 GiB for 8K tokens
}

TEST(Metrics, TokensPerSecond) {
  EXPECT_DOUBLE_EQ(tokens_per_second(64, 0.002), 32000);
  EXPECT_DOUBLE_EQ(tokens_per_second(64, 0), 0);
}

TEST(Metrics, RooflineFractionsAndBound) {
  // 3 GB and 0.3 TFLOP in 1.5 ms against 3 TB/s and 900 TFLOP/s ceilings.
  const Roofline r = roofline(3e9, 3e11, 1.5e-3, 3e12, 9e14);
  EXPECT_DOUBLE_EQ(r.bytes_per_s, 2e12);
  EXPECT_DOUBLE_EQ(r.flops_per_s, 2e14);
  EXPECT_NEAR(r.bandwidth_fraction, 2.0 / 3.0, 1e-15);
  EXPECT_NEAR(r.compute_fraction, 2.0 / 9.0, 1e-15);
  EXPECT_DOUBLE_EQ(r.arithmetic_intensity, 100);
  EXPECT_DOUBLE_EQ(r.ridge_intensity, 300);
  EXPECT_TRUE(r.memory_bound());
  EXPECT_FALSE(roofline(1, 1000, 1, 3e12, 9e14).memory_bound());  // 1000 flops/B > 300
  EXPECT_DOUBLE_EQ(roofline(1, 1, 0, 1, 1).bytes_per_s, 0);        // no time, no rate
}
