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

// An L2 eviction policy for a copy's lines, or none (the copy then caches them as any load
// does). evict_first (createpolicy) suits data read once: its lines leave L2 before the lines
// of others, such as lines still to be written back.
struct L2Hint {
  bool set = false;
  uint64_t policy = 0;
};
__device__ __forceinline__ L2Hint l2_evict_first_hint(bool wanted) {
  L2Hint hint;
  if (wanted) {
    asm volatile("createpolicy.fractional.L2::evict_first.b64 %0, 1.0;\n" : "=l"(hint.policy));
    hint.set = true;
  }
  return hint;
}

// `bytes` (a multiple of 16) contiguous bytes, 16-byte aligned at both ends, to shared
// address `dst`, completing on `bar`.
__device__ __forceinline__ void bulk_copy(uint32_t dst, const void* src, uint32_t bytes, uint32_t bar,
                                          L2Hint hint = {}) {
  if (hint.set)
    asm volatile(
        "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes.L2::cache_hint [%0], [%1], %2, [%3], "
        "%4;\n" ::"r"(dst),
        "l"(src), "r"(bytes), "r"(bar), "l"(hint.policy)
        : "memory");
  else
    asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];\n" ::"r"(
                     dst),
                 "l"(src), "r"(bytes), "r"(bar)
                 : "memory");
}

// The box of the 4-D tensor `map` (a __grid_constant__ kernel parameter) at coordinates
// c0..c3 (innermost first) to shared address `dst` (aligned to the map's swizzle span times
// 8, 1024 bytes for the 128-byte swizzle), completing on `bar`.
__device__ __forceinline__ void tensor_copy_4d(uint32_t dst, const void* map, int32_t c0, int32_t c1,
                                               int32_t c2, int32_t c3, uint32_t bar, L2Hint hint = {}) {
  const auto map_address = reinterpret_cast<uint64_t>(map);
  if (hint.set)
    asm volatile(
        "cp.async.bulk.tensor.4d.shared::cluster.global.tile.mbarrier::complete_tx::bytes.L2::cache_hint [%0], "
        "[%1, {%2, %3, %4, %5}], [%6], %7;\n" ::"r"(dst),
        "l"(map_address), "r"(c0), "r"(c1), "r"(c2), "r"(c3), "r"(bar), "l"(hint.policy)
        : "memory");
  else
    asm volatile(
        "cp.async.bulk.tensor.4d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3, %4, "
        "%5}], [%6];\n" ::"r"(dst),
        "l"(map_address), "r"(c0), "r"(c1), "r"(c2), "r"(c3), "r"(bar)
        : "memory");
}

}  // namespace attnbench::ptx
