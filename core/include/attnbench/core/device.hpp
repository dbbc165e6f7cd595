// The device the host runs on: a CUDA GPU when one answers, the CPU otherwise.
#pragma once

#include <attnbench/abi.h>

#include <cstddef>
#include <string>

namespace attnbench {

struct DeviceInfo {
  bool has_cuda = false;        // a CUDA device answered
  int ordinal = -1;
  std::string name = "cpu";     // "NVIDIA H100 80GB HBM3", or the CPU's model name
  std::string driver;           // CUDA driver version, e.g. "13.0"; empty without a GPU
  int cc_major = 0, cc_minor = 0;
  int sm_count = 0;
  std::size_t total_memory = 0; // bytes of device memory (or host RAM on the CPU)
  std::size_t l2_bytes = 0;     // bytes of L2 (0 when unknown)
  std::string why_no_cuda;      // why the CUDA probe failed, for `attnbench list`
};

// Probes once and caches: CUDA device 0 when the driver and a device answer.
const DeviceInfo& detect_device();

// The host's side of negotiation: our ABI range, the device and the log sink.
AttnbHostInfo make_host_info(AttnbDevice device);

// Whether this build has the CUDA path compiled in.
bool built_with_cuda();

}  // namespace attnbench
