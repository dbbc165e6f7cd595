// Counting the heap allocations a plugin makes in its hot path (append_kv, prefill, decode),
// which must not allocate: the host pre-allocates everything, like a server would.
//
// AttentionOp opens a HotPathCall around each of those plugin calls. The host executable
// interposes malloc (and calloc, realloc, the aligned forms): while a HotPathCall is open
// on a thread, every allocation on that thread is counted. A C++ plugin's operator new ends
// in the same malloc, so both C and C++ plugins are seen. Not seen: allocations on threads
// the plugin starts itself, and device memory (cudaMalloc inside the plugin).
#pragma once

#include <cstdint>

namespace attnbench {

enum class HotPathKind { kAppendKv = 0, kPrefill = 1, kDecode = 2 };

// Marks this thread as inside one plugin hot-path call for its lifetime.
class HotPathCall {
 public:
  explicit HotPathCall(HotPathKind kind) noexcept;
  ~HotPathCall();
  HotPathCall(const HotPathCall&) = delete;
  HotPathCall& operator=(const HotPathCall&) = delete;

 private:
  int previous_;
};

// This thread's totals since it started, per kind of call.
struct HotPathAllocations {
  uint64_t calls[3] = {};
  uint64_t allocations[3] = {};
  uint64_t total_calls() const { return calls[0] + calls[1] + calls[2]; }
  uint64_t total_allocations() const { return allocations[0] + allocations[1] + allocations[2]; }
};
HotPathAllocations hot_path_allocations();

// True when a plugin's malloc resolves to the counting one (glibc, and the host executable
// exports it); otherwise counts stay 0 and say nothing.
bool hot_path_allocations_counted();

}  // namespace attnbench
