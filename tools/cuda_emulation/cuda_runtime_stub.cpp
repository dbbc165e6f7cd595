// The CUDA runtime API calls the plugins' host code makes, answered for the emulator: an H100
// SXM (132 SMs, 227 KiB of shared memory per block with the opt-in), host memory standing in
// for device memory, launches that finish before they return. An emulated plugin links this
// instead of cudart; its version script keeps these symbols inside the plugin.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>

#include "simt.hpp"

namespace simt {

namespace {
cudaError_t g_last_error = cudaSuccess;
std::map<const void*, int> g_opted_in;  // kernel -> cudaFuncAttributeMaxDynamicSharedMemorySize
}  // namespace

void record_launch_error(cudaError_t error) {
  if (g_last_error == cudaSuccess) g_last_error = error;
}

int opted_in_shared_bytes(const void* kernel) {
  const auto found = g_opted_in.find(kernel);
  return found == g_opted_in.end() ? 0 : found->second;
}

}  // namespace simt

extern "C" {

cudaError_t cudaGetLastError(void) {
  const cudaError_t e = simt::g_last_error;
  simt::g_last_error = cudaSuccess;
  return e;
}

cudaError_t cudaPeekAtLastError(void) { return simt::g_last_error; }

const char* cudaGetErrorName(cudaError_t error) {
  switch (error) {
    case cudaSuccess:
      return "cudaSuccess";
    case cudaErrorInvalidValue:
      return "cudaErrorInvalidValue";
    case cudaErrorInvalidConfiguration:
      return "cudaErrorInvalidConfiguration";
    case cudaErrorLaunchFailure:
      return "cudaErrorLaunchFailure";
    case cudaErrorInvalidDevice:
      return "cudaErrorInvalidDevice";
    default:
      return "cudaErrorUnknown";
  }
}

const char* cudaGetErrorString(cudaError_t error) {
  switch (error) {
    case cudaSuccess:
      return "no error";
    case cudaErrorInvalidValue:
      return "invalid argument";
    case cudaErrorInvalidConfiguration:
      return "invalid configuration argument";
    case cudaErrorLaunchFailure:
      return "unspecified launch failure (emulated; see simt: above)";
    default:
      return "unknown error";
  }
}

cudaError_t cudaFuncSetAttribute(const void* func, enum cudaFuncAttribute attr, int value) {
  if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize) return cudaSuccess;
  if (value < 0 || static_cast<std::size_t>(value) > simt::kSharedWindow)
    return simt::g_last_error = cudaErrorInvalidValue;
  simt::g_opted_in[func] = value;
  return cudaSuccess;
}

// An H100's limits per SM: 228 KiB of shared memory (1 KiB reserved per block), 2048
// threads, 32 blocks. Registers are not modelled.
cudaError_t cudaOccupancyMaxActiveBlocksPerMultiprocessor(int* blocks, const void*, int threads,
                                                          std::size_t shared_bytes) {
  if (threads <= 0) return simt::g_last_error = cudaErrorInvalidValue;
  const std::size_t by_shared = 228 * 1024 / (shared_bytes + 1024);
  *blocks = static_cast<int>(std::min<std::size_t>({by_shared, 2048 / static_cast<std::size_t>(threads), 32}));
  return cudaSuccess;
}

cudaError_t cudaGetDevice(int* device) {
  *device = 0;
  return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int* value, enum cudaDeviceAttr attr, int device) {
  if (device != 0) return cudaErrorInvalidDevice;
  switch (attr) {
    case cudaDevAttrMultiProcessorCount:
      *value = 132;
      break;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin:
      *value = static_cast<int>(simt::kSharedWindow);
      break;
    case cudaDevAttrMaxSharedMemoryPerBlock:
      *value = 48 * 1024;
      break;
    case cudaDevAttrMaxThreadsPerBlock:
      *value = 1024;
      break;
    case cudaDevAttrWarpSize:
      *value = 32;
      break;
    case cudaDevAttrComputeCapabilityMajor:
      *value = 9;
      break;
    case cudaDevAttrComputeCapabilityMinor:
      *value = 0;
      break;
    default:
      return cudaErrorInvalidValue;
  }
  return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize(void) { return simt::g_last_error; }
cudaError_t cudaStreamSynchronize(cudaStream_t) { return simt::g_last_error; }

cudaError_t cudaMalloc(void** ptr, size_t bytes) {
  *ptr = std::malloc(bytes > 0 ? bytes : 1);
  return *ptr ? cudaSuccess : cudaErrorMemoryAllocation;
}
cudaError_t cudaFree(void* ptr) {
  std::free(ptr);
  return cudaSuccess;
}
cudaError_t cudaMemset(void* dst, int value, size_t bytes) {
  std::memset(dst, value, bytes);
  return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void* dst, int value, size_t bytes, cudaStream_t) {
  std::memset(dst, value, bytes);
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, enum cudaMemcpyKind,
                            cudaStream_t) {
  std::memmove(dst, src, bytes);
  return cudaSuccess;
}

}  // extern "C"
