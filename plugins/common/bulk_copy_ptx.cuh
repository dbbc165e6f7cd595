// The tensor memory accelerator (TMA, sm_90): one thread starts a copy of a whole block of
// global memory into shared memory, and the copy reports its bytes to an mbarrier
// (complete_tx) instead of the thread waiting for it. PTX ISA, "Data Movement and
// Conversion Instructions: cp.async.bulk" and "cp.async.bulk.tensor"; the tensor copies
// read a CUtensorMap the host encoded (cuTensorMapEncodeTiled), which places the box in
// shared memory with the map's swizzle.
#pragma once

#include "async_barrier_ptx.cuh"  // the mbarriers the copies complete on

#include <cstdint>

namespace attnbench::ptx {

// An L2 eviction policy for the copies' lines (createpolicy): evict_first for data read
// once, so that it leaves L2 before lines that others will read again or have yet to write
// back; evict_normal is what a copy without a policy gets.
__device__ __forceinline__ uint64_t l2_policy(bool evict_first) {
  uint64_t policy;
  if (evict_first) asm volatile("createpolicy.fractional.L2::evict_first.b64 %0, 1.0;\n" : "=l"(policy));
  else asm volatile("createpolicy.fractional.L2::evict_normal.b64 %0, 1.0;\n" : "=l"(policy));
  return policy;
}

// `bytes` (a multiple of 16) contiguous bytes, 16-byte aligned at both ends, to shared
// address `dst`, completing on `bar`; the lines cached in L2 under `policy`.
__device__ __forceinline__ void bulk_copy(uint32_t dst, const void* src, uint32_t bytes, uint32_t bar,
                                          uint64_t policy) {
  asm volatile(
      "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes.L2::cache_hint [%0], [%1], %2, [%3], "
      "%4;\n" ::"r"(dst),
      "l"(src), "r"(bytes), "r"(bar), "l"(policy)
      : "memory");
}

// The box of the 4-D tensor `map` (a __grid_constant__ kernel parameter) at coordinates
// c0..c3 (innermost first) to shared address `dst` (aligned to the map's swizzle span times
// 8, 1024 bytes for the 128-byte swizzle), completing on `bar`; the lines cached in L2
// under `policy`.
__device__ __forceinline__ void tensor_copy_4d(uint32_t dst, const void* map, int32_t c0, int32_t c1,
                                               int32_t c2, int32_t c3, uint32_t bar, uint64_t policy) {
  asm volatile(
      "cp.async.bulk.tensor.4d.shared::cluster.global.tile.mbarrier::complete_tx::bytes.L2::cache_hint [%0], "
      "[%1, {%2, %3, %4, %5}], [%6], %7;\n" ::"r"(dst),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(c0), "r"(c1), "r"(c2), "r"(c3), "r"(bar), "l"(policy)
      : "memory");
}

}  // namespace attnbench::ptx
