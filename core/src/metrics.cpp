#include <attnbench/core/metrics.hpp>

#include <attnbench/numeric.hpp>

namespace attnbench {

double attended_pairs(int64_t prompt_len, bool causal, int32_t window) {
  const double s = static_cast<double>(prompt_len);
  if (!causal) return s * s;
  if (window > 0 && window < prompt_len) {
    const double w = static_cast<double>(window);
    return s * w - w * w / 2;
  }
  return s * s / 2;
}

double prefill_flops(int64_t batch, int32_t num_q_heads, int32_t head_dim, int64_t prompt_len,
                     bool causal, int32_t window) {
  return 4.0 * static_cast<double>(batch) * num_q_heads * head_dim *
         attended_pairs(prompt_len, causal, window);
}

double prefill_bytes(const AttnbProblem& p, double kv_bytes_per_token, int64_t batch,
                     int64_t prompt_len) {
  const double tokens = static_cast<double>(batch) * static_cast<double>(prompt_len);
  const double elem = static_cast<double>(dtype_size(p.dtype));
  const double q_and_o = 2.0 * p.num_q_heads * p.head_dim * elem;
  const double new_kv = 2.0 * p.num_kv_heads * p.head_dim * elem;
  return tokens * (q_and_o + new_kv + 2.0 * kv_bytes_per_token);
}

StepTraffic decode_step_traffic(const AttnbTraffic& t, int64_t batch) {
  const double b = static_cast<double>(batch);
  StepTraffic s;
  s.kv_bytes_read = t.kv_bytes_read * b;
  s.other_bytes_read = t.other_bytes_read * b;
  s.bytes_written = t.bytes_written * b;
  s.flops = t.flops * b;
  return s;
}

double kv_cache_bytes(double kv_bytes_per_token, double tokens, int32_t layers) {
  return kv_bytes_per_token * tokens * layers;
}

double tokens_per_second(double tokens, double seconds) {
  return seconds > 0 ? tokens / seconds : 0;
}

Roofline roofline(double bytes, double flops, double seconds, double ceiling_bytes_per_s,
                  double ceiling_flops_per_s) {
  Roofline r;
  if (seconds > 0) {
    r.bytes_per_s = bytes / seconds;
    r.flops_per_s = flops / seconds;
  }
  r.bandwidth_fraction = ceiling_bytes_per_s > 0 ? r.bytes_per_s / ceiling_bytes_per_s : 0;
  r.compute_fraction = ceiling_flops_per_s > 0 ? r.flops_per_s / ceiling_flops_per_s : 0;
  r.arithmetic_intensity = bytes > 0 ? flops / bytes : 0;
  r.ridge_intensity = ceiling_bytes_per_s > 0 ? ceiling_flops_per_s / ceiling_bytes_per_s : 0;
  return r;
}

}  // namespace attnbench
