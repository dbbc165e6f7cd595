// int8_kv end to end, on the CPU and (skipped without a GPU) on CUDA. Two references:
//  * attention over the cache as the format specifies it (each row quantized and read back
//    by the rules of int8_kv_format.hpp, modelled here call by call): the plugin must match it
//    within the plain dtype tolerance, so a wrong page, scale, exponent or split cannot hide
//    inside the int8 rounding;
//  * the exact fp64 reference, within the int8 tolerance (tolerance_for(dtype, int8)).
// Appends come in the ways a server makes them: a prompt, chunked prefill, decode steps that
// open pages, long decodes that the GPU splits; data with outlier channels and zero tokens.
#include "test_support.hpp"

#include "../plugins/int8_kv/int8_kv_format.hpp"

#include <attnbench/core/attention_session.hpp>
#include <attnbench/core/random_tensor.hpp>
#include <attnbench/core/reference_attention.hpp>
#include <attnbench/core/validation.hpp>
#include <attnbench/numeric.hpp>
#include <attnbench/problem_checks.hpp>

#include <cmath>
#include <numeric>
#include <random>

using namespace attnbench;
using namespace attnbench::int8_kv;

namespace {

// Tokens each append call adds to each sequence: calls[call][sequence].
using Calls = std::vector<std::vector<int32_t>>;

struct Data {
  bool outliers = false;     // K channels 5, 42, 79, 116 of every head scaled x30
  bool zero_tokens = false;  // every third token, and all of sequence 0, are zero
};

int32_t length_of(const Calls& calls, std::size_t b) {
  int32_t n = 0;
  for (const auto& call : calls) n += call[b];
  return n;
}

// Row t of head h of a [tokens][heads][d] tensor.
float* row(std::vector<float>& x, int32_t t, int32_t h, int32_t heads, int32_t d) {
  return x.data() + (static_cast<std::size_t>(t) * heads + h) * d;
}

// One sequence's K or V as the cache holds it, read back: quantized per row when appended;
// with per-channel K, each page's exponents fixed when its first token arrives, from the new
// tokens of that call that land in it (and the previous page's when that was written before).
std::vector<float> as_cached(std::vector<float> x, const Calls& calls, std::size_t b, int32_t heads,
                             int32_t d, int32_t page_size, bool per_channel) {
  const int32_t len = length_of(calls, b);
  std::vector<int8_t> exponents(static_cast<std::size_t>((len + page_size - 1) / page_size) * heads * d, 0);
  auto exponent = [&](int32_t pos, int32_t h, int32_t c) -> int8_t& {
    return exponents[(static_cast<std::size_t>(pos / page_size) * heads + h) * d + c];
  };
  int32_t start = 0;
  for (const auto& call : calls) {
    const int32_t end = start + call[b];
    for (int32_t t = start; t < end; ++t)
      for (int32_t h = 0; h < heads; ++h) {
        if (per_channel && t % page_size == 0) {
          const int32_t in_page = std::min(end, t + page_size) - t;
          std::vector<float> absmax(d, 0.0f);
          float sum = 0;
          for (int32_t i = 0; i < in_page; ++i)
            for (int32_t c = 0; c < d; ++c) {
              const float v = std::fabs(row(x, t + i, h, heads, d)[c]);
              absmax[c] = std::max(absmax[c], v);
              sum += v;
            }
          for (int32_t c = 0; c < d; ++c) {
            const float inherited = t == start && t >= page_size ? pow2(exponent(t - 1, h, c)) : 0.0f;
            exponent(t, h, c) = choose_channel_exponent(absmax[c], sum / static_cast<float>(in_page * d), inherited);
          }
        }
        float* r = row(x, t, h, heads, d);
        float absmax = 0;
        for (int32_t c = 0; c < d; ++c) absmax = std::max(absmax, std::fabs(per_channel ? r[c] * pow2(-exponent(t, h, c)) : r[c]));
        const float s = quant_scale(absmax);
        for (int32_t c = 0; c < d; ++c) {
          const float divisor = per_channel ? pow2(exponent(t, h, c)) : 1.0f;
          r[c] = static_cast<float>(quantize(r[c] / divisor, s)) * s * divisor;
        }
      }
    start = end;
  }
  return x;
}

struct Result {
  std::vector<float> got;
  std::vector<double> over_cache;  // attention over the dequantized cache
  std::vector<double> exact;       // attention over the inputs
  std::vector<int32_t> q_lens;
};

// A tunable set before the calls, or none (name null).
struct Setting {
  const char* name = nullptr;
  int64_t value = 0;
};

// Appends `calls`, then one prefill (queries: the last call's tokens) or `decodes` decodes
// (each with new queries; the result is the last's), with `setting` applied first.
Result run(const LoadedPlugin& plugin, AttnbProblem p, const Calls& calls, bool decode, Data data,
           uint64_t seed, Setting setting = {}, int decodes = 1) {
  const std::size_t batch = calls[0].size();
  const int32_t hkv = p.num_kv_heads, d = p.head_dim;
  Result r;
  r.q_lens = decode ? std::vector<int32_t>(batch, 1) : calls.back();
  std::vector<int32_t> lengths(batch);
  int64_t pages = 2;
  for (std::size_t b = 0; b < batch; ++b) {
    lengths[b] = length_of(calls, b);
    pages += (lengths[b] + p.page_size - 1) / p.page_size;
  }
  p.max_batch = static_cast<int32_t>(batch);
  p.max_q_tokens = std::accumulate(r.q_lens.begin(), r.q_lens.end(), 0);
  p.max_kv_len = *std::max_element(lengths.begin(), lengths.end());

  std::mt19937_64 rng(seed);
  std::vector<std::vector<float>> k(batch), v(batch);
  for (std::size_t b = 0; b < batch; ++b) {
    k[b] = random_normal(static_cast<std::size_t>(lengths[b]) * hkv * d, p.dtype, rng);
    v[b] = random_normal(k[b].size(), p.dtype, rng);
    for (int32_t t = 0; t < lengths[b]; ++t)
      for (int32_t h = 0; h < hkv; ++h) {
        if (data.outliers)
          for (int32_t c = 5; c < d; c += 37) row(k[b], t, h, hkv, d)[c] *= 30.0f;
        if (data.zero_tokens && (b == 0 || t % 3 == 0)) {
          std::fill_n(row(k[b], t, h, hkv, d), d, 0.0f);
          std::fill_n(row(v[b], t, h, hkv, d), d, 0.0f);
        }
      }
    round_to_dtype(k[b], p.dtype);
  }

  AttentionSession session(plugin, p, pages, seed);
  if (setting.name) session.op().set_tunable(setting.name, setting.value);
  const std::size_t kv_row = static_cast<std::size_t>(hkv) * d;
  std::vector<int32_t> done(batch, 0);
  for (const auto& call : calls) {
    std::vector<float> k_new, v_new;
    for (std::size_t b = 0; b < batch; ++b) {
      k_new.insert(k_new.end(), k[b].begin() + done[b] * kv_row, k[b].begin() + (done[b] + call[b]) * kv_row);
      v_new.insert(v_new.end(), v[b].begin() + done[b] * kv_row, v[b].begin() + (done[b] + call[b]) * kv_row);
      done[b] += call[b];
    }
    session.append(call, k_new, v_new);
  }
  std::vector<float> q;
  for (int i = 0; i < (decode ? decodes : 1); ++i) {
    q = random_normal(static_cast<std::size_t>(p.max_q_tokens) * p.num_q_heads * d, p.dtype, rng);
    r.got = decode ? session.decode(q) : session.prefill(r.q_lens, q);
  }

  AttentionShape shape;
  shape.num_q_heads = p.num_q_heads;
  shape.num_kv_heads = hkv;
  shape.head_dim = d;
  shape.causal = p.causal != 0;
  shape.window = p.window;
  shape.q_indptr = {0};
  shape.kv_indptr = {0};
  std::vector<float> k_all, v_all, k_cached, v_cached;
  const bool per_channel = p.kv_quant_mode == ATTNB_KV_QUANT_K_PER_CHANNEL;
  for (std::size_t b = 0; b < batch; ++b) {
    shape.q_indptr.push_back(shape.q_indptr.back() + r.q_lens[b]);
    shape.kv_indptr.push_back(shape.kv_indptr.back() + lengths[b]);
    k_all.insert(k_all.end(), k[b].begin(), k[b].end());
    v_all.insert(v_all.end(), v[b].begin(), v[b].end());
    const std::vector<float> kc = as_cached(k[b], calls, b, hkv, d, p.page_size, per_channel);
    const std::vector<float> vc = as_cached(v[b], calls, b, hkv, d, p.page_size, false);
    k_cached.insert(k_cached.end(), kc.begin(), kc.end());
    v_cached.insert(v_cached.end(), vc.begin(), vc.end());
  }
  r.exact = reference_attention(shape, to_double(q), to_double(k_all), to_double(v_all));
  r.over_cache = reference_attention(shape, to_double(q), to_double(k_cached), to_double(v_cached));
  return r;
}

struct Pattern {
  const char* name;
  Calls calls;
  bool decode;
};

std::vector<Pattern> patterns() {
  return {
      {"prompt", {{37, 16, 1, 50}}, false},
      {"chunked prefill", {{20, 5}, {30, 12}}, false},
      // Sequence 1's first decode step, and sequence 0's second, open a page.
      {"decode steps", {{31, 32, 17}, {1, 1, 1}, {1, 1, 1}}, true},
  };
}

const Pattern kLongDecode = {"long decode", {{700, 1500}, {1, 1}}, true};  // split on the GPU

class Int8KvPlugin : public testing::TestWithParam<AttnbDevice> {
 protected:
  void SetUp() override {
    if (GetParam() == ATTNB_DEVICE_CUDA) ATTNB_SKIP_WITHOUT_GPU();
    plugin_ = test::plugin("int8_kv");
    ASSERT_NE(plugin_, nullptr);
  }

  std::vector<int32_t> dtypes() const { return test::query_dtypes(plugin_->descriptor(), GetParam()); }

  AttnbProblem problem(int32_t dtype, int32_t q_heads, int32_t kv_heads, int32_t d, int32_t mode,
                       bool causal = true, int32_t window = 0) const {
    AttnbProblem p = make_problem(GetParam(), dtype, q_heads, kv_heads, d, causal, window, 1, 1, 1);
    p.kv_cache_dtype = ATTNB_DTYPE_INT8;
    p.kv_quant_mode = mode;
    return p;
  }

  // The plugin matches its dequantized cache tightly and the exact reference within int8's
  // tolerance (the latter only for data the int8 tolerance is derived for).
  Result expect_matches(const AttnbProblem& p, const Pattern& pattern, Data data, uint64_t seed,
                        Setting setting = {}, int decodes = 1) {
    Result r = run(*plugin_, p, pattern.calls, pattern.decode, data, seed, setting, decodes);
    const Comparison tight = compare(r.got, r.over_cache, tolerance_for(p.dtype));
    const std::string set = setting.name ? std::string(" ") + setting.name + "=" + std::to_string(setting.value) : "";
    EXPECT_TRUE(tight.passed()) << describe(p, pattern, seed) << set << ": vs the dequantized cache max_abs "
                                << tight.max_abs_error << ", " << tight.violations << " violations";
    if (!data.outliers) {
      const Comparison exact = compare(r.got, r.exact, tolerance_for(p.dtype, p.kv_cache_dtype));
      EXPECT_TRUE(exact.passed()) << describe(p, pattern, seed) << set << ": vs fp64 max_abs " << exact.max_abs_error;
    }
    return r;
  }

  static std::string describe(const AttnbProblem& p, const Pattern& pattern, uint64_t seed) {
    return std::string(pattern.name) + " " + dtype_name(p.dtype) + " D " + std::to_string(p.head_dim) +
           " heads " + std::to_string(p.num_q_heads) + "/" + std::to_string(p.num_kv_heads) +
           (p.kv_quant_mode == ATTNB_KV_QUANT_K_PER_CHANNEL ? " per-channel" : " per-token") +
           (p.causal ? "" : " full") + " window " + std::to_string(p.window) + " seed " + std::to_string(seed);
  }

  std::shared_ptr<LoadedPlugin> plugin_;
};

TEST_P(Int8KvPlugin, MatchesAttentionOverItsDequantizedCache) {
  uint64_t seed = std::random_device{}();
  struct Mask { bool causal; int32_t window; };
  for (int32_t dtype : dtypes())
    for (int32_t d : {64, 128})
      for (auto [hq, hkv] : {std::pair{8, 8}, {8, 2}, {8, 1}, {6, 2}})  // MHA, GQA, MQA, group 3
        for (int32_t mode : {ATTNB_KV_QUANT_PER_TOKEN, ATTNB_KV_QUANT_K_PER_CHANNEL})
          for (Mask mask : {Mask{true, 0}, Mask{false, 0}, Mask{true, 5}})
            for (const Pattern& pattern : patterns())
              expect_matches(problem(dtype, hq, hkv, d, mode, mask.causal, mask.window), pattern, {}, ++seed);
}

// Every value of every tunable the plugin declares (the split counts), each on a
// long decode that crosses many tiles and splits.
TEST_P(Int8KvPlugin, LongDecodeMatchesForEveryTunableValue) {
  uint64_t seed = std::random_device{}();
  const AttnbDescriptor& d = plugin_->descriptor();
  ASSERT_NE(find_tunable(d, "kv_splits"), nullptr);
  const int32_t dtype = dtypes()[0];
  for (int32_t mode : {ATTNB_KV_QUANT_PER_TOKEN, ATTNB_KV_QUANT_K_PER_CHANNEL}) {
    expect_matches(problem(dtype, 32, 8, 128, mode), kLongDecode, {}, ++seed);  // the defaults
    for (std::size_t t = 0; t < d.num_tunables; ++t)
      for (std::size_t i = 0; i < d.tunables[t].num_values; ++i)
        expect_matches(problem(dtype, 8, 2, 64, mode), kLongDecode, {}, ++seed,
                       {d.tunables[t].name, d.tunables[t].values[i]});
  }
}

// Decodes one after another on one op, split on the GPU: each finds the split counters of the
// in-kernel merge put back by the one before (the third is checked).
TEST_P(Int8KvPlugin, ConsecutiveSplitDecodesMatch) {
  uint64_t seed = std::random_device{}();
  for (int32_t dtype : dtypes())
    for (int32_t d : {64, 128})
      expect_matches(problem(dtype, 32, 8, d, ATTNB_KV_QUANT_PER_TOKEN), kLongDecode, {}, ++seed, {}, 3);
}

// The CUDA decode copies tiles by tensor copies for pages of 8, 16, 32, 64 or a multiple of
// 64 keys, by cp.async for the others: a decode across tiles and splits in each kind, with
// and without a window whose first key falls inside a tile (the tensor copies' first tile
// then starts before it, masked).
TEST_P(Int8KvPlugin, LongDecodeMatchesForEveryKindOfPageSize) {
  uint64_t seed = std::random_device{}();
  const int32_t dtype = dtypes()[0];
  for (int32_t page_size : {3, 8, 32, 64, 128, 192})
    for (int32_t window : {0, 333}) {
      SCOPED_TRACE("page size " + std::to_string(page_size));
      AttnbProblem p = problem(dtype, 32, 8, 128, ATTNB_KV_QUANT_PER_TOKEN, true, window);
      p.page_size = page_size;
      expect_matches(p, kLongDecode, {}, ++seed);
    }
}

TEST_P(Int8KvPlugin, ZeroTokensGiveFiniteOutputs) {
  uint64_t seed = std::random_device{}();
  for (int32_t dtype : dtypes())
    for (int32_t mode : {ATTNB_KV_QUANT_PER_TOKEN, ATTNB_KV_QUANT_K_PER_CHANNEL})
      for (const Pattern& pattern : patterns()) {
        const AttnbProblem p = problem(dtype, 8, 2, 128, mode);
        const Result r = expect_matches(p, pattern, {false, true}, ++seed);
        for (float x : r.got) ASSERT_TRUE(std::isfinite(x)) << describe(p, pattern, seed);
        // Sequence 0 is all zeros: its keys tie, its values are zero, so is its output.
        const std::size_t seq0 = static_cast<std::size_t>(r.q_lens[0]) * p.num_q_heads * p.head_dim;
        for (std::size_t i = 0; i < seq0; ++i) ASSERT_EQ(r.got[i], 0.0f) << describe(p, pattern, seed);
      }
}

TEST_P(Int8KvPlugin, PerChannelScalesTameOutlierChannels) {
  // Both layouts match their own cache exactly (expect_matches); against fp64, per-channel K
  // is clearly closer. One small pattern's error is noisy (few output rows, one page opened
  // by a single decode token), so the claim is checked on the errors summed over every
  // pattern and dtype: at most half of per-token's (0.22-0.30 of it over 60 runs; one
  // pattern alone ranged up to 1.5). results/int8_accuracy.md measures the full-size effect.
  uint64_t seed = std::random_device{}();
  const uint64_t first_seed = seed;
  double total[2] = {};
  for (int32_t dtype : dtypes())
    for (const Pattern& pattern : patterns()) {
      for (int32_t mode : {ATTNB_KV_QUANT_PER_TOKEN, ATTNB_KV_QUANT_K_PER_CHANNEL}) {
        const Result r = expect_matches(problem(dtype, 8, 2, 128, mode), pattern, {true, false}, seed);
        total[mode] += compare(r.got, r.exact, {}).rel_l2_error;
      }
      ++seed;
    }
  EXPECT_LT(total[ATTNB_KV_QUANT_K_PER_CHANNEL], 0.5 * total[ATTNB_KV_QUANT_PER_TOKEN])
      << "summed rel_l2, seeds from " << first_seed;
}

std::string device_label(const testing::TestParamInfo<AttnbDevice>& info) { return device_name(info.param); }

INSTANTIATE_TEST_SUITE_P(Devices, Int8KvPlugin, testing::Values(ATTNB_DEVICE_CPU, ATTNB_DEVICE_CUDA), device_label);

}  // namespace
