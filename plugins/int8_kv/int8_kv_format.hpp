// The int8_kv cache format and its quantization arithmetic, shared by the CPU path, the CUDA
// kernels and the tests (host and device code, so both round exactly the same way).
//
// One page of `page_size` tokens, for H KV heads of dimension D:
//
//   K values   int8  [H][page_size][D]   (head-major: one head's rows are contiguous)
//   V values   int8  [H][page_size][D]
//   K scales   fp32  [H][page_size]      one symmetric scale per token and head
//   V scales   fp32  [H][page_size]
//   (padding to 16 bytes)
//   K channel exponents  int8 [H][D]     only with per-channel K scales (see below)
//
// A value x of a row with scale s is stored as q = round(x / s), s = max|row| / 127, and read
// back as q * s: the error is at most s / 2 = max|row| / 254 per element.
//
// Per-channel K (ATTNB_KV_QUANT_K_PER_CHANNEL): real keys have a few channels far larger
// than the rest, and one per-token scale then spends its 255 steps on those channels. Each
// page and KV head keeps a power-of-two divisor 2^e[c] per channel, fixed when the page's
// first token is written; K is stored as the per-token quantization of k[c] / 2^e[c] and read
// back as q * s * 2^e[c]. Because the per-token scale still follows each token's own range,
// a divisor chosen from early tokens never clips a later one: it can only be less ideal.
// Powers of two cost one byte per channel and divide exactly.
#pragma once

#include "../common/plain_kv_layout.hpp"  // ATTNB_HD, sequence_length, first_visible

#include <attnbench/abi.h>

#include <cmath>
#include <cstddef>
#include <cstdint>

namespace attnbench::int8_kv {

constexpr float kQmax = 127.0f;
// Scales are clamped into [kMinScale, kMaxScale]: never zero (an all-zero row stores zeros
// with this scale, no 0/0) and never infinite (q * s stays finite).
constexpr float kMinScale = 1e-30f;
constexpr float kMaxScale = 2.6e36f;  // 127 * kMaxScale < FLT_MAX
// Channel exponents stay where 2^e and 2^-e are normal floats.
constexpr int32_t kMinExponent = -126;
constexpr int32_t kMaxExponent = 126;

ATTNB_HD float as_float(uint32_t bits) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(bits);
#else
  float f;
  __builtin_memcpy(&f, &bits, 4);
  return f;
#endif
}

ATTNB_HD uint32_t as_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  __builtin_memcpy(&u, &f, 4);
  return u;
#endif
}

// The symmetric scale of a row whose largest magnitude is `absmax`.
ATTNB_HD float quant_scale(float absmax) {
  return fminf(fmaxf(absmax / kQmax, kMinScale), kMaxScale);  // fmaxf also drops a NaN
}

ATTNB_HD int8_t quantize(float x, float scale) {
  // Clamp after rounding; a NaN input lands on -127 rather than undefined behaviour.
  return static_cast<int8_t>(fminf(fmaxf(rintf(x / scale), -kQmax), kQmax));
}

// 2^e for kMinExponent <= e <= kMaxExponent, built from its bits (exact, no libm).
ATTNB_HD float pow2(int32_t e) { return as_float(static_cast<uint32_t>(e + 127) << 23); }

// The channel exponent e with 2^e <= divisor < 2^(e+1) (clamped to the allowed range).
ATTNB_HD int8_t channel_exponent(float divisor) {
  const int32_t e = static_cast<int32_t>((as_bits(fmaxf(divisor, kMinScale)) >> 23) & 0xffu) - 127;
  return static_cast<int8_t>(e < kMinExponent ? kMinExponent : e > kMaxExponent ? kMaxExponent : e);
}

// A channel gets a divisor of its own only when it stands out: its largest magnitude is
// above kOutlierRatio times the mean magnitude of the rows. The other channels share that
// common floor, a uniform divisor that changes nothing (the per-token scale absorbs it), so
// ordinary channels keep exactly the per-token precision.
constexpr float kOutlierRatio = 4.0f;

// The divisor of one channel for a new page, from the new tokens that land in the page: the
// channel's largest magnitude, raised to the common floor, and to the previous page's divisor
// when that page was written before (a decode step opening a page alone inherits the channel
// profile measured over a whole page; 0 when there is none).
ATTNB_HD int8_t choose_channel_exponent(float channel_absmax, float mean_abs, float inherited) {
  return channel_exponent(fmaxf(fmaxf(channel_absmax, kOutlierRatio * mean_abs), inherited));
}

// Where everything lives in a page; offsets in bytes from the page's start.
struct Layout {
  int32_t num_kv_heads;
  int32_t page_size;
  int32_t head_dim;
  bool k_per_channel;
  std::size_t page_bytes;  // stride between pages, as the host allocated them

  ATTNB_HD std::size_t plane() const {
    return static_cast<std::size_t>(num_kv_heads) * page_size * head_dim;
  }
  ATTNB_HD std::size_t scales_bytes() const {
    return (2 * sizeof(float) * static_cast<std::size_t>(num_kv_heads) * page_size + 15) / 16 * 16;
  }
  ATTNB_HD std::size_t values_offset(int32_t head, int32_t slot, bool is_v) const {
    return (is_v ? plane() : 0) + (static_cast<std::size_t>(head) * page_size + slot) * head_dim;
  }
  ATTNB_HD std::size_t scale_offset(int32_t head, int32_t slot, bool is_v) const {
    const std::size_t index = (is_v ? static_cast<std::size_t>(num_kv_heads) * page_size : 0) +
                              static_cast<std::size_t>(head) * page_size + slot;
    return 2 * plane() + index * sizeof(float);
  }
  ATTNB_HD std::size_t exponents_offset(int32_t head) const {
    return 2 * plane() + scales_bytes() + static_cast<std::size_t>(head) * head_dim;
  }
  // Bytes one page needs: a multiple of 16, so 16-byte loads stay aligned on every page.
  ATTNB_HD std::size_t required_page_bytes() const {
    return 2 * plane() + scales_bytes() +
           (k_per_channel ? static_cast<std::size_t>(num_kv_heads) * head_dim : 0);
  }
};

inline Layout layout_of(const AttnbProblem& p, std::size_t page_bytes) {
  return {p.num_kv_heads, p.page_size, p.head_dim, p.kv_quant_mode == ATTNB_KV_QUANT_K_PER_CHANNEL,
          page_bytes};
}

// The bytes of `x` (four int8 in a word), as floats, with integer and add instructions only:
// byte + 128 is placed in the mantissa of 2^23, so the float is exactly 2^23 + byte + 128.
// On the GPU this replaces the slow int-to-float conversion unit in the decode loop.
ATTNB_HD uint32_t select_bytes(uint32_t x, uint32_t y, uint32_t selector) {
#if defined(__CUDA_ARCH__)
  return __byte_perm(x, y, selector);
#else
  const uint64_t input = x | (static_cast<uint64_t>(y) << 32);
  uint32_t out = 0;
  for (uint32_t n = 0; n < 4; ++n)
    out |= static_cast<uint32_t>((input >> (8 * ((selector >> (4 * n)) & 7u))) & 0xffu) << (8 * n);
  return out;
#endif
}

ATTNB_HD void int8x4_to_float(uint32_t word, float* out) {
  const uint32_t biased = word ^ 0x80808080u;  // each byte now holds value + 128, unsigned
  for (uint32_t i = 0; i < 4; ++i)
    out[i] = as_float(select_bytes(biased, 0x4b000000u, 0x7540u + i)) - 8388736.0f;  // 2^23+128
}

}  // namespace attnbench::int8_kv
