#include <attnbench/core/device.hpp>

#include <attnbench/core/cuda_check.hpp>

#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>
#include <unistd.h>

#ifdef ATTNB_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

namespace attnbench {

namespace {

std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(' ', colon + 1));
    }
  }
  return "cpu";
}

DeviceInfo probe() {
  DeviceInfo info;
  info.cpu_name = info.name = cpu_model_name();
  info.total_memory = static_cast<std::size_t>(sysconf(_SC_PHYS_PAGES)) *
                      static_cast<std::size_t>(sysconf(_SC_PAGE_SIZE));
#ifdef ATTNB_WITH_CUDA
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    info.why_no_cuda = std::string("no usable GPU: ") + cudaGetErrorString(err);
    cudaGetLastError();  // clear the sticky-free error so later probes start clean
    return info;
  }
  if (count == 0) {
    info.why_no_cuda = "no CUDA device";
    return info;
  }
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess || cudaSetDevice(0) != cudaSuccess) {
    info.why_no_cuda = "CUDA device 0 did not answer";
    return info;
  }
  int driver = 0;
  cudaDriverGetVersion(&driver);
  info.has_cuda = true;
  info.ordinal = 0;
  info.name = prop.name;
  info.driver = std::to_string(driver / 1000) + "." + std::to_string((driver % 1000) / 10);
  info.cc_major = prop.major;
  info.cc_minor = prop.minor;
  info.sm_count = prop.multiProcessorCount;
  info.total_memory = prop.totalGlobalMem;
  info.l2_bytes = static_cast<std::size_t>(prop.l2CacheSize);
#else
  info.why_no_cuda = "built without CUDA";
#endif
  return info;
}

void log_to_stderr(void* user, int32_t level, const char* message) {
  static const char* const names[] = {"debug", "info", "warning", "error"};
  const char* name = level >= 0 && level <= 3 ? names[level] : "log";
  std::fprintf(stderr, "attnbench: %s: %s: %s\n", user ? static_cast<const char*>(user) : "plugin",
               name, message ? message : "");
}

}  // namespace

const DeviceInfo& detect_device() {
  static const DeviceInfo info = probe();
  return info;
}

const std::string& hardware_name(AttnbDevice device) {
  const DeviceInfo& d = detect_device();
  return device == ATTNB_DEVICE_CUDA && d.has_cuda ? d.name : d.cpu_name;
}

std::size_t free_memory_bytes(AttnbDevice device) {
#ifdef ATTNB_WITH_CUDA
  if (device == ATTNB_DEVICE_CUDA) {
    std::size_t free = 0, total = 0;
    ATTNB_CUDA_CHECK(cudaMemGetInfo(&free, &total));
    return free;
  }
#else
  if (device == ATTNB_DEVICE_CUDA) throw std::runtime_error("free memory of CUDA asked in a build without CUDA");
#endif
  std::ifstream meminfo("/proc/meminfo");
  for (std::string line; std::getline(meminfo, line);)
    if (line.rfind("MemAvailable:", 0) == 0) return std::stoull(line.substr(13)) * 1024;  // kB
  // Kernels before 3.14 have no MemAvailable: free pages only (page cache not counted).
  return static_cast<std::size_t>(sysconf(_SC_AVPHYS_PAGES)) * static_cast<std::size_t>(sysconf(_SC_PAGE_SIZE));
}

std::string memory_shortfall(AttnbDevice device, std::size_t bytes) {
  const std::size_t free = free_memory_bytes(device);
  if (bytes <= free) return "";
  return "needs " + std::to_string(bytes) + " bytes, more than the " + std::to_string(free) + " bytes free on " +
         hardware_name(device) + (device == ATTNB_DEVICE_CUDA ? " (cudaMemGetInfo)" : " (MemAvailable)");
}

bool built_with_cuda() {
#ifdef ATTNB_WITH_CUDA
  return true;
#else
  return false;
#endif
}

AttnbHostInfo make_host_info(AttnbDevice device) {
  const DeviceInfo& d = detect_device();
  AttnbHostInfo h{};
  h.struct_size = sizeof(AttnbHostInfo);
  h.abi_major = ATTNB_ABI_MAJOR;
  h.abi_minor_min = 0;
  h.abi_minor_max = ATTNB_ABI_MINOR;
  const bool cuda = device == ATTNB_DEVICE_CUDA && d.has_cuda;
  h.cuda_device = cuda ? d.ordinal : -1;
  h.cuda_cc_major = cuda ? d.cc_major : 0;
  h.cuda_cc_minor = cuda ? d.cc_minor : 0;
  h.cuda_sm_count = cuda ? d.sm_count : 0;
  h.log = &log_to_stderr;
  h.log_user = nullptr;
  return h;
}

}  // namespace attnbench
