#include "mha_cuda.hpp"

#include "../common/cuda_common.cuh"

#include <cfloat>

namespace attnbench::mha {

using namespace plain_kv;

namespace {

__device__ __forceinline__ int32_t page_of(const AttnbPagedKv& cache, int32_t b, int64_t pos,
                                           int32_t page_size) {
  return cache.page_indices[cache.page_indptr[b] + pos / page_size];
}

// Stage 1: scores[t, h, j] = scale * q . k_j. A warp per key, lanes across the head dim.
template <typename T>
__global__ void scores_kernel(AttnbPagedKv cache, Layout layout, const T* q, const int32_t* q_indptr,
                              float* scores, int32_t row_stride, int32_t num_q_heads,
                              int32_t causal, int32_t window, float scale) {
  const int32_t t = blockIdx.x, h = blockIdx.y, d = layout.head_dim;
  const int32_t group = num_q_heads / layout.num_kv_heads, kvh = h / group;
  const QueryPlace place = place_of(cache, q_indptr, t, layout.page_size, causal, window);
  const T* q_row = q + (static_cast<std::size_t>(t) * num_q_heads + h) * d;
  float* out = scores + (static_cast<std::size_t>(t) * num_q_heads + h) * row_stride;
  const int32_t warp = threadIdx.x / 32, lane = threadIdx.x % 32, warps = blockDim.x / 32;
  for (int64_t j = place.lo + warp; j < place.hi; j += warps) {
    const T* k = reinterpret_cast<const T*>(
        static_cast<const char*>(cache.pages) +
        layout.offset(page_of(cache, place.b, j, layout.page_size), kvh,
                      static_cast<int32_t>(j % layout.page_size), false));
    float dot = 0;
    for (int32_t e = lane; e < d; e += 32) dot += to_float(q_row[e]) * to_float(k[e]);
    for (int32_t s = 16; s > 0; s /= 2) dot += __shfl_xor_sync(0xffffffffu, dot, s);
    if (lane == 0) out[j - place.lo] = dot * scale;
  }
}

// Block-wide reduction of one value per thread (max or sum), result broadcast to all.
template <bool IsMax>
__device__ float block_reduce(float x, float* shared) {
  for (int32_t s = 16; s > 0; s /= 2) {
    const float y = __shfl_xor_sync(0xffffffffu, x, s);
    x = IsMax ? fmaxf(x, y) : x + y;
  }
  const int32_t warp = threadIdx.x / 32, lane = threadIdx.x % 32, warps = blockDim.x / 32;
  if (lane == 0) shared[warp] = x;
  __syncthreads();
  x = lane < warps ? shared[lane] : (IsMax ? -FLT_MAX : 0.0f);
  for (int32_t s = 16; s > 0; s /= 2) {
    const float y = __shfl_xor_sync(0xffffffffu, x, s);
    x = IsMax ? fmaxf(x, y) : x + y;
  }
  __syncthreads();
  return x;
}

// Stage 2: each score row becomes softmax weights, in place.
__global__ void softmax_kernel(AttnbPagedKv cache, const int32_t* q_indptr, float* scores,
                               int32_t row_stride, int32_t num_q_heads, int32_t page_size,
                               int32_t causal, int32_t window) {
  __shared__ float shared[32];
  const int32_t t = blockIdx.x, h = blockIdx.y;
  const QueryPlace place = place_of(cache, q_indptr, t, page_size, causal, window);
  const int32_t n = static_cast<int32_t>(place.hi - place.lo);
  float* row = scores + (static_cast<std::size_t>(t) * num_q_heads + h) * row_stride;
  float m = -FLT_MAX;
  for (int32_t j = threadIdx.x; j < n; j += blockDim.x) m = fmaxf(m, row[j]);
  m = block_reduce<true>(m, shared);
  float sum = 0;
  for (int32_t j = threadIdx.x; j < n; j += blockDim.x) {
    const float w = __expf(row[j] - m);
    row[j] = w;
    sum += w;
  }
  sum = block_reduce<false>(sum, shared);
  const float inv = sum > 0 ? 1.0f / sum : 0.0f;
  for (int32_t j = threadIdx.x; j < n; j += blockDim.x) row[j] *= inv;
}

// Stage 3: o[t, h, :] = sum_j p_j v_j. A thread per output element, coalesced along V rows.
template <typename T>
__global__ void values_kernel(AttnbPagedKv cache, Layout layout, const float* scores,
                              const int32_t* q_indptr, T* o, int32_t row_stride,
                              int32_t num_q_heads, int32_t causal, int32_t window) {
  const int32_t t = blockIdx.x, h = blockIdx.y, e = threadIdx.x, d = layout.head_dim;
  if (e >= d) return;
  const int32_t kvh = h / (num_q_heads / layout.num_kv_heads);
  const QueryPlace place = place_of(cache, q_indptr, t, layout.page_size, causal, window);
  const float* p = scores + (static_cast<std::size_t>(t) * num_q_heads + h) * row_stride;
  float acc = 0;
  for (int64_t j = place.lo; j < place.hi; ++j) {
    const T* v = reinterpret_cast<const T*>(
        static_cast<const char*>(cache.pages) +
        layout.offset(page_of(cache, place.b, j, layout.page_size), kvh,
                      static_cast<int32_t>(j % layout.page_size), true));
    acc += p[j - place.lo] * to_float(v[e]);
  }
  o[(static_cast<std::size_t>(t) * num_q_heads + h) * d + e] = from_float<T>(acc);
}

}  // namespace

std::size_t cuda_workspace_bytes(const AttnbProblem& p) {
  return static_cast<std::size_t>(p.max_q_tokens) * p.num_q_heads * p.max_kv_len * sizeof(float);
}

void cuda_attend(const AttnbProblem& p, const AttnbAttendArgs& a) {
  const AttnbPagedKv& cache = *a.cache;
  const int32_t tokens = a.q_indptr_host ? a.q_indptr_host[cache.batch] : cache.batch;
  if (tokens == 0) return;
  if (tokens > p.max_q_tokens) throw Error(ATTNB_ERR_INVALID_ARGUMENT, "more query tokens than max_q_tokens");
  if (a.workspace_bytes < cuda_workspace_bytes(p))
    throw Error(ATTNB_ERR_OUT_OF_MEMORY, "workspace smaller than workspace_bytes()");
  const Layout layout{p.num_kv_heads, p.page_size, p.head_dim, cache.page_bytes, dtype_size(p.kv_cache_dtype)};
  const float scale = p.sm_scale != 0 ? p.sm_scale : rsqrtf(static_cast<float>(p.head_dim));
  float* scores = static_cast<float*>(a.workspace);
  const dim3 grid(tokens, p.num_q_heads);
  auto stream = static_cast<cudaStream_t>(a.stream);
  const int32_t* q_indptr = a.q_indptr_host ? a.q_indptr : nullptr;
  dispatch_half_types(p.dtype, [&](auto* type_tag) {
    using T = std::remove_pointer_t<decltype(type_tag)>;
    scores_kernel<T><<<grid, 128, 0, stream>>>(cache, layout, static_cast<const T*>(a.q), q_indptr,
                                                scores, p.max_kv_len, p.num_q_heads, p.causal,
                                                p.window, scale);
    check_launch("mha scores kernel");
    softmax_kernel<<<grid, 256, 0, stream>>>(cache, q_indptr, scores, p.max_kv_len, p.num_q_heads,
                                             p.page_size, p.causal, p.window);
    check_launch("mha softmax kernel");
    const int32_t threads = (p.head_dim + 31) / 32 * 32;
    values_kernel<T><<<grid, threads, 0, stream>>>(cache, layout, scores, q_indptr,
                                                   static_cast<T*>(a.o), p.max_kv_len,
                                                   p.num_q_heads, p.causal, p.window);
    check_launch("mha values kernel");
  });
}

}  // namespace attnbench::mha
