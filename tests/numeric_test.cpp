// The fp16 / bf16 conversions the CPU paths and the host rely on.
#include <attnbench/numeric.hpp>

#include <gtest/gtest.h>

#include <cmath>

using namespace attnbench;

TEST(Numeric, EveryFiniteHalfRoundTripsExactly) {
  for (uint32_t h = 0; h < 0x10000u; ++h) {
    const uint16_t bits = static_cast<uint16_t>(h);
    const float f = half_to_float(bits);
    if (std::isnan(f)) continue;
    ASSERT_EQ(float_to_half(f), bits) << "half bits " << h;
  }
}

TEST(Numeric, HalfRoundsToNearestEven) {
  EXPECT_EQ(half_to_float(float_to_half(1.0f + 1.0f / 2048)), 1.0f);            // tie -> even
  EXPECT_EQ(half_to_float(float_to_half(1.0f + 3.0f / 2048)), 1.0f + 2.0f / 1024);  // tie -> even
  EXPECT_EQ(half_to_float(float_to_half(65520.0f)), INFINITY);  // past the largest half
  EXPECT_EQ(half_to_float(float_to_half(65504.0f)), 65504.0f);
  EXPECT_EQ(half_to_float(float_to_half(5.9604645e-8f)), 5.9604645e-8f);  // smallest subnormal
  EXPECT_TRUE(std::isnan(half_to_float(float_to_half(NAN))));
}

TEST(Numeric, Bf16KeepsTheTopBitsAndRoundsToEven) {
  EXPECT_EQ(bf16_to_float(float_to_bf16(1.0f)), 1.0f);
  EXPECT_EQ(bf16_to_float(float_to_bf16(1.0f + 1.0f / 256)), 1.0f);              // tie -> even
  EXPECT_EQ(bf16_to_float(float_to_bf16(1.0f + 3.0f / 256)), 1.0f + 2.0f / 128);  // tie -> even
  EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16(NAN))));
  for (uint32_t b = 0; b < 0x10000u; b += 7) {
    const float f = bf16_to_float(static_cast<uint16_t>(b));
    if (!std::isnan(f)) ASSERT_EQ(float_to_bf16(f), b);
  }
}

TEST(Numeric, DtypeNamesParseBack) {
  for (int32_t t : {ATTNB_DTYPE_F32, ATTNB_DTYPE_F16, ATTNB_DTYPE_BF16, ATTNB_DTYPE_INT8})
    EXPECT_EQ(dtype_from_name(dtype_name(t)), t);
  EXPECT_EQ(dtype_from_name("fp8"), -1);
  EXPECT_EQ(dtype_size(ATTNB_DTYPE_BF16), 2u);
}
