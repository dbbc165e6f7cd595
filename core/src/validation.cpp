#include <attnbench/core/validation.hpp>

#include <attnbench/core/attention_session.hpp>
#include <attnbench/core/page_table.hpp>
#include <attnbench/core/random_tensor.hpp>
#include <attnbench/core/reference_attention.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace attnbench {

Tolerance tolerance_for(int32_t dtype) {
  switch (dtype) {
    case ATTNB_DTYPE_F16: return {2e-3, 2e-3};  // unit roundoff 4.9e-4
    case ATTNB_DTYPE_BF16: return {1.6e-2, 1.6e-2};  // unit roundoff 3.9e-3
    default: return {1e-4, 1e-4};  // fp32 accumulation over a few thousand terms
  }
}

// An int8 cache rounds each cached element to its row's step s = max|row| / 127: an error of
// at most s/2 = max|row| / 254, independent from element to element. On o = sum_j p_j v_j:
//  * V's rounding moves o by at most max_j max|v_j| / 254 (a convex combination of errors):
//    0.02 for validate's standard normal data (max|row| <= 5).
//  * K's rounding moves score j by delta_j = sm_scale * q . dk_j, a sum of head_dim
//    independent roundings with std sm_scale * |q| * s / sqrt(12) ~ max|k_j| / 440 (for normal
//    q, sm_scale * |q| ~ 1): 0.07 at 6 sigma. o moves by sum_j p_j (delta_j - mean delta)
//    (v_j - o), about that times the mean |v_j - o| (~1): 0.08.
// Hence atol 0.1 on top of the dtype's own tolerance (the worst seen over 2000 random cases
// per dtype and head dim was 0.057). The worst case with every rounding aligned is far
// larger and never seen; the int8 tests also check the plugin tightly against attention over
// the dequantized cache, where a small bug cannot hide in this allowance.
constexpr Tolerance kInt8CacheError = {0.1, 0.0};

Tolerance tolerance_for(int32_t dtype, int32_t kv_cache_dtype) {
  Tolerance t = tolerance_for(dtype);
  if (kv_cache_dtype == ATTNB_DTYPE_INT8) {
    t.atol += kInt8CacheError.atol;
    t.rtol += kInt8CacheError.rtol;
  }
  return t;
}

Comparison compare(const std::vector<float>& got, const std::vector<double>& ref, Tolerance tol) {
  Comparison c;
  c.elements = std::min(got.size(), ref.size());
  if (got.size() != ref.size()) c.violations = std::max(got.size(), ref.size()) - c.elements;
  double diff2 = 0, ref2 = 0;
  for (std::size_t i = 0; i < c.elements; ++i) {
    const double err = std::fabs(static_cast<double>(got[i]) - ref[i]);
    if (!(err <= tol.atol + tol.rtol * std::fabs(ref[i]))) ++c.violations;  // NaN fails too
    c.max_abs_error = std::isnan(err) ? err : std::max(c.max_abs_error, err);
    diff2 += err * err;
    ref2 += ref[i] * ref[i];
  }
  c.rel_l2_error = ref2 > 0 ? std::sqrt(diff2 / ref2) : std::sqrt(diff2);
  return c;
}

AttnbProblem make_problem(AttnbDevice device, int32_t dtype, int32_t num_q_heads,
                          int32_t num_kv_heads, int32_t head_dim, bool causal, int32_t window,
                          int32_t max_batch, int32_t max_q_tokens, int32_t max_kv_len,
                          int32_t page_size) {
  AttnbProblem p{};
  p.struct_size = sizeof p;
  p.device = device;
  p.dtype = dtype;
  p.kv_cache_dtype = dtype;
  p.num_q_heads = num_q_heads;
  p.num_kv_heads = num_kv_heads;
  p.head_dim = head_dim;
  p.page_size = page_size;
  p.causal = causal ? 1 : 0;
  p.window = window;
  p.sm_scale = 0.0f;
  p.max_batch = max_batch;
  p.max_q_tokens = max_q_tokens;
  p.max_kv_len = max_kv_len;
  p.kv_quant_mode = ATTNB_KV_QUANT_PER_TOKEN;
  return p;
}

int32_t kv_cache_dtype_for(const AttnbDescriptor& d, int32_t dtype) {
  if (d.kv_cache_dtypes & ATTNB_BIT(dtype)) return dtype;
  if (d.kv_cache_dtypes & ATTNB_BIT(ATTNB_DTYPE_INT8)) return ATTNB_DTYPE_INT8;
  return dtype;
}

std::vector<ValidationCase> standard_cases() {
  return {
      {"prefill single prompt", false, {37}, {37}},
      {"prefill ragged + chunked", false, {1, 16, 50, 70}, {1, 16, 50, 13}},
      {"decode ragged batch", true, {1, 15, 16, 17, 100}, {1, 1, 1, 1, 1}},
  };
}

namespace {

// The random inputs of one case, per call: each sequence's cached prefix, then its new
// tokens (the queries are the new tokens' positions).
struct CaseInputs {
  std::vector<int32_t> prefix, fresh;  // tokens per sequence
  std::vector<float> prefix_k, prefix_v, fresh_k, fresh_v, q;
};

// Scales a few K channels of every KV head by x10..x50 (the same channels for every token).
class OutlierChannels {
 public:
  OutlierChannels(const AttnbProblem& p, uint64_t seed) : factors_(static_cast<std::size_t>(p.num_kv_heads) * p.head_dim, 1.0f) {
    std::mt19937_64 rng(seed ^ 0x6f75746c69657273ull);
    std::uniform_real_distribution<float> factor(10.0f, 50.0f);
    for (int32_t h = 0; h < p.num_kv_heads; ++h) {
      std::vector<int32_t> channels(p.head_dim);
      std::iota(channels.begin(), channels.end(), 0);
      std::shuffle(channels.begin(), channels.end(), rng);
      for (int32_t i = 0; i < std::min(kChannels, p.head_dim); ++i)
        factors_[static_cast<std::size_t>(h) * p.head_dim + channels[i]] = factor(rng);
    }
  }
  void apply(std::vector<float>& k, int32_t dtype) const {
    for (std::size_t i = 0; i < k.size(); ++i) k[i] *= factors_[i % factors_.size()];
    round_to_dtype(k, dtype);
  }

 private:
  static constexpr int32_t kChannels = 4;
  std::vector<float> factors_;  // [num_kv_heads][head_dim]
};

CaseInputs make_inputs(const AttnbProblem& p, const ValidationCase& c, KvData data, uint64_t seed) {
  CaseInputs in;
  std::mt19937_64 rng(seed);
  const std::size_t kv_row = static_cast<std::size_t>(p.num_kv_heads) * p.head_dim;
  const std::size_t q_row = static_cast<std::size_t>(p.num_q_heads) * p.head_dim;
  in.fresh = c.q_lens;
  for (std::size_t b = 0; b < c.kv_lens.size(); ++b) in.prefix.push_back(c.kv_lens[b] - c.q_lens[b]);
  const std::size_t n_prefix = std::accumulate(in.prefix.begin(), in.prefix.end(), 0);
  const std::size_t n_new = std::accumulate(in.fresh.begin(), in.fresh.end(), 0);
  in.prefix_k = random_normal(n_prefix * kv_row, p.dtype, rng);
  in.prefix_v = random_normal(n_prefix * kv_row, p.dtype, rng);
  in.fresh_k = random_normal(n_new * kv_row, p.dtype, rng);
  in.fresh_v = random_normal(n_new * kv_row, p.dtype, rng);
  in.q = random_normal(n_new * q_row, p.dtype, rng);
  if (data == KvData::kOutlierKeyChannels) {
    const OutlierChannels outliers(p, seed);
    outliers.apply(in.prefix_k, p.dtype);
    outliers.apply(in.fresh_k, p.dtype);
  }
  return in;
}

// Appends the prefixes (one call), then the new tokens (another), then prefills or decodes.
std::vector<float> run_plugin(const LoadedPlugin& plugin, AttnbProblem& problem, const ValidationCase& c,
                              const CaseInputs& in, uint64_t seed,
                              const std::vector<std::pair<std::string, int64_t>>& tunables) {
  problem.max_batch = static_cast<int32_t>(c.kv_lens.size());
  problem.max_q_tokens = std::accumulate(c.q_lens.begin(), c.q_lens.end(), 0);
  problem.max_kv_len = *std::max_element(c.kv_lens.begin(), c.kv_lens.end());
  int64_t pages = 0;
  for (int32_t len : c.kv_lens) pages += pages_for(len, problem.page_size);
  AttentionSession session(plugin, problem, pages + 3, seed);
  for (const auto& [name, value] : tunables) session.op().set_tunable(name, value);
  if (!in.prefix_k.empty()) session.append(in.prefix, in.prefix_k, in.prefix_v);
  session.append(in.fresh, in.fresh_k, in.fresh_v);
  return c.decode ? session.decode(in.q) : session.prefill(in.fresh, in.q);
}

// The fp64 reference of the case, over K and V first rounded to `kv_dtype` (fp32: as given).
std::vector<double> reference_of(const AttnbProblem& p, const CaseInputs& in, int32_t kv_dtype) {
  AttentionShape shape = attention_shape_of(p);
  shape.q_indptr = {0};
  shape.kv_indptr = {0};
  const std::size_t row = static_cast<std::size_t>(p.num_kv_heads) * p.head_dim;
  std::vector<float> k, v;
  std::size_t prefix_at = 0, fresh_at = 0;
  for (std::size_t b = 0; b < in.fresh.size(); ++b) {
    const std::size_t n_prefix = in.prefix[b] * row, n_fresh = in.fresh[b] * row;
    k.insert(k.end(), in.prefix_k.begin() + prefix_at, in.prefix_k.begin() + prefix_at + n_prefix);
    k.insert(k.end(), in.fresh_k.begin() + fresh_at, in.fresh_k.begin() + fresh_at + n_fresh);
    v.insert(v.end(), in.prefix_v.begin() + prefix_at, in.prefix_v.begin() + prefix_at + n_prefix);
    v.insert(v.end(), in.fresh_v.begin() + fresh_at, in.fresh_v.begin() + fresh_at + n_fresh);
    prefix_at += n_prefix;
    fresh_at += n_fresh;
    shape.q_indptr.push_back(shape.q_indptr.back() + in.fresh[b]);
    shape.kv_indptr.push_back(shape.kv_indptr.back() + in.prefix[b] + in.fresh[b]);
  }
  round_to_dtype(k, kv_dtype);
  round_to_dtype(v, kv_dtype);
  return reference_attention(shape, to_double(in.q), to_double(k), to_double(v));
}

}  // namespace

CaseOutcome run_case(const LoadedPlugin& plugin, AttnbProblem problem, const ValidationCase& c,
                     uint64_t seed, const std::vector<std::pair<std::string, int64_t>>& tunables) {
  CaseOutcome outcome;
  outcome.tolerance = tolerance_for(problem.dtype, problem.kv_cache_dtype);
  try {
    const CaseInputs in = make_inputs(problem, c, KvData::kRandom, seed);
    const std::vector<float> out = run_plugin(plugin, problem, c, in, seed, tunables);
    outcome.comparison = compare(out, reference_of(problem, in, ATTNB_DTYPE_F32), outcome.tolerance);
  } catch (const std::exception& e) {
    outcome.error = e.what();
  }
  return outcome;
}

Accuracy accuracy_of(const std::vector<float>& got, const std::vector<double>& ref, int32_t row_len) {
  Accuracy a;
  const Comparison c = compare(got, ref, {});
  a.max_abs = c.max_abs_error;
  a.rel_l2 = c.rel_l2_error;
  for (std::size_t row = 0; row + row_len <= std::min(got.size(), ref.size()); row += row_len) {
    double dot = 0, got2 = 0, ref2 = 0;
    for (std::size_t i = row; i < row + row_len; ++i) {
      dot += got[i] * ref[i];
      got2 += static_cast<double>(got[i]) * got[i];
      ref2 += ref[i] * ref[i];
    }
    const double cosine = got2 == 0 && ref2 == 0 ? 1.0 : dot / std::sqrt(got2 * ref2);  // 0/0 -> NaN
    a.worst_cosine = std::isnan(cosine) ? cosine : std::min(a.worst_cosine, cosine);
  }
  return a;
}

const char* kv_data_name(KvData data) {
  return data == KvData::kOutlierKeyChannels ? "outlier-K" : "random";
}

std::vector<ValidationCase> accuracy_cases() {
  return {
      {"prefill 512 prompt", false, {512}, {512}},
      {"decode 1k..4k batch", true, {1025, 2048, 3000, 4096}, {1, 1, 1, 1}},
  };
}

AccuracyOutcome run_accuracy_case(const LoadedPlugin& plugin, AttnbProblem problem,
                                  const ValidationCase& c, KvData data, uint64_t seed) {
  AccuracyOutcome outcome;
  try {
    const CaseInputs in = make_inputs(problem, c, data, seed);
    const std::vector<float> out = run_plugin(plugin, problem, c, in, seed, {});
    const std::vector<double> exact = reference_of(problem, in, ATTNB_DTYPE_F32);
    const std::vector<double> fp16_cache = reference_of(problem, in, ATTNB_DTYPE_F16);
    outcome.vs_fp64 = accuracy_of(out, exact, problem.head_dim);
    outcome.vs_fp16_cache = accuracy_of(out, fp16_cache, problem.head_dim);
    outcome.fp16_cache_vs_fp64 =
        accuracy_of(std::vector<float>(fp16_cache.begin(), fp16_cache.end()), exact, problem.head_dim);
  } catch (const std::exception& e) {
    outcome.error = e.what();
  }
  return outcome;
}

}  // namespace attnbench
