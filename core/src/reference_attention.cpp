#include <attnbench/core/reference_attention.hpp>

#include <cmath>
#include <limits>
#include <stdexcept>

namespace attnbench {

AttentionShape attention_shape_of(const AttnbProblem& p) {
  AttentionShape shape;
  shape.num_q_heads = p.num_q_heads;
  shape.num_kv_heads = p.num_kv_heads;
  shape.head_dim = p.head_dim;
  shape.causal = p.causal != 0;
  shape.window = p.window;
  shape.sm_scale = p.sm_scale;
  return shape;
}

std::vector<double> reference_attention(const AttentionShape& s, const std::vector<double>& q,
                                        const std::vector<double>& k, const std::vector<double>& v) {
  if (s.num_q_heads <= 0 || s.num_kv_heads <= 0 || s.head_dim <= 0 ||
      s.num_q_heads % s.num_kv_heads != 0)
    throw std::invalid_argument("reference_attention: bad head configuration");
  if (s.q_indptr.size() != s.kv_indptr.size() || s.q_indptr.empty())
    throw std::invalid_argument("reference_attention: q_indptr and kv_indptr differ in length");
  const int64_t batch = static_cast<int64_t>(s.q_indptr.size()) - 1;
  const int64_t hq = s.num_q_heads, hkv = s.num_kv_heads, d = s.head_dim, group = hq / hkv;
  const int64_t total_q = s.q_indptr.back(), total_kv = s.kv_indptr.back();
  if (static_cast<int64_t>(q.size()) != total_q * hq * d ||
      static_cast<int64_t>(k.size()) != total_kv * hkv * d || k.size() != v.size())
    throw std::invalid_argument("reference_attention: tensor sizes do not match the shape");
  const double scale = s.sm_scale != 0 ? s.sm_scale : 1.0 / std::sqrt(static_cast<double>(d));

  std::vector<double> o(q.size(), 0.0);
  std::vector<double> scores;
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t q0 = s.q_indptr[b], q_len = s.q_indptr[b + 1] - q0;
    const int64_t k0 = s.kv_indptr[b], kv_len = s.kv_indptr[b + 1] - k0;
    if (q_len > kv_len) throw std::invalid_argument("reference_attention: more queries than keys");
    scores.assign(static_cast<std::size_t>(kv_len), 0.0);
    for (int64_t i = 0; i < q_len; ++i) {
      const int64_t pos = kv_len - q_len + i;
      for (int64_t h = 0; h < hq; ++h) {
        const double* qrow = &q[((q0 + i) * hq + h) * d];
        const int64_t kvh = h / group;
        double max_score = -std::numeric_limits<double>::infinity();
        for (int64_t j = 0; j < kv_len; ++j) {
          if (!key_visible(s, pos, j)) continue;
          const double* krow = &k[((k0 + j) * hkv + kvh) * d];
          double dot = 0;
          for (int64_t e = 0; e < d; ++e) dot += qrow[e] * krow[e];
          scores[j] = dot * scale;
          max_score = std::max(max_score, scores[j]);
        }
        if (max_score == -std::numeric_limits<double>::infinity()) continue;  // sees nothing
        double sum = 0;
        double* orow = &o[((q0 + i) * hq + h) * d];
        for (int64_t j = 0; j < kv_len; ++j) {
          if (!key_visible(s, pos, j)) continue;
          const double p = std::exp(scores[j] - max_score);
          sum += p;
          const double* vrow = &v[((k0 + j) * hkv + kvh) * d];
          for (int64_t e = 0; e < d; ++e) orow[e] += p * vrow[e];
        }
        for (int64_t e = 0; e < d; ++e) orow[e] /= sum;
      }
    }
  }
  return o;
}

}  // namespace attnbench
