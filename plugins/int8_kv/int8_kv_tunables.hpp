// The values of int8_kv's tunables (declared in int8_kv_plugin.cpp), as the CUDA path takes them.
#pragma once

#include <cstdint>

namespace attnbench::int8_kv {

struct DecodeTunables {
  int32_t kv_splits = 0;       // blocks sharing one decode query's keys; 0 chooses
  bool early_launch = true;    // the decode launched while the append runs (see cuda_attend)
  bool tensor_copies = true;   // tiles copied by the tensor memory accelerator where the
                               // page size allows (int8_values_map.hpp), else by cp.async
  bool l2_evict_first = true;  // the tensor copies' lines marked L2 evict-first
};

}  // namespace attnbench::int8_kv
