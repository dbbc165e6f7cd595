// Random inputs of any size without generating billions of random numbers: a block of
// standard normal values (rounded to the dtype) that every tensor is tiled from, starting at
// a per-tensor offset (`salt`). The host can say what any element is, so a result can still
// be checked against the fp64 reference. Never zeros: timing on zeros flatters kernels.
#pragma once

#include <attnbench/core/buffer.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace attnbench {

class RandomSource {
 public:
  // A prime period, so rows of power-of-two length never line up with the block.
  static constexpr std::size_t kPeriod = 1048573;

  RandomSource(int32_t dtype, uint64_t seed);
  int32_t dtype() const { return dtype_; }

  // Element i of a tensor tiled with `salt`, as the plugin sees it.
  float value(std::size_t i, std::size_t salt) const { return values_[(i + salt) % kPeriod]; }
  // Writes elements [0, count) of that tensor into `buffer` at byte `offset`, in the dtype.
  void fill(Buffer& buffer, std::size_t count, std::size_t salt, std::size_t offset = 0) const;

 private:
  int32_t dtype_;
  std::vector<float> values_;   // kPeriod values
  std::vector<uint8_t> packed_; // 2 * kPeriod elements in the dtype: any window of kPeriod
                                // elements starting below kPeriod is contiguous
};

// One source per (dtype, seed) for the whole process: its block is made once, and a case's
// host memory then holds only what the case itself needs.
const RandomSource& shared_random_source(int32_t dtype, uint64_t seed);

}  // namespace attnbench
