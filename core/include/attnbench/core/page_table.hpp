// Host-side page tables of a batch of sequences, flattened into the ABI's AttnbPagedKv
// (indptr / indices / last-page length), with the index arrays mirrored on the device.
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

}  // namespace attnbench
