// The second step of split-KV decoding, shared by every plugin that splits: each output row
// is its splits' normalized partial rows weighted by their share of the softmax mass,
// exp2(lse_s - max lse) / sum_s exp2(lse_s - max lse).
#pragma once

#include "cuda_common.cuh"

#include <cstdint>

namespace attnbench::plain_kv {

// part_o [rows][splits][d] (fp32), part_lse [rows][splits] (log2-sum-exp2), o [rows][d].
// A block per row, a thread per pair of elements. The grid is small and the partials sit in
// L2, so latency is its cost: the row's lse values are read once, in parallel, into shared
// memory, and eight splits' loads are in flight at a time.
template <typename T>
__global__ void merge_splits_kernel(const float* part_o, const float* part_lse, T* o,
                                    int32_t splits, int32_t d) {
  extern __shared__ float row_lse[];  // [splits]
  const std::size_t row = blockIdx.x, first = row * splits;
  for (int32_t s = threadIdx.x; s < splits; s += blockDim.x) row_lse[s] = part_lse[first + s];
  __syncthreads();
  float top = -INFINITY;
  for (int32_t s = 0; s < splits; ++s) top = fmaxf(top, row_lse[s]);
  const int32_t pair = threadIdx.x;
  float2 acc = make_float2(0.0f, 0.0f);
  float total = 0.0f;
  if (top != -INFINITY) {  // else no split saw a key: the row is 0
#pragma unroll 8
    for (int32_t s = 0; s < splits; ++s) {
      const float w = exp2f(row_lse[s] - top);
      const float2 x = reinterpret_cast<const float2*>(part_o + (first + s) * d)[pair];
      total += w;
      acc.x += w * x.x;
      acc.y += w * x.y;
    }
  }
  const float inv = total > 0 ? 1.0f / total : 0.0f;
  o[row * d + 2 * pair] = from_float<T>(acc.x * inv);
  o[row * d + 2 * pair + 1] = from_float<T>(acc.y * inv);
}

template <typename T>
void merge_splits(const float* part_o, const float* part_lse, T* o, int64_t rows, int32_t splits,
                  int32_t d, cudaStream_t stream) {
  if (rows == 0) return;
  merge_splits_kernel<T><<<static_cast<unsigned>(rows), d / 2, splits * sizeof(float), stream>>>(
      part_o, part_lse, o, splits, d);
  check_launch("split merge kernel");
}

}  // namespace attnbench::plain_kv
