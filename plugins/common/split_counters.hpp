// The counters of split-KV decoding, two per group of blocks that splits a row group's keys
// (the arrivals of split_merge.cuh's in-kernel merge, the tiles claimed of fused's TileQueue), in
// device memory the op owns. Zeroed once here; the last block of every group puts its
// counters back to 0, so a decode call needs neither a memset nor a second kernel. Decode calls on one op must therefore be ordered on
// the device (one stream, or synchronized), as they already are by sharing its workspace.
#pragma once

#include <attnbench/plugin.hpp>  // Error

#include <cuda_runtime_api.h>

#include <cstddef>
#include <string>
#include <utility>

namespace attnbench::plain_kv {

// Block groups of a decode: sequences x KV heads x chunks of `heads_per_block` query heads.
inline std::size_t split_groups(int64_t batch, int32_t num_q_heads, int32_t num_kv_heads, int32_t heads_per_block) {
  const int32_t chunks = (num_q_heads / num_kv_heads + heads_per_block - 1) / heads_per_block;
  return static_cast<std::size_t>(batch) * num_kv_heads * chunks;
}

class SplitCounters {
 public:
  SplitCounters() = default;
  // The counters of every group `problem` can launch (max_batch sequences).
  SplitCounters(const AttnbProblem& problem, int32_t heads_per_block)
      : SplitCounters(split_groups(problem.max_batch, problem.num_q_heads, problem.num_kv_heads, heads_per_block)) {}
  explicit SplitCounters(std::size_t groups) : count_(groups) {
    const std::size_t bytes = 2 * groups * sizeof(unsigned);
    if (cudaMalloc(reinterpret_cast<void**>(&counters_), bytes) != cudaSuccess ||
        cudaMemset(counters_, 0, bytes) != cudaSuccess) {
      release();
      throw Error(ATTNB_ERR_OUT_OF_MEMORY,
                  "cannot allocate " + std::to_string(bytes) + " bytes of split-KV counters");
    }
  }
  SplitCounters(SplitCounters&& other) noexcept
      : counters_(std::exchange(other.counters_, nullptr)), count_(std::exchange(other.count_, 0)) {}
  SplitCounters& operator=(SplitCounters&& other) noexcept {
    std::swap(counters_, other.counters_);
    std::swap(count_, other.count_);
    return *this;
  }
  ~SplitCounters() { release(); }

  // The counters of `groups` block groups (batch x KV heads x head chunks), two each.
  unsigned* get(std::size_t groups) const {
    if (groups > count_)
      throw Error(ATTNB_ERR_INVALID_ARGUMENT, "split-KV counters for " + std::to_string(count_) +
                                                  " block groups, " + std::to_string(groups) + " asked");
    return counters_;
  }

 private:
  void release() {
    if (counters_) cudaFree(counters_);
    counters_ = nullptr;
  }
  unsigned* counters_ = nullptr;
  std::size_t count_ = 0;
};

}  // namespace attnbench::plain_kv
