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
  std::string cpu_name = "cpu"; // the CPU's model name, GPU or not
  std::string driver;           // CUDA driver version, e.g. "13.0"; empty without a GPU
  int cc_major = 0, cc_minor = 0;
  int sm_count = 0;
  std::size_t total_memory = 0; // bytes of device memory (or host RAM on the CPU)
  std::size_t l2_bytes = 0;     // bytes of L2 (0 when unknown)
  std::string why_no_cuda;      // why the CUDA probe failed, for `attnbench list`
};

// Probes once and caches: CUDA device 0 when the driver and a device answer.
const DeviceInfo& detect_device();

// The hardware a case on `device` runs on, as rows and messages name it: the GPU's name for
// cuda, the CPU's model name for cpu (on a machine with a GPU too).
const std::string& hardware_name(AttnbDevice device);

// Bytes `device` can still give: cudaMemGetInfo's free memory on the GPU, the kernel's
// MemAvailable on the CPU (free RAM plus what it can reclaim without swapping).
std::size_t free_memory_bytes(AttnbDevice device);

// Empty when `bytes` can be allocated on `device` now, else one line naming the bytes needed
// and the bytes free. Asked before allocating: where the kernel overcommits, an allocation
// larger than RAM succeeds and the process is killed when it touches the memory.
std::string memory_shortfall(AttnbDevice device, std::size_t bytes);

// The host's side of negotiation: our ABI range, the device and the log sink.
AttnbHostInfo make_host_info(AttnbDevice device);

// Whether this build has the CUDA path compiled in.
bool built_with_cuda();

}  // namespace attnbench
