// The knobs of int8_kv (ABI 1.1 tunables); both act on the CUDA decode only.
#pragma once

#include <cstdint>

namespace attnbench::int8_kv {

struct Tunables {
  int32_t kv_splits = 0;       // blocks that share one decode query's keys; 0 plans them
  int32_t kv_evict_first = 1;  // tensor-core decode: K/V copies under an L2 evict-first policy
};

}  // namespace attnbench::int8_kv
