// Stands in for plugins/common/cuda_common.cuh under the SIMT emulator: the conversions and
// dispatch the fused kernels use, as host code; launches are checked by the emulator itself.
#pragma once

#include "../simt.hpp"
#include "plain_kv_layout.hpp"

#include <attnbench/plugin.hpp>

#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace attnbench::plain_kv {

template <typename T>
T from_float(float x) {
  return T(x);
}

inline void check_launch(const char*) {}

template <typename F>
void dispatch_half_types(int32_t dtype, F&& f) {
  if (dtype == ATTNB_DTYPE_F16)
    f(static_cast<__half*>(nullptr));
  else if (dtype == ATTNB_DTYPE_BF16)
    f(static_cast<__nv_bfloat16*>(nullptr));
  else
    throw Unsupported("no CUDA kernel for this dtype");
}

}  // namespace attnbench::plain_kv
