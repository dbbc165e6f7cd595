// The second step of split-KV decoding, shared by every plugin that splits: each output row
// is its splits' normalized partial rows weighted by their share of the softmax mass,
// exp2(lse_s - max lse) / sum_s exp2(lse_s - max lse). fused's and int8_kv's decodes merge
// inside their kernels (the last block of a row group to finish does it: no second launch);
// the others launch merge_splits.
#pragma once

#include "cuda_common.cuh"

#include <cstdint>

namespace attnbench::plain_kv {

// A running merge of one quad (four output elements) of partial rows by their log2-sum-exp2.
struct QuadMerge {
  float top = -INFINITY, total = 0.0f;
  float4 acc = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
  __device__ __forceinline__ void add(float lse, float4 x) {
    if (lse == -INFINITY) return;  // a split that saw no key
    const float next = fmaxf(top, lse);
    const float rescale = exp2f(top - next), w = exp2f(lse - next);
    total = total * rescale + w;
    acc.x = acc.x * rescale + w * x.x;
    acc.y = acc.y * rescale + w * x.y;
    acc.z = acc.z * rescale + w * x.z;
    acc.w = acc.w * rescale + w * x.w;
    top = next;
  }
};

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
  QuadMerge m;
#pragma unroll 16
  for (int32_t s = 0; s < splits; ++s)
    m.add(__ldcg(part_lse + first + s), __ldcg(reinterpret_cast<const float4*>(part_o + (first + s) * d) + quad));
  const float inv = m.total > 0 ? 1.0f / m.total : 0.0f;  // no split saw a key: the row is 0
  T* out = o + row * d + 4 * quad;
  out[0] = from_float<T>(m.acc.x * inv);
  out[1] = from_float<T>(m.acc.y * inv);
  out[2] = from_float<T>(m.acc.z * inv);
  out[3] = from_float<T>(m.acc.w * inv);
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

// The in-kernel merge's protocol, over a group's first counter: its low 16 bits count the
// blocks that have finished their keys, its high 16 bits the blocks whose partials are
// written. Thread 0 of every block arrives as soon as its loop ends (arrive_split: the trip
// overlaps the warps' merge and the partials' writes) and publishes once the block's partials
// are written (publish_split; CUTLASS's semaphore: the writes are ordered before thread 0's
// increment by a barrier and the fence). One block of the group merges: the last to arrive
// if its ticket shows every other block's partials written already (others_published: it
// then neither fences nor publishes, the usual case where the group's other blocks ended
// long before), else the one whose publication is the group's last. It puts both of the
// group's counters (the second: the tiles claimed, fused's TileQueue) back to 0 for the next
// call (reset_split_counters): nobody else touches them any more.
__device__ __forceinline__ unsigned arrive_split(unsigned* group) { return atomicAdd(group, 1u); }
__device__ __forceinline__ bool others_published(unsigned ticket, int32_t splits) {
  return ticket == static_cast<unsigned>(splits - 1) * 0x10001u;
}
__device__ __forceinline__ bool publish_split(unsigned* group, int32_t splits) {
  __threadfence();
  return atomicAdd(group, 1u << 16) >> 16 == static_cast<unsigned>(splits - 1);
}
__device__ __forceinline__ void reset_split_counters(unsigned* group) {
  group[0] = group[1] = 0;
  __threadfence();  // and the partials' loads come after the count that showed them written
}

}  // namespace attnbench::plain_kv
