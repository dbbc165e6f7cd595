#include <attnbench/core/buffer.hpp>
#include <attnbench/core/cuda_check.hpp>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>

namespace attnbench {

namespace {
std::atomic<std::size_t> g_current[2];
std::atomic<std::size_t> g_peak[2];
}  // namespace

void MemoryAccounting::add(AttnbDevice device, std::size_t bytes) {
  const std::size_t now = g_current[device] += bytes;
  std::size_t peak = g_peak[device].load();
  while (now > peak && !g_peak[device].compare_exchange_weak(peak, now)) {
  }
}
void MemoryAccounting::remove(AttnbDevice device, std::size_t bytes) { g_current[device] -= bytes; }
std::size_t MemoryAccounting::current(AttnbDevice device) { return g_current[device]; }
std::size_t MemoryAccounting::peak(AttnbDevice device) { return g_peak[device]; }
void MemoryAccounting::reset_peak(AttnbDevice device) { g_peak[device] = g_current[device].load(); }

Buffer::Buffer(AttnbDevice device, std::size_t bytes) : device_(device), bytes_(bytes) {
  if (bytes == 0) return;
  if (device == ATTNB_DEVICE_CUDA) {
#ifdef ATTNB_WITH_CUDA
    const cudaError_t err = cudaMalloc(&data_, bytes);
    if (err == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      throw OutOfMemory();
    }
    ATTNB_CUDA_CHECK(err);
#else
    throw std::runtime_error("CUDA buffer requested in a build without CUDA");
#endif
  } else {
    // 256-byte alignment, like cudaMalloc, so vector loads are legal on both paths.
    data_ = std::aligned_alloc(256, (bytes + 255) / 256 * 256);
    if (!data_) throw std::bad_alloc();
  }
  MemoryAccounting::add(device_, bytes_);
}

void Buffer::release() {
  if (!data_) return;
#ifdef ATTNB_WITH_CUDA
  if (device_ == ATTNB_DEVICE_CUDA) cudaFree(data_);
#endif
  if (device_ == ATTNB_DEVICE_CPU) std::free(data_);
  MemoryAccounting::remove(device_, bytes_);
  data_ = nullptr;
  bytes_ = 0;
}

Buffer::~Buffer() { release(); }

Buffer::Buffer(Buffer&& other) noexcept
    : device_(other.device_), data_(other.data_), bytes_(other.bytes_) {
  other.data_ = nullptr;
  other.bytes_ = 0;
}

Buffer& Buffer::operator=(Buffer&& other) noexcept {
  if (this != &other) {
    release();
    device_ = other.device_;
    data_ = other.data_;
    bytes_ = other.bytes_;
    other.data_ = nullptr;
    other.bytes_ = 0;
  }
  return *this;
}

static void check_range(std::size_t offset, std::size_t bytes, std::size_t size) {
  if (offset + bytes > size) throw std::out_of_range("buffer copy past the end of the buffer");
}

void Buffer::upload(const void* host, std::size_t bytes, std::size_t offset) {
  check_range(offset, bytes, bytes_);
  char* dst = static_cast<char*>(data_) + offset;
#ifdef ATTNB_WITH_CUDA
  if (device_ == ATTNB_DEVICE_CUDA) {
    ATTNB_CUDA_CHECK(cudaMemcpy(dst, host, bytes, cudaMemcpyHostToDevice));
    return;
  }
#endif
  std::memcpy(dst, host, bytes);
}

void Buffer::download(void* host, std::size_t bytes, std::size_t offset) const {
  check_range(offset, bytes, bytes_);
  const char* src = static_cast<const char*>(data_) + offset;
#ifdef ATTNB_WITH_CUDA
  if (device_ == ATTNB_DEVICE_CUDA) {
    ATTNB_CUDA_CHECK(cudaMemcpy(host, src, bytes, cudaMemcpyDeviceToHost));
    return;
  }
#endif
  std::memcpy(host, src, bytes);
}

void Buffer::fill_bytes(uint8_t value) {
  if (!data_) return;
#ifdef ATTNB_WITH_CUDA
  if (device_ == ATTNB_DEVICE_CUDA) {
    ATTNB_CUDA_CHECK(cudaMemset(data_, value, bytes_));
    return;
  }
#endif
  std::memset(data_, value, bytes_);
}

void synchronize(AttnbDevice device) {
#ifdef ATTNB_WITH_CUDA
  if (device == ATTNB_DEVICE_CUDA) {
    ATTNB_CUDA_CHECK(cudaDeviceSynchronize());
    ATTNB_CUDA_CHECK(cudaGetLastError());
  }
#else
  (void)device;
#endif
}

}  // namespace attnbench
