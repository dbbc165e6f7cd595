// How much does the way L2 is flushed before a timed call cost the call itself? A kernel that
// only reads N bytes (as decode does) is timed with device events after: no flush; a memset
// of 2 x L2 (what attnbench's DeviceTimer does: it leaves L2 full of dirty lines, which the
// timed kernel then has to write back); a read of 2 x L2 (L2 left full of clean lines).
// Build: nvcc -O3 -arch=sm_90 l2_flush_study.cu -o l2_flush_study
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <vector>

#define CHECK(x)                                                                   \
  do {                                                                             \
    cudaError_t e = (x);                                                           \
    if (e != cudaSuccess) {                                                        \
      std::fprintf(stderr, "%s: %s\n", #x, cudaGetErrorString(e));                 \
      std::exit(1);                                                                \
    }                                                                              \
  } while (0)

__global__ void read_kernel(const uint4* p, std::size_t n, unsigned* sink) {
  unsigned acc = 0;
  for (std::size_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    const uint4 v = __ldcs(p + i);  // streaming, as the decode kernels' cp.async.cg reads
    acc ^= v.x ^ v.y ^ v.z ^ v.w;
  }
  if (acc == 0x12345678u) *sink = acc;  // never true for the data below; keeps the loads
}

int main() {
  int dev = 0, sms = 0, l2 = 0;
  CHECK(cudaGetDevice(&dev));
  CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
  CHECK(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, dev));
  cudaDeviceProp prop{};
  CHECK(cudaGetDeviceProperties(&prop, dev));
  const std::size_t flush_bytes = 2 * static_cast<std::size_t>(l2);
  void *flush = nullptr, *data = nullptr;
  unsigned* sink = nullptr;
  const std::size_t max_bytes = std::size_t{1} << 30;
  CHECK(cudaMalloc(&flush, flush_bytes));
  CHECK(cudaMalloc(&data, max_bytes));
  CHECK(cudaMalloc(&sink, 4));
  CHECK(cudaMemset(data, 0x5a, max_bytes));  // never time on zeros
  cudaEvent_t a, b;
  CHECK(cudaEventCreate(&a));
  CHECK(cudaEventCreate(&b));
  const int grid = sms * 8, block = 512;
  std::printf("# %s, %d SMs, L2 %d MiB; read kernel %d x %d threads, median of 50\n", prop.name, sms,
              l2 >> 20, grid, block);
  std::printf("bytes,flush,median_us,gbps\n");
  for (std::size_t bytes : {std::size_t{16} << 20, std::size_t{268} << 20, std::size_t{537} << 20,
                            std::size_t{1} << 30}) {
    for (const char* mode : {"none", "memset", "read"}) {
      std::vector<float> t;
      for (int r = 0; r < 53; ++r) {
        if (mode[0] == 'm') CHECK(cudaMemsetAsync(flush, r & 0xff, flush_bytes));
        if (mode[0] == 'r')
          read_kernel<<<grid, block>>>(static_cast<const uint4*>(flush), flush_bytes / 16, sink);
        CHECK(cudaEventRecord(a));
        read_kernel<<<grid, block>>>(static_cast<const uint4*>(data), bytes / 16, sink);
        CHECK(cudaEventRecord(b));
        CHECK(cudaEventSynchronize(b));
        float ms = 0;
        CHECK(cudaEventElapsedTime(&ms, a, b));
        if (r >= 3) t.push_back(ms);
      }
      std::sort(t.begin(), t.end());
      const double us = t[t.size() / 2] * 1e3;
      std::printf("%zu,%s,%.2f,%.1f\n", bytes, mode, us, bytes / us / 1e3);
    }
  }
  return 0;
}
