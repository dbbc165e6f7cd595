// Host-side page tables of a batch of sequences, flattened into the ABI's AttnbPagedKv
// (indptr / indices / last-page length), with the index arrays mirrored on the device.
// PagedKvView allocates its arrays per call (simple, for checks); PagedKvBatch allocates them
// once and refills them in place (for a server's hot path).
#pragma once

#include <attnbench/abi.h>
#include <attnbench/core/buffer.hpp>

#include <cstdint>
#include <vector>

namespace attnbench {

struct PageTable {
  int32_t page_size = 16;
  std::vector<std::vector<int32_t>> pages;  // per sequence, in order
  std::vector<int64_t> lengths;             // tokens per sequence

  int32_t batch() const { return static_cast<int32_t>(lengths.size()); }
  std::vector<int32_t> indptr() const;
  std::vector<int32_t> indices() const;
  std::vector<int32_t> last_page_len() const;
};

// Pages needed to hold `tokens` tokens.
inline int64_t pages_for(int64_t tokens, int32_t page_size) {
  return (tokens + page_size - 1) / page_size;
}

// An AttnbPagedKv over a pool, with its index arrays where kernels read them.
class PagedKvView {
 public:
  PagedKvView(const PageTable& table, AttnbDevice device, void* pool, std::size_t page_bytes,
              int64_t num_pages);
  const AttnbPagedKv& get() const { return view_; }

 private:
  std::vector<int32_t> indptr_, indices_, last_;
  Buffer indptr_dev_, indices_dev_, last_dev_;
  AttnbPagedKv view_{};
};

// The AttnbPagedKv of one call on a hot path, plus the per-sequence token indptr that
// append_kv (new_indptr) and prefill/decode (q_indptr) take. Its arrays are allocated once,
// for up to max_batch sequences holding max_pages pages in all, and refilled for every call:
// building a batch never allocates.
class PagedKvBatch {
 public:
  PagedKvBatch(AttnbDevice device, int32_t max_batch, int64_t max_pages);

  // Starts an empty batch.
  void clear();
  // Adds a sequence: its `count` pages in order, its length counting this call's tokens, and
  // how many of those tokens are new in this call (appended and queried). Throws
  // std::logic_error past max_batch or max_pages, or when the pages do not fit the length.
  void add(const int32_t* pages, int32_t count, int64_t length, int32_t page_size,
           int32_t new_tokens);
  // Copies the arrays to where kernels read them (one copy on CUDA, none on the CPU) and
  // returns the view; valid until the next clear().
  const AttnbPagedKv& publish(void* pool, std::size_t page_bytes, int64_t num_pages);

  int32_t batch() const { return batch_; }
  int32_t tokens() const { return host_[token_at_ + batch_]; }  // new tokens, summed
  const int32_t* token_indptr() const { return arrays() + token_at_; }
  const int32_t* token_indptr_host() const { return host_.data() + token_at_; }

 private:
  const int32_t* arrays() const;  // the device copy of host_ (host_ itself on the CPU)

  AttnbDevice device_;
  int32_t max_batch_;
  int64_t max_pages_;
  // [page indptr: max_batch+1][token indptr: max_batch+1][last page len: max_batch][indices]
  std::size_t token_at_, last_at_, indices_at_;
  std::vector<int32_t> host_;
  Buffer device_arrays_;
  int32_t batch_ = 0;
  AttnbPagedKv view_{};
};

}  // namespace attnbench
