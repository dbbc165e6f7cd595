#include "cpu_flash_attention.hpp"

#include "../common/plain_kv_layout.hpp"

#include <attnbench/numeric.hpp>
#include <attnbench/plugin.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

namespace attnbench::fused {

namespace {

using plain_kv::first_visible;
using plain_kv::Layout;
using plain_kv::sequence_length;

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Hands out consecutive float arrays of the workspace. Without a base it only counts, which
// is how cpu_workspace_bytes() learns exactly what a call takes.
class FloatArena {
 public:
  FloatArena(void* base, std::size_t bytes)
      : base_(static_cast<float*>(base)), capacity_(bytes / sizeof(float)) {}
  float* take(std::size_t count) {
    if (base_ && used_ + count > capacity_)
      throw Error(ATTNB_ERR_OUT_OF_MEMORY, "workspace smaller than workspace_bytes()");
    float* out = base_ ? base_ + used_ : nullptr;
    used_ += count;
    return out;
  }
  std::size_t bytes() const { return used_ * sizeof(float); }

 private:
  float* base_;
  std::size_t capacity_;
  std::size_t used_ = 0;
};

// What the CUDA kernels keep in shared memory and registers, as plain arrays.
struct Scratch {
  float* q;         // [rows][dim]   the block's query rows
  float* k;         // [tile_kv][dim] one tile of keys
  float* v;         // [tile_kv][dim] and of values
  float* scores;    // [rows][tile_kv] scaled scores of the current tile (never more)
  float* acc;       // [rows][dim]   output so far, not yet divided by the sum
  float* max;       // [rows]        running max of the scores seen so far
  float* sum;       // [rows]        running sum of exp(score - max)
  float* part_o;    // decode: [group][kMaxSplits][dim] each split's normalized output
  float* part_lse;  // decode: [group][kMaxSplits]      and its log-sum-exp
};

// A block has at most kMaxTileQ query rows (prefill) or a whole group (decode).
Scratch carve(FloatArena& arena, const AttnbProblem& p) {
  const std::size_t d = p.head_dim, group = p.num_q_heads / p.num_kv_heads;
  const std::size_t rows = std::max<std::size_t>(kMaxTileQ, group);
  Scratch s;
  s.q = arena.take(rows * d);
  s.k = arena.take(kMaxTileKv * d);
  s.v = arena.take(kMaxTileKv * d);
  s.scores = arena.take(rows * kMaxTileKv);
  s.acc = arena.take(rows * d);
  s.max = arena.take(rows);
  s.sum = arena.take(rows);
  s.part_o = arena.take(group * kMaxSplits * d);
  s.part_lse = arena.take(group * kMaxSplits);
  return s;
}

// One sequence's cached K and V, reached through its page list.
struct SequenceKv {
  const AttnbPagedKv& cache;
  Layout layout;
  int32_t dtype;
  int32_t b;

  // Rows [first, first + count) of K (or V) of KV head `head`, as floats, into `out`.
  void load(int32_t head, bool is_v, int64_t first, int32_t count, float* out) const {
    const int32_t d = layout.head_dim;
    for (int32_t r = 0; r < count; ++r) {
      const int64_t pos = first + r;
      const int32_t page =
          cache.page_indices_host[cache.page_indptr_host[b] + pos / layout.page_size];
      const void* row =
          static_cast<const char*>(cache.pages) +
          layout.offset(page, head, static_cast<int32_t>(pos % layout.page_size), is_v);
      for (int32_t e = 0; e < d; ++e) out[r * d + e] = load_as_float(row, dtype, e);
    }
  }
};

// The keys row r of a block may see, [lo(r), hi(r)). Row r is a query at position
// first_pos + r * step (prefill: consecutive tokens, step 1; decode: the query heads of one
// token, step 0); the causal and window masks apply, clipped to the range being attended
// (a decode split). Both bounds grow with r, which is what lets whole tiles be skipped.
struct Visibility {
  int64_t first_pos;
  int32_t step;
  bool causal;
  int32_t window;
  int64_t kv_len;
  KeyRange clip;

  int64_t lo(int32_t r) const {
    return std::max(first_visible(first_pos + static_cast<int64_t>(step) * r, window), clip.begin);
  }
  int64_t hi(int32_t r) const {
    return std::min(causal ? first_pos + static_cast<int64_t>(step) * r + 1 : kv_len, clip.end);
  }
};

// One row's online-softmax step over a tile of n scores: raise the running max if the tile
// holds a larger score, rescale what was accumulated under the old max, add the tile's
// weighted values. The result is exact softmax(scores) . V over all tiles seen, once divided
// by the sum at the end.
void online_softmax_step(const float* score, const float* v, int32_t n, int32_t d, float tile_max,
                         float& max, float& sum, float* acc) {
  const float new_max = std::max(max, tile_max);
  const float correction = std::exp(max - new_max);  // 0 on the row's first tile (max = -inf)
  sum *= correction;
  for (int32_t e = 0; e < d; ++e) acc[e] *= correction;
  for (int32_t j = 0; j < n; ++j) {
    const float p = std::exp(score[j] - new_max);  // masked scores are -inf: p = 0
    sum += p;
    for (int32_t e = 0; e < d; ++e) acc[e] += p * v[j * d + e];
  }
  max = new_max;
}

// `rows` query rows (already in s.q) attend to the keys they may see of KV head `kv_head`,
// tile_kv keys at a time. Leaves each row's acc, max and sum in `s`.
void attend_block(const SequenceKv& seq, int32_t kv_head, int32_t rows, const Visibility& vis,
                  int32_t tile_kv, float scale, const Scratch& s) {
  const int32_t d = seq.layout.head_dim;
  std::fill_n(s.acc, static_cast<std::size_t>(rows) * d, 0.0f);
  std::fill_n(s.max, rows, kNegInf);
  std::fill_n(s.sum, rows, 0.0f);
  // The block's keys are [lo(first row), hi(last row)): tiles outside the mask (past the
  // causal diagonal, before the window) are never visited, let alone loaded.
  const int64_t begin = vis.lo(0), end = vis.hi(rows - 1);
  for (int64_t n0 = begin; n0 < end; n0 += tile_kv) {
    const int32_t n = static_cast<int32_t>(std::min<int64_t>(tile_kv, end - n0));
    seq.load(kv_head, false, n0, n, s.k);
    seq.load(kv_head, true, n0, n, s.v);
    // A tile every row sees entirely needs no per-element mask (most tiles, in a long prompt).
    const bool unmasked = n0 >= vis.lo(rows - 1) && n0 + n <= vis.hi(0);
    for (int32_t r = 0; r < rows; ++r) {
      const int64_t lo = vis.lo(r), hi = vis.hi(r);
      if (lo >= hi || n0 >= hi || n0 + n <= lo) continue;  // the row sees none of this tile
      const float* q = s.q + static_cast<std::size_t>(r) * d;
      float* score = s.scores + static_cast<std::size_t>(r) * tile_kv;
      float tile_max = kNegInf;
      for (int32_t j = 0; j < n; ++j) {
        const int64_t key = n0 + j;
        if (!unmasked && (key < lo || key >= hi)) {
          score[j] = kNegInf;
          continue;
        }
        float dot = 0;
        for (int32_t e = 0; e < d; ++e) dot += q[e] * s.k[j * d + e];
        score[j] = dot * scale;
        tile_max = std::max(tile_max, score[j]);
      }
      online_softmax_step(score, s.v, n, d, tile_max, s.max[r], s.sum[r],
                          s.acc + static_cast<std::size_t>(r) * d);
    }
  }
}

float softmax_scale(const AttnbProblem& p) {
  return p.sm_scale != 0 ? p.sm_scale : 1.0f / std::sqrt(static_cast<float>(p.head_dim));
}

SequenceKv sequence(const AttnbProblem& p, const AttnbPagedKv& cache, int32_t b) {
  return {cache,
          Layout{p.num_kv_heads, p.page_size, p.head_dim, cache.page_bytes,
                 dtype_size(p.kv_cache_dtype)},
          p.kv_cache_dtype, b};
}

int64_t length_of(const AttnbProblem& p, const AttnbPagedKv& cache, int32_t b) {
  return sequence_length(cache.page_indptr_host, cache.last_page_len_host, p.page_size, b);
}

}  // namespace

std::size_t cpu_workspace_bytes(const AttnbProblem& problem) {
  FloatArena counter(nullptr, 0);
  carve(counter, problem);
  return counter.bytes();
}

void cpu_prefill(const AttnbProblem& p, const Tunables& t, const AttnbAttendArgs& a) {
  const AttnbPagedKv& cache = *a.cache;
  FloatArena arena(a.workspace, a.workspace_bytes);
  const Scratch s = carve(arena, p);
  const int32_t d = p.head_dim, group = p.num_q_heads / p.num_kv_heads;
  const int32_t tile_kv = tile_kv_of(t, kTileKv);
  const float scale = softmax_scale(p);
  for (int32_t b = 0; b < cache.batch; ++b) {
    const SequenceKv seq = sequence(p, cache, b);
    const int64_t kv_len = length_of(p, cache, b);
    const int32_t q0 = a.q_indptr_host[b], q_len = a.q_indptr_host[b + 1] - q0;
    // One CUDA block per (query tile, query head): the same loops here.
    for (int32_t m0 = 0; m0 < q_len; m0 += t.tile_q) {
      const int32_t rows = std::min(t.tile_q, q_len - m0);
      const Visibility vis{kv_len - q_len + m0, 1, p.causal != 0, p.window, kv_len, {0, kv_len}};
      for (int32_t h = 0; h < p.num_q_heads; ++h) {
        const auto q_index = [&](int32_t r, int32_t e) {
          return (static_cast<std::size_t>(q0 + m0 + r) * p.num_q_heads + h) * d + e;
        };
        for (int32_t r = 0; r < rows; ++r)
          for (int32_t e = 0; e < d; ++e)
            s.q[r * d + e] = load_as_float(a.q, p.dtype, q_index(r, e));
        attend_block(seq, h / group, rows, vis, tile_kv, scale, s);
        for (int32_t r = 0; r < rows; ++r)
          for (int32_t e = 0; e < d; ++e)
            store_from_float(a.o, p.dtype, q_index(r, e),
                             s.sum[r] > 0 ? s.acc[r * d + e] / s.sum[r] : 0.0f);
      }
    }
  }
}

void cpu_decode(const AttnbProblem& p, const Tunables& t, const AttnbAttendArgs& a) {
  const AttnbPagedKv& cache = *a.cache;
  FloatArena arena(a.workspace, a.workspace_bytes);
  const Scratch s = carve(arena, p);
  const int32_t d = p.head_dim, group = p.num_q_heads / p.num_kv_heads;
  const int32_t tile_kv = tile_kv_of(t, kTileKv);
  const float scale = softmax_scale(p);
  const int64_t longest = plain_kv::longest_visible(p, cache);
  // No SM count on the CPU: "auto" is one split; the tunable still splits on request, so
  // the merge below is exercised (and tested) here too.
  const int32_t splits = plan_splits(t.num_splits, longest, 1, 0, tile_kv, kMaxSplits);
  for (int32_t b = 0; b < cache.batch; ++b) {
    const SequenceKv seq = sequence(p, cache, b);
    const int64_t kv_len = length_of(p, cache, b), pos = kv_len - 1;
    const int64_t lo = first_visible(pos, p.window);
    const int32_t token = a.q_indptr_host ? a.q_indptr_host[b] : b;
    // One CUDA block per (split, KV head): all query heads of the group are its rows, so
    // each cached K and V row is read once per group.
    for (int32_t kvh = 0; kvh < p.num_kv_heads; ++kvh) {
      const std::size_t head0 = (static_cast<std::size_t>(token) * p.num_q_heads + kvh * group) * d;
      for (std::size_t e = 0; e < static_cast<std::size_t>(group) * d; ++e)
        s.q[e] = load_as_float(a.q, p.dtype, head0 + e);
      for (int32_t split = 0; split < splits; ++split) {
        const Visibility vis{pos,      0,      p.causal != 0,
                             p.window, kv_len, split_range(lo, kv_len, split, splits, tile_kv)};
        attend_block(seq, kvh, group, vis, tile_kv, scale, s);
        // The split's partial result: its own softmax output and the log of its total weight.
        for (int32_t g = 0; g < group; ++g) {
          const float sum = s.sum[g];
          s.part_lse[g * kMaxSplits + split] = sum > 0 ? s.max[g] + std::log(sum) : kNegInf;
          float* out = s.part_o + (static_cast<std::size_t>(g) * kMaxSplits + split) * d;
          for (int32_t e = 0; e < d; ++e) out[e] = sum > 0 ? s.acc[g * d + e] / sum : 0.0f;
        }
      }
      // Merge by log-sum-exp: split i holds the share exp(lse_i - lse) of the whole softmax.
      for (int32_t g = 0; g < group; ++g) {
        float* weight = s.part_lse + g * kMaxSplits;  // each split's lse, turned into its weight
        const float top = *std::max_element(weight, weight + splits);
        float total = 0;
        for (int32_t i = 0; i < splits; ++i) {
          weight[i] = top == kNegInf ? 0.0f : std::exp(weight[i] - top);  // empty split: 0
          total += weight[i];
        }
        for (int32_t e = 0; e < d; ++e) {
          float o = 0;
          for (int32_t i = 0; i < splits; ++i)
            o += weight[i] * s.part_o[(static_cast<std::size_t>(g) * kMaxSplits + i) * d + e];
          store_from_float(a.o, p.dtype, head0 + g * d + e, total > 0 ? o / total : 0.0f);
        }
      }
    }
  }
}

}  // namespace attnbench::fused
