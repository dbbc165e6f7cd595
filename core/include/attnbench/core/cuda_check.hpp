// Host-side CUDA error checks: a failed call becomes an exception naming the call.
#pragma once

#ifdef ATTNB_WITH_CUDA
#include <cuda_runtime_api.h>

#include <stdexcept>
#include <string>

#define ATTNB_CUDA_CHECK(call)                                                            \
  do {                                                                                    \
    const cudaError_t attnb_err_ = (call);                                                \
    if (attnb_err_ != cudaSuccess)                                                        \
      throw std::runtime_error(std::string(#call) + ": " + cudaGetErrorString(attnb_err_)); \
  } while (0)
#endif
