#include <attnbench/core/result_schema.hpp>

#include <attnbench/core/provenance.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace attnbench {

namespace {

std::vector<std::string> with_provenance(std::vector<std::string> own) {
  std::vector<std::string> columns = provenance_columns();
  columns.insert(columns.end(), own.begin(), own.end());
  return columns;
}

}  // namespace

std::size_t ResultSchema::index(const std::string& column) const {
  const auto it = std::find(columns.begin(), columns.end(), column);
  if (it == columns.end()) throw std::logic_error(kind + " results have no column '" + column + "'");
  return static_cast<std::size_t>(it - columns.begin());
}

// Times are seconds of one attention call of one layer (a generate sample: its prefill and
// every decode step); bytes and FLOPs are per timed call; *_pct are percent of the ceilings
// measured in the same run.
const ResultSchema& bench_schema() {
  static const ResultSchema schema{
      "bench",
      with_provenance({"backend", "phase", "dtype", "kv_dtype", "preset", "q_heads", "kv_heads",
                       "head_dim", "layers", "window", "page_size", "pages", "batch", "context",
                       "steps", "tunables", "status", "message", "samples", "noise",
                       "repetition_cv", "time_p50_s", "time_p95_s", "time_p99_s", "ttft_s",
                       "tpot_p50_s", "tpot_p95_s", "tpot_p99_s", "tokens_per_s",
                       "kv_bytes_per_token", "kv_bytes_read", "bytes", "flops", "gbps", "tflops",
                       "ceiling_gbps", "ceiling_tflops", "bandwidth_pct", "compute_pct",
                       "intensity", "ridge", "bound", "planned_bytes", "peak_bytes",
                       "driver_bytes", "max_abs_error", "rel_l2_error"}),
      {"plugin", "backend", "phase", "dtype", "kv_dtype", "preset", "q_heads", "kv_heads",
       "head_dim", "window", "page_size", "pages", "batch", "context", "steps", "tunables"},
      "time_p50_s",
      false};
  return schema;
}

// One row per plugin and context: the largest batch within the memory budget and the TPOT
// target, for the whole model (per-layer times x layers, every layer's KV cache counted).
const ResultSchema& tune_schema() {
  static const ResultSchema schema{
      "tune",
      with_provenance({"backend", "dtype", "kv_dtype", "preset", "q_heads", "kv_heads", "head_dim",
                       "layers", "page_size", "pages", "context", "tunables", "budget_bytes",
                       "tpot_target_s", "status", "message", "batch", "limit", "tpot_p50_s",
                       "tpot_p95_s", "tokens_per_s", "kv_cache_bytes", "planned_bytes", "probes"}),
      {"plugin", "backend", "dtype", "kv_dtype", "preset", "q_heads", "kv_heads", "head_dim",
       "page_size", "pages", "context", "tunables", "budget_bytes", "tpot_target_s"},
      "tokens_per_s",
      true};
  return schema;
}

// One row per plugin and device of `attnbench serve`: a request workload through the
// continuous-batching scheduler. Times are milliseconds on the engine clock (scheduler.hpp):
// one attention layer's steps, input synthesis and output checks excluded.
const ResultSchema& serve_schema() {
  static const ResultSchema schema{
      "serve",
      with_provenance({"backend", "dtype", "kv_dtype", "q_heads", "kv_heads", "head_dim", "window",
                       "page_size", "page_bytes", "kv_bytes_per_token", "pool_pages", "pool_tokens",
                       "pool_bytes", "max_batch", "max_prefill_tokens", "max_len", "requests", "rate",
                       "prompt_len", "output_len", "seed", "output_tokens", "duration_s",
                       "requests_per_s", "output_tokens_per_s", "ttft_p50_ms", "ttft_p95_ms",
                       "ttft_p99_ms", "tpot_p50_ms", "tpot_p95_ms", "tpot_p99_ms", "peak_pages",
                       "peak_pages_pct", "preemptions", "steps", "verified_rows", "failed_rows",
                       "max_abs_error"}),
      {"plugin", "backend", "dtype", "kv_dtype", "q_heads", "kv_heads", "head_dim", "window",
       "page_size", "max_batch", "max_len", "requests", "rate", "prompt_len", "output_len", "seed"},
      "output_tokens_per_s",
      true};
  return schema;
}

RowBuilder& RowBuilder::set(const std::string& column, const std::string& value) {
  schema_->index(column);  // an unknown column is a programming error, caught at once
  std::string clean = value;
  std::replace(clean.begin(), clean.end(), '\n', ' ');  // one row, one line
  std::replace(clean.begin(), clean.end(), '\r', ' ');
  values_[column] = clean;
  return *this;
}

RowBuilder& RowBuilder::set(const std::string& column, double value) {
  if (std::isnan(value)) return set(column, std::string());
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", value);
  return set(column, std::string(text));
}

RowBuilder& RowBuilder::set_int(const std::string& column, long long value) {
  return set(column, std::to_string(value));
}

RowBuilder& RowBuilder::set_provenance(const Provenance& provenance, const LoadedPlugin* plugin, AttnbDevice device) {
  const std::vector<std::string> names = provenance_columns();
  const std::vector<std::string> values = provenance_values(provenance, plugin, device);
  for (std::size_t i = 0; i < names.size(); ++i) set(names[i], values[i]);
  return *this;
}

std::vector<std::string> RowBuilder::values() const {
  std::vector<std::string> row;
  for (const std::string& c : schema_->columns) {
    const auto it = values_.find(c);
    row.push_back(it == values_.end() ? "" : it->second);
  }
  return row;
}

std::string row_key(const ResultSchema& schema, const std::vector<std::string>& row) {
  std::string key;
  for (const std::string& c : schema.key_columns) key += row.at(schema.index(c)) + '\x1f';
  return key;
}

}  // namespace attnbench
