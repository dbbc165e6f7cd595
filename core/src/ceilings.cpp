#include <attnbench/core/ceilings.hpp>

#include <attnbench/core/buffer.hpp>
#include <attnbench/core/cuda_check.hpp>
#include <attnbench/core/device.hpp>
#include <attnbench/core/random_source.hpp>
#include <attnbench/core/timing.hpp>
#include <attnbench/numeric.hpp>

#include <algorithm>
#include <cstring>
#include <limits>
#include <map>
#include <stdexcept>
#include <utility>

#ifdef ATTNB_WITH_CUDA
#include <cublas_v2.h>
#endif

namespace attnbench {

namespace {

constexpr int kRuns = 10;

double best_time(DeviceTimer& timer, const std::function<void()>& work, int runs) {
  timer.time(work);  // warm-up
  double best = std::numeric_limits<double>::infinity();
  for (int i = 0; i < runs; ++i) best = std::min(best, timer.time(work));
  return best;
}

// The copy: bytes read plus bytes written, as a kernel streaming its inputs would count them.
double copy_bytes_per_s(AttnbDevice device, std::size_t bytes) {
  Buffer src(device, bytes), dst(device, bytes);
  RandomSource(ATTNB_DTYPE_F32, 1).fill(src, bytes / 4, 0);
  DeviceTimer timer(device);
  auto copy = [&] {
#ifdef ATTNB_WITH_CUDA
    if (device == ATTNB_DEVICE_CUDA) {
      ATTNB_CUDA_CHECK(cudaMemcpyAsync(dst.data(), src.data(), bytes, cudaMemcpyDeviceToDevice, nullptr));
      return;
    }
#endif
    std::memcpy(dst.data(), src.data(), bytes);
  };
  return 2.0 * static_cast<double>(bytes) / best_time(timer, copy, kRuns);
}

// C = A * B, n x n fp32, blocked so each 64 x 64 tile of B stays in cache while a tile of A
// streams over it; the inner loop vectorizes.
void blocked_gemm(const float* a, const float* b, float* c, int n) {
  constexpr int kTile = 64;
  std::fill(c, c + static_cast<std::size_t>(n) * n, 0.0f);
  for (int i0 = 0; i0 < n; i0 += kTile)
    for (int k0 = 0; k0 < n; k0 += kTile)
      for (int j0 = 0; j0 < n; j0 += kTile)
        for (int i = i0; i < i0 + kTile; ++i) {
          float* ci = c + static_cast<std::size_t>(i) * n;
          for (int k = k0; k < k0 + kTile; ++k) {
            const float aik = a[static_cast<std::size_t>(i) * n + k];
            const float* bk = b + static_cast<std::size_t>(k) * n;
            for (int j = j0; j < j0 + kTile; ++j) ci[j] += aik * bk[j];
          }
        }
}

double cpu_gemm_flops_per_s() {
  const int n = 512;
  const std::size_t count = static_cast<std::size_t>(n) * n;
  Buffer a(ATTNB_DEVICE_CPU, count * 4), b(ATTNB_DEVICE_CPU, count * 4), c(ATTNB_DEVICE_CPU, count * 4);
  RandomSource source(ATTNB_DTYPE_F32, 2);
  source.fill(a, count, 0);
  source.fill(b, count, 12345);
  DeviceTimer timer(ATTNB_DEVICE_CPU);
  auto gemm = [&] {
    blocked_gemm(static_cast<const float*>(a.data()), static_cast<const float*>(b.data()),
                 static_cast<float*>(c.data()), n);
  };
  return 2.0 * n * n * n / best_time(timer, gemm, 3);
}

#ifdef ATTNB_WITH_CUDA
void check_cublas(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS)
    throw std::runtime_error(std::string(what) + ": cuBLAS status " + std::to_string(status));
}

// A square GEMM large enough to reach the tensor cores' rate, fp32 accumulation.
double gpu_gemm_flops_per_s(int32_t dtype) {
  const int n = 8192;
  const std::size_t count = static_cast<std::size_t>(n) * n;
  const cudaDataType type = dtype == ATTNB_DTYPE_F16    ? CUDA_R_16F
                            : dtype == ATTNB_DTYPE_BF16 ? CUDA_R_16BF
                                                        : CUDA_R_32F;
  const std::size_t elem = dtype_size(dtype);
  Buffer a(ATTNB_DEVICE_CUDA, count * elem), b(ATTNB_DEVICE_CUDA, count * elem),
      c(ATTNB_DEVICE_CUDA, count * elem);
  RandomSource source(dtype, 2);
  source.fill(a, count, 0);
  source.fill(b, count, 12345);
  cublasHandle_t handle = nullptr;
  check_cublas(cublasCreate(&handle), "cublasCreate");
  const float alpha = 1.0f, beta = 0.0f;
  DeviceTimer timer(ATTNB_DEVICE_CUDA);
  double seconds = 0;
  try {
    seconds = best_time(timer, [&] {
      check_cublas(cublasGemmEx(handle, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &alpha, a.data(), type, n,
                                b.data(), type, n, &beta, c.data(), type, n, CUBLAS_COMPUTE_32F,
                                CUBLAS_GEMM_DEFAULT),
                   "cublasGemmEx");
    }, kRuns);
  } catch (...) {
    cublasDestroy(handle);
    throw;
  }
  cublasDestroy(handle);
  return 2.0 * n * n * static_cast<double>(n) / seconds;
}
#endif

Ceilings measure(AttnbDevice device, int32_t dtype) {
  Ceilings c;
#ifdef ATTNB_WITH_CUDA
  if (device == ATTNB_DEVICE_CUDA) {
    const std::size_t bytes = std::min<std::size_t>(std::size_t{1} << 30, detect_device().total_memory / 16);
    c.bytes_per_s = copy_bytes_per_s(device, bytes);
    c.flops_per_s = gpu_gemm_flops_per_s(dtype);
    c.method = "cudaMemcpy device-to-device of " + std::to_string(bytes >> 20) +
               " MiB (read + written), cuBLAS " + dtype_name(dtype) +
               " GEMM 8192^3 with fp32 accumulation; best of " + std::to_string(kRuns);
    return c;
  }
#endif
  (void)dtype;
  c.bytes_per_s = copy_bytes_per_s(device, std::size_t{256} << 20);
  c.flops_per_s = cpu_gemm_flops_per_s();
  c.method = "memcpy of 256 MiB (read + written), blocked fp32 GEMM 512^3, one thread; best of runs";
  return c;
}

}  // namespace

const Ceilings& measured_ceilings(AttnbDevice device, int32_t dtype) {
  static std::map<std::pair<int, int>, Ceilings> cache;
  // The CPU GEMM is fp32 whatever the dtype (the CPU paths compute in fp32).
  const std::pair<int, int> key{device, device == ATTNB_DEVICE_CPU ? ATTNB_DTYPE_F32 : dtype};
  auto it = cache.find(key);
  if (it == cache.end()) it = cache.emplace(key, measure(device, key.second)).first;
  return it->second;
}

}  // namespace attnbench
