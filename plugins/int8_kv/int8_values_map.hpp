// The int8 values of the cache as a tensor for the tensor memory accelerator: dimensions
// {D, page_size, 2 H, pages} (innermost first; K's heads then V's, since V's plane follows
// K's), so that the rows of one head in one page are one box, and a box lands in shared
// memory swizzled as the decode's ldmatrix reads it (int8_flash_decode.cu, k8_chunk).
// Host code; the encoder is the driver's, reached through the runtime (no libcuda link).
#pragma once

#include "int8_kv_format.hpp"

#include <cuda.h>
#include <cudaTypedefs.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace attnbench::int8_kv {

// Rows of one head that one copy moves: a whole page, or the tile's part of a longer page
// (host and device: the kernel's pieces are these).
ATTNB_HD int32_t copy_rows(const Layout& layout, int32_t tile_kv) {
  return layout.page_size < tile_kv ? layout.page_size : tile_kv;
}

// Whether tiles of tile_kv keys (starting at multiples of tile_kv) can be copied as boxes:
// each tile made of whole rows-long pieces of pages, scales in 16-byte multiples.
inline bool tensor_copies_fit(const Layout& layout, int32_t tile_kv, const AttnbPagedKv& cache) {
  const int32_t ps = layout.page_size;
  const bool pieces = ps % 8 == 0 && (tile_kv % ps == 0 || ps % tile_kv == 0);
  return pieces && reinterpret_cast<uintptr_t>(cache.pages) % 16 == 0 && layout.page_bytes % 16 == 0 &&
         cache.num_pages > 0 && cache.num_pages <= (int64_t{1} << 31);
}

// cuTensorMapEncodeTiled, or nullptr where the driver has none.
inline PFN_cuTensorMapEncodeTiled_v12000 tensor_map_encoder() {
  static const PFN_cuTensorMapEncodeTiled_v12000 encode = [] {
    void* fn = nullptr;
    cudaDriverEntryPointQueryResult found{};
    if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &fn, 12000, cudaEnableDefault, &found) !=
            cudaSuccess ||
        found != cudaDriverEntryPointSuccess)
      fn = nullptr;
    return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(fn);
  }();
  return encode;
}

// Encodes the values tensor with boxes of copy_rows rows; false when the driver refuses it.
inline bool encode_values_map(const AttnbPagedKv& cache, const Layout& layout, int32_t tile_kv, CUtensorMap* map) {
  const PFN_cuTensorMapEncodeTiled_v12000 encode = tensor_map_encoder();
  if (!encode) return false;
  const auto d = static_cast<cuuint64_t>(layout.head_dim);
  const cuuint64_t dims[4] = {d, static_cast<cuuint64_t>(layout.page_size),
                              2 * static_cast<cuuint64_t>(layout.num_kv_heads),
                              static_cast<cuuint64_t>(cache.num_pages)};
  const cuuint64_t strides[3] = {d, d * layout.page_size, layout.page_bytes};  // bytes, dims 1..3
  const cuuint32_t box[4] = {static_cast<cuuint32_t>(d), static_cast<cuuint32_t>(copy_rows(layout, tile_kv)), 1, 1};
  const cuuint32_t unit[4] = {1, 1, 1, 1};
  // A row of 128 (64) bytes is one span of the 128-byte (64-byte) swizzle.
  const CUtensorMapSwizzle swizzle = d == 128 ? CU_TENSOR_MAP_SWIZZLE_128B : CU_TENSOR_MAP_SWIZZLE_64B;
  return encode(map, CU_TENSOR_MAP_DATA_TYPE_UINT8, 4, cache.pages, dims, strides, box, unit,
                CU_TENSOR_MAP_INTERLEAVE_NONE, swizzle, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS;
}

// The values map of this pool for tensor copies, or nullptr where they do not fit or the
// driver refuses it. Encoded once while the pool and layout stay the same, not every decode
// step (the map depends on nothing else).
inline const CUtensorMap* values_map_for(const AttnbPagedKv& cache, const Layout& layout, int32_t tile_kv) {
  struct Entry {
    const void* pages = nullptr;
    int64_t num_pages = 0;
    std::size_t page_bytes = 0;
    int32_t num_kv_heads = 0, page_size = 0, head_dim = 0, tile_kv = 0;
    bool encoded = false;
    CUtensorMap map{};
  };
  thread_local Entry last;
  const bool same = last.pages == cache.pages && last.num_pages == cache.num_pages &&
                    last.page_bytes == layout.page_bytes && last.num_kv_heads == layout.num_kv_heads &&
                    last.page_size == layout.page_size && last.head_dim == layout.head_dim &&
                    last.tile_kv == tile_kv;
  if (!same) {
    last = Entry{cache.pages, cache.num_pages, layout.page_bytes, layout.num_kv_heads, layout.page_size,
                 layout.head_dim, tile_kv, false, {}};
    last.encoded = tensor_copies_fit(layout, tile_kv, cache) && encode_values_map(cache, layout, tile_kv, &last.map);
  }
  return last.encoded ? &last.map : nullptr;
}

}  // namespace attnbench::int8_kv
