// The fused CUDA kernels, run by the SIMT emulator (simt.hpp) through the plugin's own host
// launchers, against an fp64 reference: prefill and split-KV decode over a paged cache with
// scattered pages and garbage in the unused bytes, for a list of configurations. Built and
// run by run.sh; exit status 1 if any configuration is outside the dtype's tolerance.
#include "common/plain_kv_layout.hpp"
#include "fused/fused_cuda.hpp"
#include "simt.hpp"

#include <attnbench/plugin.hpp>

#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>
#include <string>
#include <vector>

using namespace attnbench;

namespace {

struct Config {
  int32_t dtype, q_heads, kv_heads, head_dim;
  bool causal;
  int32_t window, page_size;
  std::vector<int32_t> kv_lens, q_lens;  // q_lens empty: decode
  fused::Tunables tunables;
};

uint16_t to_bits(float x, int32_t dtype) {
  return dtype == ATTNB_DTYPE_F16 ? float_to_half(x) : float_to_bf16(x);
}
float from_bits(uint16_t b, int32_t dtype) {
  return dtype == ATTNB_DTYPE_F16 ? half_to_float(b) : bf16_to_float(b);
}

// Runs one configuration; returns the number of output elements outside the tolerance.
int check(const Config& c, uint32_t seed, double* max_error) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  const auto random_value = [&] { return from_bits(to_bits(normal(rng), c.dtype), c.dtype); };
  const bool decode = c.q_lens.empty();
  const int32_t batch = static_cast<int32_t>(c.kv_lens.size()), d = c.head_dim;
  const std::vector<int32_t> q_lens = decode ? std::vector<int32_t>(batch, 1) : c.q_lens;

  AttnbProblem p{};
  p.struct_size = sizeof p;
  p.device = ATTNB_DEVICE_CUDA;
  p.dtype = p.kv_cache_dtype = c.dtype;
  p.num_q_heads = c.q_heads;
  p.num_kv_heads = c.kv_heads;
  p.head_dim = d;
  p.page_size = c.page_size;
  p.causal = c.causal;
  p.window = c.window;
  p.max_batch = batch;
  p.max_q_tokens = std::accumulate(q_lens.begin(), q_lens.end(), 0);
  p.max_kv_len = *std::max_element(c.kv_lens.begin(), c.kv_lens.end());

  // Pages scattered over a pool that starts full of garbage.
  std::vector<int32_t> indptr{0}, indices, last;
  int32_t pages_needed = 0;
  for (int32_t len : c.kv_lens) pages_needed += (len + c.page_size - 1) / c.page_size;
  std::vector<int32_t> free_pages(pages_needed + 3);
  std::iota(free_pages.begin(), free_pages.end(), 0);
  std::shuffle(free_pages.begin(), free_pages.end(), rng);
  for (int32_t len : c.kv_lens) {
    const int32_t n = (len + c.page_size - 1) / c.page_size;
    for (int32_t i = 0; i < n; ++i) indices.push_back(free_pages[indices.size()]);
    indptr.push_back(static_cast<int32_t>(indices.size()));
    last.push_back(len - (n - 1) * c.page_size);
  }
  const std::size_t page_bytes = plain_kv_page_bytes(p);
  std::vector<uint4> pool((page_bytes * free_pages.size() + 15) / 16);
  std::memset(pool.data(), 0x7b, pool.size() * 16);
  auto* pages = reinterpret_cast<unsigned char*>(pool.data());
  const plain_kv::Layout layout{c.kv_heads, c.page_size, d, page_bytes, 2};
  std::vector<std::vector<float>> k(batch), v(batch);  // [b][pos][kv head][d]
  for (int32_t b = 0; b < batch; ++b)
    for (int32_t pos = 0; pos < c.kv_lens[b]; ++pos)
      for (int32_t h = 0; h < c.kv_heads; ++h)
        for (int32_t e = 0; e < d; ++e) {
          const int32_t page = indices[indptr[b] + pos / c.page_size];
          for (bool is_v : {false, true}) {
            const float x = random_value();
            (is_v ? v : k)[b].push_back(x);
            const uint16_t bits = to_bits(x, c.dtype);
            std::memcpy(pages + layout.offset(page, h, pos % c.page_size, is_v) + 2 * e, &bits, 2);
          }
        }

  std::vector<int32_t> q_indptr{0};
  for (int32_t n : q_lens) q_indptr.push_back(q_indptr.back() + n);
  const std::size_t q_elems = static_cast<std::size_t>(q_indptr.back()) * c.q_heads * d;
  std::vector<float> q(q_elems);
  std::vector<uint4> q_bits((q_elems * 2 + 15) / 16), o_bits(q_bits.size());
  std::memset(o_bits.data(), 0xff, o_bits.size() * 16);  // NaN: an element never written fails
  for (std::size_t i = 0; i < q_elems; ++i) {
    q[i] = random_value();
    reinterpret_cast<uint16_t*>(q_bits.data())[i] = to_bits(q[i], c.dtype);
  }

  AttnbPagedKv cache{};
  cache.struct_size = sizeof cache;
  cache.pages = pages;
  cache.page_bytes = page_bytes;
  cache.num_pages = static_cast<int64_t>(free_pages.size());
  cache.batch = batch;
  cache.page_indptr = cache.page_indptr_host = indptr.data();
  cache.page_indices = cache.page_indices_host = indices.data();
  cache.last_page_len = cache.last_page_len_host = last.data();
  std::vector<uint4> workspace(fused::cuda_workspace_bytes(p) / 16 + 1);
  AttnbAttendArgs a{};
  a.struct_size = sizeof a;
  a.cache = &cache;
  a.q = q_bits.data();
  a.o = o_bits.data();
  a.q_indptr = a.q_indptr_host = q_indptr.data();
  a.workspace = workspace.data();
  a.workspace_bytes = workspace.size() * 16;
  if (decode)
    fused::cuda_decode(p, c.tunables, 132, a);
  else
    fused::cuda_prefill(p, c.tunables, a);

  // The fp64 reference, element by element.
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  const double tol = c.dtype == ATTNB_DTYPE_F16 ? 2e-3 : 1.6e-2;
  int bad = 0;
  for (int32_t b = 0; b < batch; ++b)
    for (int32_t i = 0; i < q_lens[b]; ++i)
      for (int32_t h = 0; h < c.q_heads; ++h) {
        const int64_t pos = c.kv_lens[b] - q_lens[b] + i;
        const int32_t kvh = h / (c.q_heads / c.kv_heads);
        const std::size_t row = (static_cast<std::size_t>(q_indptr[b] + i) * c.q_heads + h) * d;
        std::vector<double> weight;
        std::vector<int32_t> keys;
        for (int32_t j = 0; j < c.kv_lens[b]; ++j) {
          if ((c.causal && j > pos) || (c.window > 0 && j <= pos - c.window)) continue;
          double dot = 0;
          for (int32_t e = 0; e < d; ++e)
            dot += q[row + e] * k[b][(static_cast<std::size_t>(j) * c.kv_heads + kvh) * d + e];
          weight.push_back(dot * scale);
          keys.push_back(j);
        }
        const double top = *std::max_element(weight.begin(), weight.end());
        double sum = 0;
        for (double& w : weight) sum += (w = std::exp(w - top));
        for (int32_t e = 0; e < d; ++e) {
          double want = 0;
          for (std::size_t n = 0; n < keys.size(); ++n)
            want +=
                weight[n] * v[b][(static_cast<std::size_t>(keys[n]) * c.kv_heads + kvh) * d + e];
          want /= sum;
          const double got =
              from_bits(reinterpret_cast<const uint16_t*>(o_bits.data())[row + e], c.dtype);
          const double error = std::fabs(got - want);
          if (!(error <= tol + tol * std::fabs(want))) ++bad;
          *max_error = std::isnan(error) ? INFINITY : std::max(*max_error, error);
        }
      }
  return bad;
}

fused::Tunables tiles(int32_t tile_q, int32_t tile_kv, int32_t warp_rows, int32_t num_splits = 0) {
  fused::Tunables t;
  t.tile_q = tile_q;
  t.tile_kv = tile_kv;
  t.warp_rows = warp_rows;
  t.num_splits = num_splits;
  return t;
}

std::vector<Config> configs(const std::string& which) {
  std::vector<Config> out;
  const std::vector<int32_t> kv = {1, 33, 130, 65}, q = {1, 31, 129, 20};  // chunked prefill last
  if (which == "quick") {
    out.push_back({ATTNB_DTYPE_F16, 4, 2, 64, true, 0, 7, kv, q, tiles(64, 32, 16)});
    out.push_back({ATTNB_DTYPE_BF16, 4, 2, 128, true, 5, 16, kv, q, tiles(128, 64, 32)});
    out.push_back({ATTNB_DTYPE_F16, 4, 1, 128, false, 40, 16, kv, q, tiles(64, 128, 32)});
    out.push_back(
        {ATTNB_DTYPE_F16, 20, 1, 128, true, 50, 16, {1, 17, 300}, {}, tiles(128, 64, 32, 0)});
    out.push_back(
        {ATTNB_DTYPE_BF16, 8, 8, 64, true, 0, 16, {1, 17, 300}, {}, tiles(128, 32, 32, 32)});
  }
  if (which == "prefill")
    for (int32_t dtype : {ATTNB_DTYPE_F16, ATTNB_DTYPE_BF16})
      for (int32_t d : {64, 128})
        for (auto [causal, window] :
             std::vector<std::pair<bool, int32_t>>{{true, 0}, {false, 0}, {true, 5}, {false, 40}})
          for (const fused::Tunables& t :
               {tiles(64, 32, 16), tiles(128, 64, 32), tiles(64, 128, 32), tiles(128, 128, 16)})
            out.push_back({dtype, 4, 2, d, causal, window, d == 64 ? 7 : 16, kv, q, t});
  if (which == "decode")
    for (int32_t dtype : {ATTNB_DTYPE_F16, ATTNB_DTYPE_BF16})
      for (int32_t d : {64, 128})
        for (int32_t window : {0, 50})
          for (int32_t tile_kv : {32, 64, 128})
            for (int32_t splits : {1, 0, 4, 32})
              for (auto [q_heads, kv_heads] :
                   std::vector<std::pair<int32_t, int32_t>>{{4, 1}, {20, 1}, {8, 8}})
                out.push_back({dtype,
                               q_heads,
                               kv_heads,
                               d,
                               true,
                               window,
                               16,
                               {1, 17, 300},
                               {},
                               tiles(128, tile_kv, 32, splits)});
  return out;
}

}  // namespace

// Stand-ins for the two runtime calls the launchers may make.
extern "C" cudaError_t cudaGetDevice(int* device) { return *device = 0, cudaSuccess; }
extern "C" cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr, int) {
  return *value = 132, cudaSuccess;
}

int main(int argc, char** argv) {
  const std::string which = argc > 1 ? argv[1] : "quick";
  const std::vector<Config> list = configs(which);
  if (list.empty()) {
    std::fprintf(stderr, "usage: kernel_check [quick|prefill|decode]\n");
    return 2;
  }
  int failed = 0, index = 0;
  for (bool copy_at_wait : {false, true}) {
    simt::state().copy_at_wait = copy_at_wait;
    for (const Config& c : list) {
      double max_error = 0;
      const int bad = check(c, 1234 + index++, &max_error);
      std::printf(
          "%s %s D%d heads %d/%d %s window %d tiles %d/%d/%d splits %d, cp.async at %s: %s (max "
          "error %.2g)\n",
          c.q_lens.empty() ? "decode" : "prefill", dtype_name(c.dtype), c.head_dim, c.q_heads,
          c.kv_heads, c.causal ? "causal" : "full", c.window, c.tunables.tile_q, c.tunables.tile_kv,
          c.tunables.warp_rows, c.tunables.num_splits, copy_at_wait ? "wait" : "issue",
          bad ? "FAIL" : "ok", max_error);
      std::fflush(stdout);
      failed += bad != 0;
    }
  }
  std::printf("%d passed, %d failed\n", 2 * static_cast<int>(list.size()) - failed, failed);
  return failed != 0;
}
