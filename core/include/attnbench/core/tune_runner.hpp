// `attnbench tune`: for one plugin and context length, the largest decode batch that fits a
// memory budget and keeps the p95 time per output token under a target, for a whole model
// (the preset's layers): every layer's KV cache counts against the budget, the one layer
// that is allocated also against the device's free memory (asked before allocating), and a
// token's time is one layer's decode step times the layers (attention only; the model's GEMMs
// are not in it). Found by search: doubling until a batch fails, then bisection.
#pragma once

#include <attnbench/core/bench_runner.hpp>

#include <functional>

namespace attnbench {

// The largest n in [1, limit] with fits(n), for a fits that holds up to some n and fails
// beyond it: doubling from 1 until it fails, then bisection between the last success and the
// first failure. 0 when fits(1) fails. Each n is asked at most once.
int64_t largest_fitting(int64_t limit, const std::function<bool(int64_t)>& fits);

struct TuneSettings {
  BenchSettings bench;         // timing and seed (its memory_budget is not used)
  std::size_t budget_bytes = 0;
  double tpot_target_s = 0;    // p95, whole model
  int32_t max_batch = 4096;
};

// The tune row of a decode case (its batch is what is searched).
std::vector<std::string> run_tune_case(const LoadedPlugin& plugin, const BenchCase& decode_case,
                                       const TuneSettings& settings, const Provenance& provenance,
                                       DeviceTimer& timer);

// The key of that row (see ResultSchema::key_columns), for --resume.
std::string tune_case_key(const BenchCase& decode_case, const TuneSettings& settings);

}  // namespace attnbench
