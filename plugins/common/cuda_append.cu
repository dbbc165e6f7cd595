#include "cuda_common.cuh"

namespace attnbench::plain_kv {

namespace {

// Block t copies new token t (all KV heads, K and V) into its page slot, 16 bytes a thread.
__global__ void append_kernel(AttnbPagedKv cache, Layout layout, const char* k, const char* v,
                              const int32_t* new_indptr) {
  let_dependents_start();  // a decode after it waits only where it reads the new tokens
  const int32_t t = blockIdx.x;
  const int32_t b = owner_of(new_indptr, cache.batch, t);
  const int64_t len = sequence_length(cache.page_indptr, cache.last_page_len, layout.page_size, b);
  const int64_t pos = len - (new_indptr[b + 1] - new_indptr[b]) + (t - new_indptr[b]);
  const int32_t page = cache.page_indices[cache.page_indptr[b] + pos / layout.page_size];
  const int32_t slot = static_cast<int32_t>(pos % layout.page_size);
  const std::size_t row_bytes = static_cast<std::size_t>(layout.head_dim) * layout.elem_bytes;
  const std::size_t chunks = row_bytes / 16;  // head_dim * elem is a multiple of 16 (checked)
  char* pages = static_cast<char*>(cache.pages);
  for (std::size_t i = threadIdx.x; i < layout.num_kv_heads * chunks; i += blockDim.x) {
    const int32_t h = static_cast<int32_t>(i / chunks);
    const std::size_t c = i % chunks;
    const std::size_t src = (static_cast<std::size_t>(t) * layout.num_kv_heads + h) * row_bytes + c * 16;
    *reinterpret_cast<int4*>(pages + layout.offset(page, h, slot, false) + c * 16) =
        *reinterpret_cast<const int4*>(k + src);
    *reinterpret_cast<int4*>(pages + layout.offset(page, h, slot, true) + c * 16) =
        *reinterpret_cast<const int4*>(v + src);
  }
}

}  // namespace

void cuda_append(const AttnbProblem& p, const AttnbAppendArgs& a) {
  const Layout layout{p.num_kv_heads, p.page_size, p.head_dim, a.cache->page_bytes,
                      dtype_size(p.kv_cache_dtype)};
  if ((layout.head_dim * layout.elem_bytes) % 16 != 0)
    throw Unsupported("head_dim * element size must be a multiple of 16 bytes");
  const int32_t tokens = a.new_indptr_host[a.cache->batch];
  if (tokens == 0) return;
  append_kernel<<<tokens, 128, 0, static_cast<cudaStream_t>(a.stream)>>>(
      *a.cache, layout, static_cast<const char*>(a.k), static_cast<const char*>(a.v), a.new_indptr);
  check_launch("append_kv kernel");
}

}  // namespace attnbench::plain_kv
