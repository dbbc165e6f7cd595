// CUDA helpers shared by the plain-format plugins: element conversions, launch checks and
// the device-side lookups of the paged description.
#pragma once

#include "plain_kv_layout.hpp"

#include <attnbench/plugin.hpp>

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <string>
#include <utility>

namespace attnbench::plain_kv {

__device__ __forceinline__ float to_float(__half x) { return __half2float(x); }
__device__ __forceinline__ float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }
__device__ __forceinline__ float to_float(float x) { return x; }
template <typename T> __device__ __forceinline__ T from_float(float x);
template <> __device__ __forceinline__ __half from_float<__half>(float x) { return __float2half_rn(x); }
template <> __device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }
template <> __device__ __forceinline__ float from_float<float>(float x) { return x; }

// Index of the sequence that owns item `i` of a ragged array: the b with indptr[b] <= i <
// indptr[b+1], by binary search (indptr has batch + 1 entries).
__device__ __forceinline__ int32_t owner_of(const int32_t* indptr, int32_t batch, int32_t i) {
  int32_t lo = 0, hi = batch;
  while (hi - lo > 1) {
    const int32_t mid = (lo + hi) / 2;
    if (indptr[mid] <= i) lo = mid; else hi = mid;
  }
  return lo;
}

// Where query token t stands: its sequence and the keys it may see [lo, hi). Without
// q_indptr (decode) token t is sequence t's only query.
struct QueryPlace {
  int32_t b;
  int64_t lo, hi;
};

__device__ __forceinline__ QueryPlace place_of(const AttnbPagedKv& cache, const int32_t* q_indptr, int32_t t,
                                               int32_t page_size, int32_t causal, int32_t window) {
  QueryPlace place;
  place.b = q_indptr ? owner_of(q_indptr, cache.batch, t) : t;
  const int32_t q0 = q_indptr ? q_indptr[place.b] : place.b;
  const int32_t q_len = q_indptr ? q_indptr[place.b + 1] - q0 : 1;
  const int64_t kv_len = sequence_length(cache.page_indptr, cache.last_page_len, page_size, place.b);
  const int64_t pos = kv_len - q_len + (t - q0);
  place.lo = first_visible(pos, window);
  place.hi = causal ? pos + 1 : kv_len;
  return place;
}

// Programmatic dependent launch (sm_90): a decode kernel launched with launch_dependent may
// start while the append kernel before it in the stream still runs, so that its launch and
// its blocks' start (page lookups, Q) overlap the append; a block that reads keys the
// append may still be writing calls wait_for_prior_grid first. The append kernels call
// let_dependents_start at once; a kernel that does not lets them start only when it ends.
// So a decode launched early trusts that the kernel before it in the stream is its op's own
// append (or one that lets it start only at its end): a foreign kernel that let dependents
// start early and wrote the cache would race with it.
__device__ __forceinline__ void let_dependents_start() {
#if __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
#endif
}
// Until the grid before this one in the stream has ended and its writes are visible.
__device__ __forceinline__ void wait_for_prior_grid() {
#if __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
}

// Throws a device error naming `what` if the last launch failed.
inline void check_launch(const char* what) {
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess)
    throw Error(ATTNB_ERR_DEVICE, std::string(what) + ": " + cudaGetErrorString(err));
}

// kernel<<<grid, block, shared_bytes, stream>>>(args...), allowed to start early (see
// let_dependents_start) when `early`; otherwise it starts after the kernel before it, and its
// wait_for_prior_grid calls return at once.
template <typename... Params, typename... Args>
void launch_dependent(const char* what, void (*kernel)(Params...), dim3 grid, dim3 block,
                      std::size_t shared_bytes, cudaStream_t stream, bool early_start, Args&&... args) {
  cudaLaunchAttribute early{};
  early.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  early.val.programmaticStreamSerializationAllowed = early_start ? 1 : 0;
  // grid, block, dynamic shared memory, stream, attributes
  cudaLaunchConfig_t config{grid, block, shared_bytes, stream, &early, 1};
  const cudaError_t err = cudaLaunchKernelEx(&config, kernel, std::forward<Args>(args)...);
  if (err != cudaSuccess) throw Error(ATTNB_ERR_DEVICE, std::string(what) + ": " + cudaGetErrorString(err));
  check_launch(what);
}

// Calls f with a null pointer of the element type of `dtype` (fp16 or bf16).
template <typename F>
void dispatch_half_types(int32_t dtype, F&& f) {
  if (dtype == ATTNB_DTYPE_F16) f(static_cast<__half*>(nullptr));
  else if (dtype == ATTNB_DTYPE_BF16) f(static_cast<__nv_bfloat16*>(nullptr));
  else throw Unsupported(std::string("dtype ") + dtype_name(dtype) + " has no CUDA kernel");
}

// Writes new tokens' K and V into the plain pages, quantization-free; one block per token.
void cuda_append(const AttnbProblem& problem, const AttnbAppendArgs& args);

// Kernels with more than 48 KiB of dynamic shared memory must say so first, once each;
// `what` names the kernel in the error.
template <typename Kernel>
void allow_shared_memory(Kernel kernel, std::size_t bytes, const char* what) {
  if (bytes <= 48 * 1024) return;
  const cudaError_t err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                               static_cast<int>(bytes));
  if (err != cudaSuccess)
    throw Error(ATTNB_ERR_DEVICE, std::string("cannot give the ") + what + " " +
                                      std::to_string(bytes) + " bytes of shared memory: " +
                                      cudaGetErrorString(err));
}

// Blocks of `kernel` the whole device holds at once: its occupancy per SM times the SMs.
template <typename Kernel>
int64_t resident_blocks(Kernel kernel, int threads, std::size_t shared_bytes, int32_t sm_count) {
  int per_sm = 0;
  if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, threads, shared_bytes) != cudaSuccess)
    per_sm = 1;
  return static_cast<int64_t>(per_sm > 0 ? per_sm : 1) * sm_count;
}

}  // namespace attnbench::plain_kv
