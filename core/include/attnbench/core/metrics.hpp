// The numbers every result reports, defined once: bench, tune and serve all compute tokens/s,
// time to first token, time per output token, bytes, FLOPs and the roofline from here.
//
// Conventions (stated so rows from different commands and papers compare):
//  - FLOPs: QK^T and PV each cost 2*D flops per (query, key) pair per query head, so an
//    attention call costs 4 * Hq * D * pairs. A causal prefill of S tokens counts S^2/2
//    pairs per sequence (the FlashAttention convention 2*2*B*H*S^2*D/2), a full one S^2.
//  - Bytes: what must cross the memory bus at least once (read + written). Decode bytes come
//    from the plugin's own traffic report (AttnbTraffic), never guessed by the host.
//  - Fractions are of ceilings measured on the same device in the same run (ceilings.hpp).
#pragma once

#include <attnbench/abi.h>

#include <cstdint>

namespace attnbench {

// (query, key) pairs one sequence's prefill of `prompt_len` tokens attends: S^2 without a
// mask, S^2/2 causal, S*W - W^2/2 with a causal window W < S (the area under min(p, W)).
double attended_pairs(int64_t prompt_len, bool causal, int32_t window);

// FLOPs of a prefill of `prompt_len` tokens in each of `batch` sequences.
double prefill_flops(int64_t batch, int32_t num_q_heads, int32_t head_dim, int64_t prompt_len,
                     bool causal, int32_t window);

// Bytes a prefill (append the new K/V, then attend) must move at least: Q and the new K/V
// read, the cache written once and read once (kv_bytes_per_token from the plugin), O written.
double prefill_bytes(const AttnbProblem& problem, double kv_bytes_per_token, int64_t batch,
                     int64_t prompt_len);

// One decode step of a whole batch, from the plugin's per-sequence report.
struct StepTraffic {
  double kv_bytes_read = 0;     // cache bytes read
  double other_bytes_read = 0;  // Q, indices
  double bytes_written = 0;     // O and the appended token
  double flops = 0;
  double bytes() const { return kv_bytes_read + other_bytes_read + bytes_written; }
};
StepTraffic decode_step_traffic(const AttnbTraffic& per_sequence, int64_t batch);

// KV cache bytes `tokens` tokens occupy across a model's `layers` layers.
double kv_cache_bytes(double kv_bytes_per_token, double tokens, int32_t layers);

// tokens / seconds (0 when seconds is not positive).
double tokens_per_second(double tokens, double seconds);

// Where a measurement sits against the measured ceilings.
struct Roofline {
  double bytes_per_s = 0;           // achieved bandwidth
  double flops_per_s = 0;           // achieved compute
  double bandwidth_fraction = 0;    // of the measured copy bandwidth
  double compute_fraction = 0;      // of the measured GEMM rate
  double arithmetic_intensity = 0;  // flops per byte moved
  double ridge_intensity = 0;       // ceiling flops / ceiling bandwidth
  // Below the ridge the bus limits the call, above it the arithmetic does.
  bool memory_bound() const { return arithmetic_intensity < ridge_intensity; }
};
Roofline roofline(double bytes, double flops, double seconds, double ceiling_bytes_per_s,
                  double ceiling_flops_per_s);

}  // namespace attnbench
