// The K/V tiles a split-KV decode block attends, in the order it attends them. Tile t of a
// sequence holds its visible keys lo + t * tile_kv onwards, `total` tiles in all, shared by
// the `splits` blocks of a group (a KV head's query chunk of one sequence).
//   Fixed splits: block s takes split_range's tiles, one contiguous run.
//   Claimed tiles: block s starts with kAhead tiles (s * kAhead onwards), then claims the
//   next tile nobody has yet from the group's counter, kAhead tiles before it attends it. A block on a busier SM attends fewer tiles, so the group's blocks end together
//   instead of waiting for the slowest: one wave of fixed splits ends when its slowest SM
//   does (Nsight Compute: the busiest SM active 97% of a decode, the average one 94%).
// A block's tiles increase, so the first one at `total` ends its list. With claims, thread 0
// fills the slots (fill), a barrier publishes them, every thread reads them (tile); fixed
// splits compute them.
#pragma once

#include "../common/plain_kv_layout.hpp"  // ATTNB_HD

#include <cstdint>

namespace attnbench::fused {

// Claims pay from four blocks a group on: with two, what the claims' atomics cost outweighs
// the balance they buy (H100, int8_kv at 32 x 32768: 0.5 points of copy bandwidth lost;
// with 4 to 64 blocks a group, fused and int8_kv gain 0.5 to 1.6 points:
// results/h100/experiments/claimed_tiles_ab.csv).
constexpr int32_t kMinClaimingSplits = 4;
ATTNB_HD bool claims_pay(int32_t splits) { return splits >= kMinClaimingSplits; }

template <int kAhead>
struct TileQueue {
  static constexpr int kRing = kAhead + 2;  // slots i - 1 .. i + kAhead are alive at once
  int32_t* ring;      // shared memory [kRing]: the tile of slot j at ring[j % kRing]
  unsigned* claims;   // the group's claim counter, or null: fixed splits
  int32_t total;      // tiles of the sequence
  int32_t first;      // the block's first tile
  int32_t count;      // tiles it takes before it claims (fixed splits: all of them)
  int32_t claimed0;   // the tile the counter's 0 stands for: splits * kAhead

  __device__ __forceinline__ TileQueue(int32_t* ring_, unsigned* claims_, int32_t total_,
                                       int32_t split, int32_t splits, int32_t fixed_first,
                                       int32_t fixed_count)
      : ring(ring_), claims(claims_), total(total_) {
    if (claims) {
      first = split * kAhead;
      count = max(0, min(kAhead, total - first));
      claimed0 = splits * kAhead;
    } else {
      first = fixed_first;
      count = fixed_count;
      claimed0 = total;
    }
  }

  // Thread 0 fills slot j in two steps, so that a claim's latency hides behind the work of
  // the tile attended meanwhile: claim issues the atomic (a ticket, or kNone when slot j
  // needs none), publish writes the slot's tile into the ring.
  static constexpr unsigned kNone = ~0u;
  __device__ __forceinline__ unsigned claim(int32_t j) const {
    const bool more = j >= count && claims && (j == 0 || tile(j - 1) < total);
    return more ? atomicAdd(claims, 1u) : kNone;
  }
  __device__ __forceinline__ void publish(int32_t j, unsigned ticket) {
    if (!claims) return;  // fixed splits: tile() computes the slot's tile
    int64_t t = total;
    if (j < count) t = first + j;
    else if (ticket != kNone) t = min(static_cast<int64_t>(total), claimed0 + static_cast<int64_t>(ticket));
    ring[j % kRing] = static_cast<int32_t>(t);
  }
  __device__ __forceinline__ void fill(int32_t j) { publish(j, claim(j)); }
  // Fixed splits keep the ring out of the loop: no shared-memory round trip a tile.
  __device__ __forceinline__ int32_t tile(int32_t j) const {
    return claims ? ring[j % kRing] : (j < count ? first + j : total);
  }
  __device__ __forceinline__ bool valid(int32_t j) const { return tile(j) < total; }
};

}  // namespace attnbench::fused
