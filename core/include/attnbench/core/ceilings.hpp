// The physical limits a result is compared with, measured on the same device in the same
// run rather than taken from a data sheet: the copy bandwidth (a large device-to-device copy,
// counting bytes read + written) and the arithmetic rate (a large GEMM: cuBLAS on the GPU,
// a blocked fp32 loop on the CPU, single-threaded like the plugins' CPU paths).
#pragma once

#include <attnbench/abi.h>

#include <string>

namespace attnbench {

struct Ceilings {
  double bytes_per_s = 0;
  double flops_per_s = 0;
  std::string method;  // what was measured, for the report
};

// Measured on first use for (device, dtype of the GEMM inputs) and remembered for the
// process. Best of several runs after a warm-up: a ceiling is what the device can reach.
const Ceilings& measured_ceilings(AttnbDevice device, int32_t dtype);

}  // namespace attnbench
