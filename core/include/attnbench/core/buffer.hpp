// Memory the host owns: every buffer a plugin sees comes from here, so the host knows
// its exact peak (MemoryAccounting) the way a pre-allocating server would.
#pragma once

#include <attnbench/abi.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace attnbench {

// Bytes currently held and the peak since the last reset, per device.
class MemoryAccounting {
 public:
  static void add(AttnbDevice device, std::size_t bytes);
  static void remove(AttnbDevice device, std::size_t bytes);
  static std::size_t current(AttnbDevice device);
  static std::size_t peak(AttnbDevice device);
  static void reset_peak(AttnbDevice device);
};

// Thrown when a device allocation fails, so callers can record `oom` rather than abort.
struct OutOfMemory : std::bad_alloc {
  const char* what() const noexcept override { return "out of device memory"; }
};

// A block of memory on the CPU or the GPU. Move-only.
class Buffer {
 public:
  Buffer() = default;
  Buffer(AttnbDevice device, std::size_t bytes);
  ~Buffer();
  Buffer(Buffer&& other) noexcept;
  Buffer& operator=(Buffer&& other) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  void* data() const { return data_; }
  std::size_t bytes() const { return bytes_; }
  AttnbDevice device() const { return device_; }

  void upload(const void* host, std::size_t bytes, std::size_t offset = 0);
  void download(void* host, std::size_t bytes, std::size_t offset = 0) const;
  // Fills every byte with `value` (0xff makes fp16/bf16/fp32 NaN: a poison that any
  // element left unwritten by a kernel shows up as).
  void fill_bytes(uint8_t value);

  template <typename T>
  static Buffer from_vector(AttnbDevice device, const std::vector<T>& v) {
    Buffer b(device, v.size() * sizeof(T));
    if (!v.empty()) b.upload(v.data(), v.size() * sizeof(T));
    return b;
  }

 private:
  void release();
  AttnbDevice device_ = ATTNB_DEVICE_CPU;
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
};

// Waits for the device and throws with the CUDA error text if anything failed.
void synchronize(AttnbDevice device);

}  // namespace attnbench
