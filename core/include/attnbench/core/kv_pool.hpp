// The KV cache of a server: one block of fixed-size pages in the plugin's format, allocated
// once at start from a byte budget, a free list of pages, and a page table per sequence.
// After construction nothing allocates: sequences live in slots whose page lists were
// reserved up front, and a batch is described into a pre-allocated PagedKvBatch. The pool
// does the bookkeeping only; the plugin's append_kv writes the K/V into the pages.
#pragma once

#include <attnbench/abi.h>
#include <attnbench/core/buffer.hpp>
#include <attnbench/core/page_table.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace attnbench {

// How much memory the pool may take: a number of bytes, or a fraction of the memory free
// on the device when the pool is sized (free_memory_bytes in device.hpp).
struct KvBudget {
  std::size_t bytes = 0;
  double fraction = 0;  // used when bytes is 0

  // "67108864", "64MiB", "2GiB", "512KiB" or "90%"; std::invalid_argument naming what is
  // expected otherwise.
  static KvBudget parse(const std::string& text);
  // The bytes this budget means on `device` now, `reserved` bytes (to be allocated beside the
  // pool: workspace, inputs, outputs) not counted as free.
  std::size_t resolve(AttnbDevice device, std::size_t reserved = 0) const;
  std::string text() const;
};

// Pages of `page_bytes` that fit in `budget_bytes`.
inline int64_t pages_in_budget(std::size_t budget_bytes, std::size_t page_bytes) {
  return page_bytes == 0 ? 0 : static_cast<int64_t>(budget_bytes / page_bytes);
}

class KvPool {
 public:
  // `num_pages` pages of `page_bytes` (kv_page_bytes of the plugin for page_size tokens), for
  // up to `max_sequences` sequences of at most `max_sequence_tokens` tokens each.
  KvPool(AttnbDevice device, int32_t page_size, std::size_t page_bytes, int64_t num_pages,
         int32_t max_sequences, int64_t max_sequence_tokens);

  // A new, empty sequence; its id is a slot in 0 .. max_sequences-1. Throws std::logic_error
  // when every slot is taken.
  int32_t open();
  // Makes room for `tokens` more tokens of `seq` (taking pages from the free list) and counts
  // them in its length. Returns false, changing nothing, when too few pages are free: the
  // caller decides what to preempt. Throws std::logic_error past max_sequence_tokens.
  bool append(int32_t seq, int64_t tokens);
  // Pages `seq` would take from the free list to grow by `tokens` tokens.
  int64_t pages_needed(int32_t seq, int64_t tokens) const;
  // Returns every page of `seq` to the free list and closes it.
  void release(int32_t seq);

  // Adds `seq` to `batch`, its last `new_tokens` tokens being the call's new ones.
  void describe(PagedKvBatch& batch, int32_t seq, int32_t new_tokens) const;
  // The batch's view over this pool, its index arrays copied where kernels read them.
  const AttnbPagedKv& publish(PagedKvBatch& batch) {
    return batch.publish(storage_.data(), page_bytes_, num_pages_);
  }

  int64_t length(int32_t seq) const;
  const std::vector<int32_t>& pages(int32_t seq) const;
  bool is_open(int32_t seq) const;

  AttnbDevice device() const { return storage_.device(); }
  int32_t page_size() const { return page_size_; }
  std::size_t page_bytes() const { return page_bytes_; }
  int64_t num_pages() const { return num_pages_; }
  int32_t max_sequences() const { return static_cast<int32_t>(pages_.size()); }
  int64_t max_sequence_pages() const { return max_sequence_pages_; }
  int64_t free_pages() const { return static_cast<int64_t>(free_.size()); }
  int64_t pages_in_use() const { return num_pages_ - free_pages(); }
  int64_t peak_pages_in_use() const { return peak_pages_; }
  int32_t open_sequences() const { return open_count_; }
  void* data() const { return storage_.data(); }

  // Every page is either free (once) or owned by exactly one open sequence, which holds just
  // the pages its length needs. Throws std::logic_error saying what is wrong. O(pages): for
  // tests and debugging, not the hot path.
  void check_invariants() const;

 private:
  void check_open(int32_t seq) const;

  int32_t page_size_;
  std::size_t page_bytes_;
  int64_t num_pages_;
  int64_t max_sequence_pages_;
  Buffer storage_;
  std::vector<int32_t> free_;                // stack of free pages; capacity num_pages
  std::vector<std::vector<int32_t>> pages_;  // per slot, in order; capacity reserved
  std::vector<int64_t> lengths_;             // per slot, tokens
  std::vector<char> open_;                   // per slot
  std::vector<int32_t> free_slots_;          // stack of closed slots
  int32_t open_count_ = 0;
  int64_t peak_pages_ = 0;
};

}  // namespace attnbench
