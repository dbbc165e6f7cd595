// A SIMT emulator that runs CUDA kernels on the CPU, so that their index math, fragment
// layouts, masks, barriers and pipelines can be checked on a machine without a GPU.
//
// translate.py rewrites a .cu file into host C++ that includes this header first: kernel
// launches become simt::launch, __shared__ variables live in the block's shared window,
// inline PTX becomes calls into ptx.hpp. Every CUDA thread is then a fiber; the fibers of a
// block take turns on one OS thread and switch only where a CUDA thread waits for others
// (__syncthreads, warp shuffles, votes, ldmatrix, mma), so everything between two such
// points runs as ordinary host code. Blocks run one after another.
//
// What it checks on the way (a violation stops the launch as a device fault would, and the
// next cudaGetLastError reports it): the launch configuration, __launch_bounds__, shared
// memory bounds and the opt-in above 48 KiB, warp collectives over every live lane of the
// warp (and only those), the same collective on every lane, barriers that can never
// complete, 16-byte alignment of vector accesses, cp.async copies still in flight at exit,
// bulk (TMA) copies still in flight at a block's end.
// Exact in what it models, silent about timing (see README.md).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>  // dim3, vector types, the runtime API's declarations

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace simt {

// ---- What the driver may choose, per launch ---------------------------------------------

// Read from the environment at every launch (the driver sets them between calls):
// SIMT_CP_ASYNC=wait and SIMT_ORDER=reverse; anything else, or unset, gives the defaults.
struct Options {
  // Asynchronous work completes at the wait_group that retires it rather than at issue:
  // cp.async copies land then (shows data used before its wait) and wgmma groups compute
  // then, reading shared memory and writing their accumulators (shows an operand overwritten,
  // or a result read, while the wgmma is in flight). At issue shows a copy overwriting data
  // still in use.
  bool async_completes_at_wait = false;
  // Run a block's threads from the last to the first between two waits, so that a thread
  // reading what a higher-numbered thread writes without a barrier in between sees stale
  // data (in forward order it is the lower-numbered readers that do).
  bool reverse_order = false;
};
const Options& options();

// ---- The state of the running thread ------------------------------------------------------

// Threads arrive; the last live one releases the others, which then run again in the
// order the driver chose. Exited threads no longer count.
struct Barrier {
  int arrived = 0;
  int alive = 0;
  unsigned generation = 0;
  std::vector<int> waiters;  // threads blocked here, by linear index
  void reset(int participants);
  void wait();
  void leave();  // a thread exits: it no longer holds the barrier back
};

struct Copy {
  unsigned char* dst;
  const unsigned char* src;
  int bytes;      // copied
  int src_bytes;  // read from src; the rest of `bytes` is zero-filled
};

// A wgmma issued and not yet retired (async_completes_at_wait): what the thread computes
// when a wait_group retires it. The A registers of its warp were gathered at issue.
struct PendingWgmma {
  bool bf16;
  int n;
  std::vector<float*> d;
  bool a_in_registers;
  uint32_t a[32][4];
  uint64_t a_desc, b_desc;
  bool scale_d;
  int trans_a, trans_b;
};

struct Thread {
  uint3 tid;
  int linear;
  void* sp = nullptr;  // its context while switched out (see simt.cpp)
  bool done = false;
  std::vector<Copy> open_copies;               // issued, not yet committed
  std::vector<std::vector<Copy>> copy_groups;  // committed, oldest first
  std::vector<PendingWgmma> open_wgmmas;                 // issued, not yet committed
  std::vector<std::vector<PendingWgmma>> wgmma_groups;  // committed, oldest first
};

enum class Collective : uint8_t { kShuffle = 1, kVote, kSyncwarp, kReduce, kLdmatrix, kMma, kMovmatrix, kWgmma };

struct Warp {
  Barrier barrier;
  unsigned alive_mask = 0;  // lanes that exist and have not exited
  uint64_t slot[2][32][8];  // what each lane published, double-buffered by collective parity
  Collective kind[2][32];
  int parity[32] = {};
};

struct Block {
  uint3 bid;
  Barrier barrier;
};

extern Thread* current_thread;
extern Block* current_block;
extern dim3 current_grid, current_block_dim;
extern Warp* current_warps;

inline int lane() { return current_thread->linear % 32; }
inline Warp& my_warp() { return current_warps[current_thread->linear / 32]; }

// Ends the launch as a device fault: prints what happened, where, and makes the next
// cudaGetLastError return cudaErrorLaunchFailure. Never returns to the faulting thread.
[[noreturn]] void fault(const char* format, ...) __attribute__((format(printf, 1, 2)));

// Publishes `count` words for the warp's collective and returns every lane's, once all live
// lanes have published. Two slot sets alternate: a lane can be one collective ahead, never two.
const uint64_t (*exchange(Collective kind, unsigned mask, const uint64_t* words, int count))[8];

// ---- Shared memory ------------------------------------------------------------------------

// The block's shared window: dynamic shared memory at offset 0, static __shared__ variables
// carved from the top. Fresh for every block, filled with 0xfe bytes (NaN in fp16, bf16 and
// fp32), so reading shared memory no thread wrote shows up in the output.
constexpr std::size_t kSharedWindow = 227 * 1024;  // the most one H100 block may have
constexpr std::size_t kStaticSharedLimit = 48 * 1024;
unsigned char* shared_base();
// The block's storage for the __shared__ variable declared at `site` in `function` (one per
// declaration and kernel instantiation, as on the GPU).
void* static_shared(const char* function, const char* site, std::size_t bytes, std::size_t align);
// Offset of a generic pointer into the shared window, as __cvta_generic_to_shared returns;
// faults for a pointer outside it.
uint32_t shared_offset(const void* p, std::size_t bytes, const char* what);
// The generic pointer of `bytes` at a shared-window offset; faults outside the window.
unsigned char* shared_at(uint32_t offset, std::size_t bytes, const char* what);

template <typename T>
T* dynamic_shared(std::size_t align) {
  if (reinterpret_cast<std::uintptr_t>(shared_base()) % align != 0)
    fault("dynamic shared memory is not %zu-byte aligned", align);
  return reinterpret_cast<T*>(shared_base());
}
template <typename T>
T* static_shared(const char* function, const char* site, std::size_t align = alignof(T)) {
  return static_cast<T*>(
      static_shared(function, site, sizeof(T), std::max<std::size_t>(align, alignof(T))));
}

// reinterpret_cast to a pointer, faulting when the pointer is not aligned for the type: an
// x86 host forgives a misaligned 16-byte load, the GPU does not.
template <typename To, typename From>
inline To aligned_cast(From from) {
  if constexpr (std::is_pointer_v<To>) {
    using Pointee = std::remove_cv_t<std::remove_pointer_t<To>>;
    if constexpr (!std::is_void_v<Pointee> && !std::is_function_v<Pointee>) {
      std::uintptr_t address;
      if constexpr (std::is_pointer_v<From>)
        address = reinterpret_cast<std::uintptr_t>(from);
      else
        address = static_cast<std::uintptr_t>(from);
      if (address % alignof(Pointee) != 0)
        fault("address %#llx is not %zu-byte aligned for a %zu-byte access",
              static_cast<unsigned long long>(address), alignof(Pointee), sizeof(Pointee));
    }
  }
  return reinterpret_cast<To>(from);
}

// __launch_bounds__(n): launching more threads per block fails on the GPU.
void check_launch_bounds(long max_threads);

// ---- Launch -------------------------------------------------------------------------------

struct Config {
  dim3 grid, block;
  std::size_t shared_bytes;
  cudaStream_t stream;
  Config(dim3 g, dim3 b, std::size_t s = 0, cudaStream_t st = nullptr)
      : grid(g), block(b), shared_bytes(s), stream(st) {}
};

// Runs `body` as every thread of every block of the grid; returns after the last block.
void run_grid(const char* name, const void* kernel, const Config& config,
              const std::function<void()>& body);

// kernel<<<config>>>(args...): the arguments are converted to the kernel's parameter types
// at the launch, as on the GPU, and every thread gets its own copy of them.
template <typename... Params, typename... Args>
void launch(const char* name, void (*kernel)(Params...), const Config& config, Args&&... args) {
  static_assert(sizeof...(Params) == sizeof...(Args), "kernel launched with the wrong arguments");
  const std::tuple<std::decay_t<Params>...> values(std::forward<Args>(args)...);
  run_grid(name, reinterpret_cast<const void*>(kernel), config, [&] {
    std::tuple<std::decay_t<Params>...> mine = values;
    std::apply(kernel, mine);
  });
}

// cudaLaunchKernelEx(&config, kernel, args...): its launch attributes (programmatic stream
// serialization: the kernel may start before the one before it ends) change nothing here,
// where kernels run one after another. Errors are reported as after kernel<<<...>>>.
template <typename... Params, typename... Args>
cudaError_t launch_ex(const cudaLaunchConfig_t* config, void (*kernel)(Params...), Args&&... args) {
  launch("cudaLaunchKernelEx", kernel,
         Config(config->gridDim, config->blockDim, config->dynamicSmemBytes, config->stream),
         std::forward<Args>(args)...);
  return cudaSuccess;
}

}  // namespace simt

// ---- The CUDA built-ins, for the translated code ------------------------------------------

#define threadIdx (simt::current_thread->tid)
#define blockIdx (simt::current_block->bid)
#define blockDim (simt::current_block_dim)
#define gridDim (simt::current_grid)
#define warpSize 32

inline void __syncthreads() { simt::current_block->barrier.wait(); }
int __syncthreads_count(int predicate);
int __syncthreads_and(int predicate);
int __syncthreads_or(int predicate);
inline void __threadfence() {}
inline void __threadfence_block() {}
inline void __syncwarp(unsigned mask = 0xffffffffu) {
  simt::exchange(simt::Collective::kSyncwarp, mask, nullptr, 0);
}

namespace simt {

template <typename T>
inline uint64_t to_word(T value) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8, "shuffled type too large");
  uint64_t word = 0;
  std::memcpy(&word, &value, sizeof value);
  return word;
}
template <typename T>
inline T from_word(uint64_t word) {
  T value;
  std::memcpy(&value, &word, sizeof value);
  return value;
}

// Every lane publishes `value`; lane l receives the value of lane source(l, first, end), or
// its own where source returns -1. [first, end) is l's segment of `width` lanes.
template <typename T, typename Source>
inline T shuffle(unsigned mask, T value, int width, Source source) {
  if (width < 1 || width > 32 || (width & (width - 1)) != 0)
    fault("shuffle width %d is not a power of two up to 32", width);
  const uint64_t word = to_word(value);
  const auto slots = exchange(Collective::kShuffle, mask, &word, 1);
  const int l = lane(), first = l & ~(width - 1);
  const int from = source(l, first, first + width);
  return from < 0 ? value : from_word<T>(slots[from][0]);
}

}  // namespace simt

template <typename T>
inline T __shfl_sync(unsigned mask, T value, int src_lane, int width = 32) {
  return simt::shuffle(mask, value, width,
                       [&](int, int first, int) { return first + (src_lane & (width - 1)); });
}
// A lane may read earlier segments, not later ones.
template <typename T>
inline T __shfl_xor_sync(unsigned mask, T value, int lane_mask, int width = 32) {
  return simt::shuffle(mask, value, width, [&](int l, int, int end) {
    const int from = l ^ lane_mask;
    return from >= end ? -1 : from;
  });
}
template <typename T>
inline T __shfl_down_sync(unsigned mask, T value, unsigned delta, int width = 32) {
  return simt::shuffle(mask, value, width, [&](int l, int, int end) {
    const int from = l + static_cast<int>(delta);
    return from >= end ? -1 : from;
  });
}
template <typename T>
inline T __shfl_up_sync(unsigned mask, T value, unsigned delta, int width = 32) {
  return simt::shuffle(mask, value, width, [&](int l, int first, int) {
    const int from = l - static_cast<int>(delta);
    return from < first ? -1 : from;
  });
}

unsigned __ballot_sync(unsigned mask, int predicate);
inline int __any_sync(unsigned mask, int predicate) { return __ballot_sync(mask, predicate) != 0; }
inline int __all_sync(unsigned mask, int predicate) {
  return __ballot_sync(mask, predicate) == (mask & simt::my_warp().alive_mask);
}
unsigned __reduce_add_sync(unsigned mask, unsigned value);
unsigned __reduce_min_sync(unsigned mask, unsigned value);
unsigned __reduce_max_sync(unsigned mask, unsigned value);
int __reduce_min_sync(unsigned mask, int value);
int __reduce_max_sync(unsigned mask, int value);
inline int __reduce_add_sync(unsigned mask, int value) {
  return static_cast<int>(__reduce_add_sync(mask, static_cast<unsigned>(value)));
}

// Generic -> shared window offset (the kernels truncate it to 32 bits, as PTX does).
inline std::size_t __cvta_generic_to_shared(const void* p) {
  return simt::shared_offset(p, 1, "__cvta_generic_to_shared");
}

// The intrinsics the kernels use. __expf as the GPU computes it: ex2.approx of x * log2(e)
// (exp2f here is libm's, within the GPU's 2 ulp).
inline float __expf(float x) { return exp2f(x * 1.4426950408889634f); }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline float __uint_as_float(unsigned x) { return simt::from_word<float>(x); }
inline unsigned __float_as_uint(float x) { return static_cast<unsigned>(simt::to_word(x)); }
// Byte n of the result is byte selector[4n+2 : 4n] of {y, x} (x the low word).
inline unsigned __byte_perm(unsigned x, unsigned y, unsigned selector) {
  const uint64_t input = x | static_cast<uint64_t>(y) << 32;
  unsigned out = 0;
  for (unsigned n = 0; n < 4; ++n)
    out |= static_cast<unsigned>((input >> (8 * ((selector >> (4 * n)) & 7u))) & 0xffu) << (8 * n);
  return out;
}

// Global memory's atomics and L2-only loads: a block's threads run one at a time and blocks
// one after another, so a plain read-modify-write is atomic and every load sees every store.
inline unsigned atomicAdd(unsigned* address, unsigned value) {
  const unsigned old = *address;
  *address = old + value;
  return old;
}
template <typename T>
inline T __ldcg(const T* address) { return *address; }

// CUDA's min and max take mixed argument types (int and long, say) and return the wider.
template <typename A, typename B>
inline std::common_type_t<A, B> min(A a, B b) {
  using C = std::common_type_t<A, B>;
  return static_cast<C>(b) < static_cast<C>(a) ? static_cast<C>(b) : static_cast<C>(a);
}
template <typename A, typename B>
inline std::common_type_t<A, B> max(A a, B b) {
  using C = std::common_type_t<A, B>;
  return static_cast<C>(a) < static_cast<C>(b) ? static_cast<C>(b) : static_cast<C>(a);
}

// cuda_runtime.h declares its kernel-pointer overloads for nvcc only.
template <typename T>
inline cudaError_t cudaFuncSetAttribute(T* kernel, cudaFuncAttribute attribute, int value) {
  return ::cudaFuncSetAttribute(reinterpret_cast<const void*>(kernel), attribute, value);
}
template <typename T>
inline cudaError_t cudaOccupancyMaxActiveBlocksPerMultiprocessor(int* blocks, T* kernel, int threads,
                                                                 std::size_t shared_bytes) {
  return ::cudaOccupancyMaxActiveBlocksPerMultiprocessor(blocks, reinterpret_cast<const void*>(kernel),
                                                         threads, shared_bytes);
}

#undef __launch_bounds__
#define __launch_bounds__(...)

#include "ptx.hpp"
