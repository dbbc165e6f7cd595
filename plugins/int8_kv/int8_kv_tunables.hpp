// The knobs of int8_kv (ABI 1.1 tunables); both act on the CUDA decode only.
#pragma once

#include <cstdint>

namespace attnbench::int8_kv {

struct Tunables {
  int32_t kv_splits = 0;    // blocks that share one decode query's keys; 0 plans them
  int32_t claim_tiles = 1;  // tensor-core decode: split blocks claim tiles as they go (TileQueue)
};

}  // namespace attnbench::int8_kv
