// Host side of the fused kernels: the launch parameters from the ABI's arguments, turning
// runtime tile sizes into template arguments, and opting a kernel into large shared memory.
#pragma once

#include "flash_tile.cuh"

#include <cmath>
#include <string>
#include <type_traits>

namespace attnbench::fused {

inline AttendParams make_params(const AttnbProblem& p, const AttnbAttendArgs& a) {
  const AttnbPagedKv& cache = *a.cache;
  AttendParams params{};
  params.pages = static_cast<const char*>(cache.pages);
  params.page_bytes = cache.page_bytes;
  params.v_offset = static_cast<std::size_t>(p.num_kv_heads) * p.page_size * p.head_dim *
                    dtype_size(p.kv_cache_dtype);
  params.page_indptr = cache.page_indptr;
  params.page_indices = cache.page_indices;
  params.last_page_len = cache.last_page_len;
  params.page_size = p.page_size;
  params.batch = cache.batch;
  params.q = a.q;
  params.o = a.o;
  params.q_indptr = a.q_indptr;
  params.num_q_heads = p.num_q_heads;
  params.group = p.num_q_heads / p.num_kv_heads;
  params.causal = p.causal;
  params.window = p.window;
  const float scale =
      p.sm_scale != 0 ? p.sm_scale : 1.0f / std::sqrt(static_cast<float>(p.head_dim));
  params.scale_log2 = scale * 1.4426950408889634f;  // log2(e)
  params.num_splits = 1;
  params.head_chunks = 1;
  return params;
}

// Calls f(std::integral_constant<int, v>{}) for the runtime value among the listed ones.
template <int... Values, typename F>
void with_constant(int value, const char* what, F&& f) {
  const bool found =
      ((value == Values ? (f(std::integral_constant<int, Values>{}), true) : false) || ...);
  if (!found)
    throw Unsupported(std::string(what) + " " + std::to_string(value) + " has no CUDA kernel");
}

using plain_kv::allow_shared_memory;

}  // namespace attnbench::fused
