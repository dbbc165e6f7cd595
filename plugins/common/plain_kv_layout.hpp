// The plain paged KV format that the unquantized plugins share: each page holds K then V,
// each [num_kv_heads][page_size][head_dim] of the element type. Head-major within a page
// keeps one head's tokens contiguous, so a kernel streaming one KV head reads long runs.
// Usable from host code and CUDA kernels.
#pragma once

#include <cstddef>
#include <cstdint>

#if defined(__CUDACC__)
#define ATTNB_HD __host__ __device__ __forceinline__
#else
#define ATTNB_HD inline
#endif

namespace attnbench::plain_kv {

struct Layout {
  int32_t num_kv_heads;
  int32_t page_size;
  int32_t head_dim;
  std::size_t page_bytes;  // as the host allocated it (>= 2 * heads * page_size * dim * elem)
  std::size_t elem_bytes;

  // Byte offset of token `slot` of KV head `head` in page `page`; is_v selects V.
  ATTNB_HD std::size_t offset(int64_t page, int32_t head, int32_t slot, bool is_v) const {
    const std::size_t plane = static_cast<std::size_t>(num_kv_heads) * page_size * head_dim;
    return static_cast<std::size_t>(page) * page_bytes +
           ((is_v ? plane : 0) + (static_cast<std::size_t>(head) * page_size + slot) * head_dim) *
               elem_bytes;
  }
};

// Tokens cached for sequence b of a paged description (0 when it has no pages).
ATTNB_HD int64_t sequence_length(const int32_t* page_indptr, const int32_t* last_page_len,
                                 int32_t page_size, int32_t b) {
  const int32_t pages = page_indptr[b + 1] - page_indptr[b];
  return pages == 0 ? 0 : static_cast<int64_t>(pages - 1) * page_size + last_page_len[b];
}

// First key position a query at `pos` may see under the window (0 without one).
ATTNB_HD int64_t first_visible(int64_t pos, int32_t window) {
  return window > 0 && pos - window + 1 > 0 ? pos - window + 1 : 0;
}

}  // namespace attnbench::plain_kv
