// How split-KV decoding cuts a sequence's keys among blocks; host and device code, so the
// CPU paths split exactly as the kernels do.
#pragma once

#include "plain_kv_layout.hpp"  // ATTNB_HD

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

}  // namespace attnbench::plain_kv
