// The CUDA runtime API calls the plugins' host code makes, answered for the emulator: an H100
// SXM (132 SMs, 227 KiB of shared memory per block with the opt-in), host memory standing in
// for device memory, launches that finish before they return, and one driver function reached
// through cudaGetDriverEntryPointByVersion, the tensor map encoder. An emulated plugin links
// this instead of cudart; its version script keeps these symbols inside the plugin.
#include <cuda.h>

#include <algorithm>
#include <cstdio>
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

// ---- cuTensorMapEncodeTiled ------------------------------------------------------------------

namespace {

// Bytes per element of the types whose tensor copies are plain byte copies; 0 for the rest.
int element_bytes(CUtensorMapDataType type) {
  switch (type) {
    case CU_TENSOR_MAP_DATA_TYPE_UINT8:
      return 1;
    case CU_TENSOR_MAP_DATA_TYPE_UINT16:
    case CU_TENSOR_MAP_DATA_TYPE_FLOAT16:
    case CU_TENSOR_MAP_DATA_TYPE_BFLOAT16:
      return 2;
    case CU_TENSOR_MAP_DATA_TYPE_UINT32:
    case CU_TENSOR_MAP_DATA_TYPE_INT32:
    case CU_TENSOR_MAP_DATA_TYPE_FLOAT32:
      return 4;
    case CU_TENSOR_MAP_DATA_TYPE_UINT64:
    case CU_TENSOR_MAP_DATA_TYPE_INT64:
    case CU_TENSOR_MAP_DATA_TYPE_FLOAT64:
      return 8;
    default:
      return 0;
  }
}

bool is_float(CUtensorMapDataType type) {
  return type == CU_TENSOR_MAP_DATA_TYPE_FLOAT16 || type == CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 ||
         type == CU_TENSOR_MAP_DATA_TYPE_FLOAT32 || type == CU_TENSOR_MAP_DATA_TYPE_FLOAT64;
}

// The bytes the swizzle permutes within; -1 for the modes not emulated (the 128-byte ones with
// 32- or 64-byte atoms).
int swizzle_span(CUtensorMapSwizzle swizzle) {
  switch (swizzle) {
    case CU_TENSOR_MAP_SWIZZLE_NONE:
      return 0;
    case CU_TENSOR_MAP_SWIZZLE_32B:
      return 32;
    case CU_TENSOR_MAP_SWIZZLE_64B:
      return 64;
    case CU_TENSOR_MAP_SWIZZLE_128B:
      return 128;
    default:
      return -1;
  }
}

// A documented argument the emulated copies do not implement: said, and refused.
CUresult not_emulated(const char* what, int value) {
  std::fprintf(stderr, "simt: cuTensorMapEncodeTiled: %s %d is not emulated\n", what, value);
  return CUDA_ERROR_NOT_SUPPORTED;
}

// cuTensorMapEncodeTiled with the driver's documented checks (cuda.h), the map kept as
// simt::ptx::TensorMap. Tiled copies of plain element types, element strides 1, no
// interleave, zero fill out of bounds: what the kernels use.
CUresult CUDAAPI encode_tiled(CUtensorMap* map, CUtensorMapDataType type, cuuint32_t rank, void* address,
                              const cuuint64_t* dims, const cuuint64_t* strides, const cuuint32_t* box,
                              const cuuint32_t* element_strides, CUtensorMapInterleave interleave,
                              CUtensorMapSwizzle swizzle, CUtensorMapL2promotion l2_promotion,
                              CUtensorMapFloatOOBfill oob_fill) {
  if (!map || reinterpret_cast<std::uintptr_t>(map) % 64 != 0 || !address ||
      reinterpret_cast<std::uintptr_t>(address) % 16 != 0 || rank < 1 || rank > 5 || !dims ||
      (rank > 1 && !strides) || !box || !element_strides)
    return CUDA_ERROR_INVALID_VALUE;
  if (type < CU_TENSOR_MAP_DATA_TYPE_UINT8 || type > CU_TENSOR_MAP_DATA_TYPE_16U6_ALIGN16B ||
      interleave < CU_TENSOR_MAP_INTERLEAVE_NONE || interleave > CU_TENSOR_MAP_INTERLEAVE_32B ||
      swizzle < CU_TENSOR_MAP_SWIZZLE_NONE || swizzle > CU_TENSOR_MAP_SWIZZLE_128B_ATOM_64B ||
      l2_promotion < CU_TENSOR_MAP_L2_PROMOTION_NONE || l2_promotion > CU_TENSOR_MAP_L2_PROMOTION_L2_256B ||
      oob_fill < CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE || oob_fill > CU_TENSOR_MAP_FLOAT_OOB_FILL_NAN_REQUEST_ZERO_FMA)
    return CUDA_ERROR_INVALID_VALUE;
  const int bytes = element_bytes(type);
  if (bytes == 0) return not_emulated("data type", type);
  if (interleave != CU_TENSOR_MAP_INTERLEAVE_NONE) return not_emulated("interleave", interleave);
  const int span = swizzle_span(swizzle);
  if (span < 0) return not_emulated("swizzle", swizzle);
  if (oob_fill != CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE && !is_float(type)) return CUDA_ERROR_INVALID_VALUE;
  if (oob_fill != CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) return not_emulated("out-of-bounds fill", oob_fill);
  for (cuuint32_t i = 0; i < rank; ++i) {
    if (dims[i] == 0 || dims[i] > (cuuint64_t{1} << 32)) return CUDA_ERROR_INVALID_VALUE;
    if (i > 0 && (strides[i - 1] % 16 != 0 || strides[i - 1] >= (cuuint64_t{1} << 40)))
      return CUDA_ERROR_INVALID_VALUE;
    if (box[i] == 0 || box[i] > 256) return CUDA_ERROR_INVALID_VALUE;
    if (element_strides[i] == 0 || element_strides[i] > 8) return CUDA_ERROR_INVALID_VALUE;
    // The innermost stride is ignored without interleave.
    if (i > 0 && element_strides[i] != 1) return not_emulated("element stride", static_cast<int>(element_strides[i]));
  }
  const cuuint64_t inner_bytes = cuuint64_t{box[0]} * bytes;
  if (inner_bytes % 16 != 0 || (span > 0 && inner_bytes > static_cast<cuuint64_t>(span)))
    return CUDA_ERROR_INVALID_VALUE;
  simt::ptx::TensorMap m{};
  m.magic = simt::ptx::TensorMap::kMagic;
  m.rank = static_cast<uint8_t>(rank);
  m.element_bytes = static_cast<uint8_t>(bytes);
  m.swizzle_span = static_cast<uint8_t>(span);
  m.address = static_cast<const unsigned char*>(address);
  for (cuuint32_t i = 0; i < rank; ++i) {
    m.dims[i] = dims[i];
    m.strides[i] = i == 0 ? static_cast<uint64_t>(bytes) : strides[i - 1];
    m.box[i] = static_cast<uint16_t>(box[i]);
  }
  std::memset(map, 0, sizeof *map);
  std::memcpy(map, &m, sizeof m);
  return CUDA_SUCCESS;
}

}  // namespace

}  // namespace simt

extern "C" {

// The driver functions the plugins reach: cuTensorMapEncodeTiled (since CUDA 12.0), from an
// emulated CUDA 13.0 driver. As documented: a symbol it lacks gives cudaSuccess, a null
// pointer and the reason in driverStatus; a version above the driver's, cudaErrorInvalidValue.
cudaError_t cudaGetDriverEntryPointByVersion(const char* symbol, void** funcPtr, unsigned int cudaVersion,
                                             unsigned long long flags,
                                             enum cudaDriverEntryPointQueryResult* driverStatus) {
  if (!symbol || !funcPtr || cudaVersion > CUDA_VERSION ||
      (flags != cudaEnableDefault && flags != cudaEnableLegacyStream && flags != cudaEnablePerThreadDefaultStream))
    return cudaErrorInvalidValue;
  *funcPtr = nullptr;
  cudaDriverEntryPointQueryResult status = cudaDriverEntryPointSymbolNotFound;
  if (std::strcmp(symbol, "cuTensorMapEncodeTiled") == 0) {
    status = cudaVersion >= 12000 ? cudaDriverEntryPointSuccess : cudaDriverEntryPointVersionNotSufficent;
    if (status == cudaDriverEntryPointSuccess) *funcPtr = reinterpret_cast<void*>(&simt::encode_tiled);
  }
  if (driverStatus) *driverStatus = status;
  return cudaSuccess;
}

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
