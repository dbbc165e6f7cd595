// The synchronization of a warp-specialized kernel (sm_90): mbarriers in shared memory (PTX
// ISA "Parallel Synchronization and Communication Instructions: mbarrier"), on which producer
// warps signal that a shared-memory stage has landed and consumer warps that they are done
// with it, and named barriers (bar.sync / bar.arrive) between some of a block's warps, so
// that no block-wide barrier holds every warp in step.
#pragma once

#include <cstdint>

namespace attnbench::ptx {

// The mbarrier at shared address `bar`: `count` arrivals complete a phase (phase 0 first).
__device__ __forceinline__ void mbarrier_init(uint32_t bar, uint32_t count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
}

// One arrival on the current phase.
__device__ __forceinline__ void mbarrier_arrive(uint32_t bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}

// The arrival of the thread that started a stage's copies: the phase of `bar` completes once
// `bytes` more bytes have landed on it too.
__device__ __forceinline__ void mbarrier_arrive_expect_tx(uint32_t bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}

// Makes mbarrier.init visible to the tensor memory accelerator's copies (the asynchronous proxy); a block barrier follows.
__device__ __forceinline__ void fence_mbarrier_init() {
  asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
}

// One arrival once every cp.async this thread issued before it has landed (.noinc: one of
// the `count` arrivals, not an extra one).
__device__ __forceinline__ void cp_async_mbarrier_arrive(uint32_t bar) {
  asm volatile("cp.async.mbarrier.arrive.noinc.shared::cta.b64 [%0];\n" ::"r"(bar) : "memory");
}

// Until the phase of parity `parity` has completed (phases alternate 0, 1, 0, ...).
__device__ __forceinline__ void mbarrier_wait(uint32_t bar, uint32_t parity) {
  uint32_t done = 0;
  do {
    asm volatile(
        "{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
        : "=r"(done)
        : "r"(bar), "r"(parity)
        : "memory");
  } while (!done);
}

// Named barrier `id` (1 to 15; 0 is __syncthreads') of `threads` threads, whole warps: sync
// waits until that many have arrived, arrive counts this thread's arrival and goes on.
__device__ __forceinline__ void named_barrier_sync(uint32_t id, uint32_t threads) {
  asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}
__device__ __forceinline__ void named_barrier_arrive(uint32_t id, uint32_t threads) {
  asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}

// The registers a thread of this warpgroup may use from here on (a multiple of 8, 24 to
// 256): producers give theirs up so that consumers can take more than an even share.
template <int kRegisters>
__device__ __forceinline__ void release_registers() {
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(kRegisters));
}
template <int kRegisters>
__device__ __forceinline__ void claim_registers() {
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(kRegisters));
}

}  // namespace attnbench::ptx
