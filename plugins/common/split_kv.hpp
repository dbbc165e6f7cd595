// How split-KV decoding cuts a sequence's keys among blocks; host and device code, so the
// CPU paths split exactly as the kernels do.
#pragma once

#include "plain_kv_layout.hpp"  // ATTNB_HD, sequence_length

#include <attnbench/plugin.hpp>  // visible_tokens

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace attnbench::plain_kv {

// Keys [begin, end) of split `s` of `splits` over a sequence's visible keys [lo, hi): equal
// shares, rounded up to whole tiles so splits start on a tile boundary of their range.
struct KeyRange {
  int64_t begin, end;
};
ATTNB_HD KeyRange split_range(int64_t lo, int64_t hi, int32_t s, int32_t splits,
                              int32_t tile_kv) {
  const int64_t n = hi - lo;
  const int64_t tiles = (n + tile_kv - 1) / tile_kv;
  const int64_t share = (tiles + splits - 1) / splits * tile_kv;
  const int64_t begin = lo + s * share;
  const int64_t end = begin + share < hi ? begin + share : hi;
  return {begin < hi ? begin : hi, end};
}

// Of a block's tiles of tile_kv keys over [begin, end), the first that holds a key at or
// after `first_fresh` (the first key the append before a decode may still be writing when
// the decode starts early), or -1 when none does: the tile to wait before.
ATTNB_HD int32_t first_fresh_tile(int64_t first_fresh, int64_t begin, int64_t end, int32_t tile_kv) {
  if (first_fresh >= end || begin >= end) return -1;
  return first_fresh > begin ? static_cast<int32_t>((first_fresh - begin) / tile_kv) : 0;
}

// The most keys a decode query of this call sees, over its sequences (the host copy of the
// page table): how long the longest split range can be.
inline int64_t longest_visible(const AttnbProblem& p, const AttnbPagedKv& cache) {
  int64_t longest = 0;
  for (int32_t b = 0; b < cache.batch; ++b)
    longest = std::max(longest, visible_tokens(p, sequence_length(cache.page_indptr_host,
                                                                  cache.last_page_len_host,
                                                                  p.page_size, b)));
  return longest;
}

// Rows (query token x split) of split partial results a workspace is sized for: a decode of
// `batch` sequences may use up to split_slots / batch splits, and never more than max_splits.
inline int64_t split_slots(int64_t max_batch, int32_t max_splits) {
  return std::max<int64_t>(4 * max_batch, 2 * static_cast<int64_t>(max_splits));
}
inline int32_t split_capacity(int64_t max_batch, int32_t max_splits, int64_t batch) {
  return static_cast<int32_t>(
      std::max<int64_t>(1, std::min<int64_t>(max_splits, split_slots(max_batch, max_splits) / batch)));
}

// How many splits a decode call uses. `requested` > 0 is taken as is, up to `capacity`.
// Otherwise FlashInfer's rule: as many splits as one wave of resident blocks holds
// (`resident`: the kernel's blocks the device runs at once), never under four tiles of keys
// a split. Decode streams memory: every resident block is more loads in flight, and a
// second wave only adds a tail (the H100 runs: 32 x 4096 read 89% of the copy bandwidth in
// one split of 256 blocks, 86% in three splits, a wave and a half). No resident count (the
// CPU) gets one split.
inline int32_t plan_splits(int32_t requested, int64_t longest_visible, int64_t blocks_per_split,
                           int64_t resident, int32_t tile_kv, int32_t capacity) {
  if (requested > 0) return std::max(1, std::min(requested, capacity));
  if (resident <= 0 || blocks_per_split <= 0) return 1;
  constexpr int64_t kMinTilesPerSplit = 4;  // below this the merge costs more than it gains
  const int64_t tiles = (longest_visible + tile_kv - 1) / tile_kv;
  const int64_t most = std::min<int64_t>({capacity, resident / blocks_per_split, tiles / kMinTilesPerSplit});
  return static_cast<int32_t>(std::max<int64_t>(1, most));
}

}  // namespace attnbench::plain_kv
