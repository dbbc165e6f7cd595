#include <attnbench/core/validation.hpp>

#include <attnbench/core/attention_session.hpp>
#include <attnbench/core/page_table.hpp>
#include <attnbench/core/random_tensor.hpp>

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

CaseOutcome run_case(const LoadedPlugin& plugin, AttnbProblem problem, const ValidationCase& c,
                     uint64_t seed, const std::vector<std::pair<std::string, int64_t>>& tunables) {
  CaseOutcome outcome;
  outcome.tolerance = tolerance_for(problem.dtype);
  try {
    const int32_t batch = static_cast<int32_t>(c.kv_lens.size());
    problem.max_batch = batch;
    problem.max_q_tokens = std::accumulate(c.q_lens.begin(), c.q_lens.end(), 0);
    problem.max_kv_len = *std::max_element(c.kv_lens.begin(), c.kv_lens.end());
    int64_t pages = 0;
    for (int32_t len : c.kv_lens) pages += pages_for(len, problem.page_size);
    AttentionSession session(plugin, problem, pages + 3, seed);
    for (const auto& [name, value] : tunables) session.op().set_tunable(name, value);

    std::mt19937_64 rng(seed);
    const std::size_t kv_row = static_cast<std::size_t>(problem.num_kv_heads) * problem.head_dim;
    const std::size_t q_row = static_cast<std::size_t>(problem.num_q_heads) * problem.head_dim;
    std::vector<int32_t> prefix(batch), fresh(c.q_lens);
    for (int32_t b = 0; b < batch; ++b) prefix[b] = c.kv_lens[b] - c.q_lens[b];
    const int32_t n_prefix = std::accumulate(prefix.begin(), prefix.end(), 0);
    const int32_t n_new = std::accumulate(fresh.begin(), fresh.end(), 0);
    if (n_prefix > 0)
      session.append(prefix, random_normal(n_prefix * kv_row, problem.dtype, rng),
                     random_normal(n_prefix * kv_row, problem.dtype, rng));
    session.append(fresh, random_normal(n_new * kv_row, problem.dtype, rng),
                   random_normal(n_new * kv_row, problem.dtype, rng));
    const std::vector<float> q = random_normal(n_new * q_row, problem.dtype, rng);
    const std::vector<float> out = c.decode ? session.decode(q) : session.prefill(fresh, q);
    outcome.comparison = compare(out, session.reference(fresh, q), outcome.tolerance);
  } catch (const std::exception& e) {
    outcome.error = e.what();
  }
  return outcome;
}

}  // namespace attnbench
