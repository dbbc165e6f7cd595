// The second step of split-KV decoding, shared by every plugin that splits: each output row
// is its splits' normalized partial rows weighted by their share of the softmax mass,
// exp2(lse_s - max lse) / sum_s exp2(lse_s - max lse). fused's and int8_kv's decodes merge
// inside their kernels (the last block of a row group to finish does it: no second launch);
// the others launch merge_splits.
#pragma once

#include "cuda_common.cuh"

#include <cstdint>

namespace attnbench::plain_kv {

// Output elements 4 * quad .. 4 * quad + 3 of `row` from part_o [rows][splits][d] (fp32)
// and part_lse [rows][splits] (log2-sum-exp2) into o [rows][d]. One pass with a running
// maximum, so every split's loads are independent of the arithmetic and sixteen are in
// flight at a time: the partials were just written by other blocks and are read from L2,
// whose latency, not bandwidth, is the merge's cost.
template <typename T>
__device__ __forceinline__ void merge_split_quad(const float* part_o, const float* part_lse, T* o,
                                                 std::size_t row, int32_t quad, int32_t splits,
                                                 int32_t d) {
  const std::size_t first = row * splits;
  float top = -INFINITY, total = 0.0f;
  float4 acc = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
#pragma unroll 16
  for (int32_t s = 0; s < splits; ++s) {
    const float lse = __ldcg(part_lse + first + s);
    const float4 x = __ldcg(reinterpret_cast<const float4*>(part_o + (first + s) * d) + quad);
    if (lse == -INFINITY) continue;  // a split that saw no key
    const float next = fmaxf(top, lse);
    const float rescale = exp2f(top - next), w = exp2f(lse - next);
    total = total * rescale + w;
    acc.x = acc.x * rescale + w * x.x;
    acc.y = acc.y * rescale + w * x.y;
    acc.z = acc.z * rescale + w * x.z;
    acc.w = acc.w * rescale + w * x.w;
    top = next;
  }
  const float inv = total > 0 ? 1.0f / total : 0.0f;  // no split saw a key: the row is 0
  T* out = o + row * d + 4 * quad;
  out[0] = from_float<T>(acc.x * inv);
  out[1] = from_float<T>(acc.y * inv);
  out[2] = from_float<T>(acc.z * inv);
  out[3] = from_float<T>(acc.w * inv);
}

// A block per row, a thread per four elements.
template <typename T>
__global__ void merge_splits_kernel(const float* part_o, const float* part_lse, T* o,
                                    int32_t splits, int32_t d) {
  wait_for_prior_grid();  // launched early (below): the partials are the decode's
  merge_split_quad<T>(part_o, part_lse, o, blockIdx.x, threadIdx.x, splits, d);
}

template <typename T>
void merge_splits(const float* part_o, const float* part_lse, T* o, int64_t rows, int32_t splits,
                  int32_t d, cudaStream_t stream) {
  if (rows == 0) return;
  // Launched early: its launch overlaps the decode's end where that decode lets it
  // (let_dependents_start); its blocks wait for the decode grid before reading.
  launch_dependent("split merge kernel", merge_splits_kernel<T>, dim3(static_cast<unsigned>(rows)),
                   dim3(d / 4), 0, stream, true, part_o, part_lse, o, splits, d);
}

// The two counters of block group (sequence b, KV head kvh, head chunk `chunk`) in a decode
// grid whose y dimension is the KV heads (SplitCounters' layout).
__device__ __forceinline__ unsigned* group_counters(unsigned* counters, int32_t b, int32_t kvh, int32_t chunk,
                                                    int32_t head_chunks) {
  return counters + 2 * ((static_cast<std::size_t>(b) * gridDim.y + kvh) * head_chunks + chunk);
}

// Called by every thread of each of a row group's `splits` blocks once its partial rows are
// written: true in the one block that finishes last, which then sees every split's partials.
// group[0] counts the arrivals (CUTLASS's semaphore: the block's writes are ordered before
// thread 0's increment by the barrier and the fence), group[1] the tiles the blocks claimed
// (fused's TileQueue); the last block puts both back to 0 for the next call.
__device__ __forceinline__ bool last_split_to_finish(unsigned* group, int32_t splits) {
  __syncthreads();
  bool last = false;
  if (threadIdx.x == 0) {
    __threadfence();
    last = atomicAdd(group, 1u) == static_cast<unsigned>(splits - 1);
    if (last) group[0] = group[1] = 0;
    __threadfence();
  }
  return __syncthreads_or(last);
}

// The last block's merge of its group's `rows` output rows, first_row onwards.
template <typename T>
__device__ __forceinline__ void merge_split_rows(const float* part_o, const float* part_lse, T* o,
                                                 std::size_t first_row, int32_t rows, int32_t splits,
                                                 int32_t d) {
  const int32_t quads = d / 4;
  for (int32_t i = threadIdx.x; i < rows * quads; i += blockDim.x)
    merge_split_quad<T>(part_o, part_lse, o, first_row + i / quads, i % quads, splits, d);
}

// last_split_to_finish and merge_split_rows as a call, for a decode kernel at its register
// limit (int8_kv's: 128): inlined at its end, batch 1 x 65536 read 55.9% of the copy bandwidth,
// called 61.6% (results/h200/experiments/int8_merge_inside). fused's decode inlines them: called,
// its head-dim-64 kernels drop to 80 registers and spill, 88.2% -> 75.0% at 32 x 32768
// (experiments/merge_noinline).
template <typename T>
__device__ __noinline__ void merge_if_last_split(unsigned* group, const float* part_o,
                                                 const float* part_lse, T* o, std::size_t first_row,
                                                 int32_t rows, int32_t splits, int32_t d) {
  if (last_split_to_finish(group, splits)) merge_split_rows<T>(part_o, part_lse, o, first_row, rows, splits, d);
}

}  // namespace attnbench::plain_kv
