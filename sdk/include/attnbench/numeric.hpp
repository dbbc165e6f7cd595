// Element types of the ABI on the host side: sizes, names and exact conversions for the
// 16-bit floats, so CPU paths and the host need no compiler extension (_Float16) to
// read and write fp16 / bf16 buffers. Header-only; shared by plugins and the host.
#pragma once

#include <attnbench/abi.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace attnbench {

inline std::size_t dtype_size(int32_t dtype) {
  switch (dtype) {
    case ATTNB_DTYPE_F32: return 4;
    case ATTNB_DTYPE_F16: return 2;
    case ATTNB_DTYPE_BF16: return 2;
    case ATTNB_DTYPE_INT8: return 1;
    default: return 0;
  }
}

inline const char* dtype_name(int32_t dtype) {
  switch (dtype) {
    case ATTNB_DTYPE_F32: return "fp32";
    case ATTNB_DTYPE_F16: return "fp16";
    case ATTNB_DTYPE_BF16: return "bf16";
    case ATTNB_DTYPE_INT8: return "int8";
    default: return "unknown";
  }
}

// Parses "fp32"/"f32"/"float32", "fp16"/"f16"/"float16"/"half", "bf16"/"bfloat16", "int8".
// Returns -1 for anything else.
inline int32_t dtype_from_name(std::string_view name) {
  if (name == "fp32" || name == "f32" || name == "float32") return ATTNB_DTYPE_F32;
  if (name == "fp16" || name == "f16" || name == "float16" || name == "half") return ATTNB_DTYPE_F16;
  if (name == "bf16" || name == "bfloat16") return ATTNB_DTYPE_BF16;
  if (name == "int8") return ATTNB_DTYPE_INT8;
  return -1;
}

inline const char* device_name(int32_t device) {
  return device == ATTNB_DEVICE_CUDA ? "cuda" : device == ATTNB_DEVICE_CPU ? "cpu" : "unknown";
}

inline uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

inline float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// IEEE binary16 <-> binary32, round to nearest even, with subnormals, inf and NaN.
inline uint16_t float_to_half(float f) {
  const uint32_t x = float_bits(f);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t abs = x & 0x7fffffffu;
  if (abs >= 0x7f800000u) return static_cast<uint16_t>(sign | (abs > 0x7f800000u ? 0x7e00u : 0x7c00u));
  if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds past 65504
  if (abs < 0x38800000u) {  // below the smallest normal half: a subnormal or zero
    // Add 0.5 so the FPU's own round-to-nearest-even lands on the subnormal grid.
    const float shifted = bits_float(abs) + 0.5f;
    return static_cast<uint16_t>(sign | (float_bits(shifted) - 0x3f000000u));
  }
  const uint32_t mant_odd = (abs >> 13) & 1u;
  const uint32_t rounded = abs + 0xc8000fffu + mant_odd;  // rebias exponent, round to even
  return static_cast<uint16_t>(sign | (rounded >> 13));
}

inline float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t mant = h & 0x3ffu;
  if (exp == 0) {  // zero or subnormal: mant * 2^-24
    const float value = static_cast<float>(mant) * 5.9604644775390625e-8f;
    return sign ? -value : value;
  }
  if (exp == 31) return bits_float(sign | 0x7f800000u | (mant << 13));
  return bits_float(sign | ((exp + 112u) << 23) | (mant << 13));
}

// bfloat16 is the top half of a float32; round to nearest even, NaN stays NaN.
inline uint16_t float_to_bf16(float f) {
  const uint32_t x = float_bits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);
  return static_cast<uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

inline float bf16_to_float(uint16_t b) { return bits_float(static_cast<uint32_t>(b) << 16); }

// Reads element i of a buffer of the given float dtype as float.
inline float load_as_float(const void* data, int32_t dtype, std::size_t i) {
  switch (dtype) {
    case ATTNB_DTYPE_F32: return static_cast<const float*>(data)[i];
    case ATTNB_DTYPE_F16: return half_to_float(static_cast<const uint16_t*>(data)[i]);
    case ATTNB_DTYPE_BF16: return bf16_to_float(static_cast<const uint16_t*>(data)[i]);
    default: return NAN;
  }
}

// Writes a float into element i of a buffer of the given float dtype (rounding to it).
inline void store_from_float(void* data, int32_t dtype, std::size_t i, float value) {
  switch (dtype) {
    case ATTNB_DTYPE_F32: static_cast<float*>(data)[i] = value; break;
    case ATTNB_DTYPE_F16: static_cast<uint16_t*>(data)[i] = float_to_half(value); break;
    case ATTNB_DTYPE_BF16: static_cast<uint16_t*>(data)[i] = float_to_bf16(value); break;
    default: break;
  }
}

}  // namespace attnbench
