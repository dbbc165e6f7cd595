// The int8_kv format's arithmetic and sizes: quantize/dequantize round trips within s/2,
// scales that are never zero or infinite, power-of-two channel divisors, the byte tricks the
// GPU uses to widen int8, and the page size and traffic the plugin reports (scales included).
#include "test_support.hpp"

#include "../plugins/int8_kv/int8_kv_format.hpp"

#include <attnbench/core/validation.hpp>
#include <attnbench/problem_checks.hpp>

#include <cfloat>
#include <cmath>
#include <limits>
#include <random>

using namespace attnbench;
using namespace attnbench::int8_kv;

namespace {

// Quantizes a row with its own scale and reads it back; returns the scale.
float round_trip(const std::vector<float>& x, std::vector<float>& back) {
  float absmax = 0;
  for (float v : x) absmax = std::max(absmax, std::fabs(v));
  const float s = quant_scale(absmax);
  back.resize(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) back[i] = static_cast<float>(quantize(x[i], s)) * s;
  return s;
}

TEST(Int8Quantization, RoundTripIsWithinHalfAStep) {
  std::mt19937_64 rng(std::random_device{}());
  std::normal_distribution<float> normal;
  std::vector<float> back;
  for (float magnitude : {1e-20f, 1e-3f, 1.0f, 37.0f, 6e4f, 1e30f})
    for (int row = 0; row < 200; ++row) {
      std::vector<float> x(128);
      for (float& v : x) v = normal(rng) * magnitude;
      const float s = round_trip(x, back);
      float absmax = 0;
      for (float v : x) absmax = std::max(absmax, std::fabs(v));
      EXPECT_FLOAT_EQ(s, absmax / 127.0f);
      for (std::size_t i = 0; i < x.size(); ++i)  // s/2, plus the fp32 rounding of x / s and q * s
        ASSERT_LE(std::fabs(x[i] - back[i]), s / 2 * (1 + 1e-5f)) << "magnitude " << magnitude;
    }
}

TEST(Int8Quantization, TheLargestElementIsExactAndTiesRoundToEven) {
  const std::vector<float> x = {-127.0f, 63.5f, 62.5f, 0.25f};  // scale exactly 1
  std::vector<float> back;
  EXPECT_EQ(round_trip(x, back), 1.0f);
  EXPECT_EQ(back, (std::vector<float>{-127.0f, 64.0f, 62.0f, 0.0f}));
}

TEST(Int8Quantization, ScalesAreNeverZeroOrInfinite) {
  // An all-zero row: a positive scale, zeros stored, zeros read back, no 0/0.
  const std::vector<float> zeros(64, 0.0f);
  std::vector<float> back;
  const float s = round_trip(zeros, back);
  EXPECT_GT(s, 0.0f);
  EXPECT_EQ(s, kMinScale);
  for (float v : back) EXPECT_EQ(v, 0.0f);
  // Tiny, huge and non-finite magnitudes keep a finite, positive scale and finite values.
  for (float absmax : {0.0f, 1e-38f, 1.0f, FLT_MAX, std::numeric_limits<float>::infinity(),
                       std::numeric_limits<float>::quiet_NaN()}) {
    const float scale = quant_scale(absmax);
    EXPECT_TRUE(std::isfinite(scale) && scale > 0) << absmax;
    EXPECT_TRUE(std::isfinite(127.0f * scale)) << absmax;
  }
  EXPECT_EQ(quantize(std::numeric_limits<float>::quiet_NaN(), 1.0f), -127);  // defined, not UB
  EXPECT_EQ(quantize(1e9f, 1.0f), 127);                                      // clamped
}

TEST(Int8Quantization, ChannelExponentsArePowersOfTwoBelowTheDivisor) {
  for (float d : {1e-30f, 0.3f, 1.0f, 1.5f, 2.0f, 1000.0f, 1e37f}) {
    const int e = channel_exponent(d);
    EXPECT_LE(pow2(e), d) << d;
    EXPECT_GT(2 * static_cast<double>(pow2(e)), d) << d;
  }
  EXPECT_EQ(channel_exponent(0.0f), channel_exponent(kMinScale));  // floored, never -inf
  EXPECT_EQ(channel_exponent(3e38f), kMaxExponent);  // clamped: 2^-e stays a normal float
  EXPECT_EQ(channel_exponent(std::numeric_limits<float>::infinity()), kMaxExponent);
  EXPECT_EQ(pow2(-3), 0.125f);
  // A channel gets its own divisor only when it stands out from the mean magnitude.
  EXPECT_EQ(choose_channel_exponent(2.5f, 0.8f, 0.0f), channel_exponent(kOutlierRatio * 0.8f));
  EXPECT_EQ(choose_channel_exponent(40.0f, 0.8f, 0.0f), 5);
  EXPECT_EQ(choose_channel_exponent(1.0f, 0.8f, 64.0f), 6);  // inherited from the previous page
}

TEST(Int8Quantization, PerChannelRoundTripIsWithinHalfAStepOfTheSmoothedRow) {
  std::mt19937_64 rng(std::random_device{}());
  std::normal_distribution<float> normal;
  std::vector<float> x(128), smoothed(128), back;
  std::vector<int8_t> e(128);
  for (int row = 0; row < 100; ++row) {
    float sum = 0;
    for (int c = 0; c < 128; ++c) {
      x[c] = normal(rng) * (c % 31 == 0 ? 40.0f : 1.0f);  // outlier channels
      sum += std::fabs(x[c]);
    }
    for (int c = 0; c < 128; ++c) {
      e[c] = choose_channel_exponent(std::fabs(x[c]), sum / 128, 0.0f);
      smoothed[c] = x[c] * pow2(-e[c]);
    }
    const float s = round_trip(smoothed, back);
    for (int c = 0; c < 128; ++c)
      ASSERT_LE(std::fabs(x[c] - back[c] * pow2(e[c])), pow2(e[c]) * s / 2 * (1 + 1e-5f));
  }
}

TEST(Int8Quantization, ByteTrickWidensEveryInt8Exactly) {
  for (int value = -128; value <= 127; ++value)
    for (int lane = 0; lane < 4; ++lane) {
      const uint32_t filler = 0x5a5a5a5au;  // other bytes must not leak in
      const uint32_t word = (filler & ~(0xffu << (8 * lane))) | (static_cast<uint32_t>(value & 0xff) << (8 * lane));
      float out[4];
      int8x4_to_float(word, out);
      EXPECT_EQ(out[lane], static_cast<float>(value)) << value << " in byte " << lane;
      EXPECT_EQ(out[(lane + 1) % 4], static_cast<float>(static_cast<int8_t>(0x5a)));
    }
}

AttnbProblem int8_problem(int32_t q_heads, int32_t kv_heads, int32_t head_dim, int32_t page_size, int32_t mode) {
  AttnbProblem p = make_problem(ATTNB_DEVICE_CPU, ATTNB_DTYPE_F16, q_heads, kv_heads, head_dim, true, 0, 1, 1, 1, page_size);
  p.kv_cache_dtype = ATTNB_DTYPE_INT8;
  p.kv_quant_mode = mode;
  return p;
}

TEST(Int8KvFormat, PageBytesIncludeTheScales) {
  const auto plugin = test::plugin("int8_kv");
  ASSERT_NE(plugin, nullptr);
  for (int32_t heads : {1, 3, 8})
    for (int32_t page : {1, 7, 16})
      for (int32_t d : {64, 128})
        for (int32_t mode : {ATTNB_KV_QUANT_PER_TOKEN, ATTNB_KV_QUANT_K_PER_CHANNEL}) {
          const AttnbProblem p = int8_problem(heads, heads, d, page, mode);
          // int8 K and V, an fp32 scale per token, head and K/V (padded to 16 bytes), and one
          // exponent byte per K channel and head with per-channel scales.
          const std::size_t scales = (8u * heads * page + 15) / 16 * 16;
          const std::size_t expected = 2u * heads * page * d + scales +
                                       (mode == ATTNB_KV_QUANT_K_PER_CHANNEL ? 1u * heads * d : 0u);
          EXPECT_EQ(plugin->kv_page_bytes(p), expected) << heads << " heads, page " << page << ", d " << d;
          EXPECT_EQ(expected % 16, 0u);  // pages stay aligned for 16-byte loads
        }
}

TEST(Int8KvFormat, TrafficCountsValuesAndScales) {
  const auto plugin = test::plugin("int8_kv");
  ASSERT_NE(plugin, nullptr);
  // 32 query heads over 8 KV heads of 128: 2 * 8 * 128 int8 + 2 * 8 fp32 scales per token.
  AttnbProblem p = int8_problem(32, 8, 128, 16, ATTNB_KV_QUANT_PER_TOKEN);
  AttnbTraffic t = plugin->decode_traffic(p, 4096);
  EXPECT_DOUBLE_EQ(t.kv_bytes_per_token, 2112.0);  // fp16: 4096
  EXPECT_DOUBLE_EQ(t.kv_bytes_read, 2112.0 * 4096);
  EXPECT_DOUBLE_EQ(t.other_bytes_read, 32.0 * 128 * 2);  // Q in fp16
  EXPECT_DOUBLE_EQ(t.flops, 4.0 * 32 * 128 * 4096);
  // Per-channel K adds 8 * 128 exponent bytes per page: 64 per token at 16 tokens a page.
  p.kv_quant_mode = ATTNB_KV_QUANT_K_PER_CHANNEL;
  t = plugin->decode_traffic(p, 4096);
  EXPECT_DOUBLE_EQ(t.kv_bytes_per_token, 2176.0);
  EXPECT_DOUBLE_EQ(t.kv_bytes_read, 2112.0 * 4096 + 256 * 1024.0);
  // A window reads only the pages it touches: tokens 4090..4099 span pages 255 and 256.
  p.window = 10;
  t = plugin->decode_traffic(p, 4100);
  EXPECT_DOUBLE_EQ(t.kv_bytes_read, 2112.0 * 10 + 2 * 1024.0);
}

TEST(Int8KvFormat, PerChannelModeNeedsTheFlag) {
  const auto plugin = test::plugin("int8_kv");
  ASSERT_NE(plugin, nullptr);
  const AttnbProblem p = int8_problem(8, 2, 128, 16, ATTNB_KV_QUANT_K_PER_CHANNEL);
  EXPECT_EQ(plugin->why_not(p), "");
  AttnbDescriptor without = plugin->descriptor();
  without.flags &= ~static_cast<uint32_t>(ATTNB_FLAG_K_PER_CHANNEL_SCALES);
  EXPECT_EQ(problem_outside_descriptor(without, p), "per-channel K scales not supported");
  AttnbProblem unknown = p;
  unknown.kv_quant_mode = 7;
  EXPECT_NE(plugin->why_not(unknown).find("unknown kv_quant_mode"), std::string::npos);
  // The cache is int8 only: an fp16 cache is refused with the reason.
  AttnbProblem fp16_cache = p;
  fp16_cache.kv_cache_dtype = ATTNB_DTYPE_F16;
  EXPECT_NE(plugin->why_not(fp16_cache).find("KV cache dtype fp16 not supported"), std::string::npos);
}

}  // namespace
