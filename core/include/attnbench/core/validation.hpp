// Checking a plugin against the fp64 reference: the tolerances, the comparison and the
// standard set of cases `attnbench validate` runs.
#pragma once

#include <attnbench/abi.h>
#include <attnbench/core/loaded_plugin.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace attnbench {

// |got - ref| <= atol + rtol * |ref| for every element, and no NaN.
struct Tolerance {
  double atol = 0;
  double rtol = 0;
};

// Per output dtype: a few units of its rounding error, since the output itself is rounded
// to it and fp16/bf16 kernels also round the softmax weights before the value product.
Tolerance tolerance_for(int32_t dtype);

// For outputs over a cache that stores `kv_cache_dtype`: the dtype's tolerance, plus, for an
// int8 cache, the error its rounding causes (derived in validation.cpp and
// plugins/int8_kv/README.md; it assumes inputs like validate's, standard normal).
Tolerance tolerance_for(int32_t dtype, int32_t kv_cache_dtype);

struct Comparison {
  double max_abs_error = 0;
  double rel_l2_error = 0;     // ||got - ref|| / ||ref||
  std::size_t violations = 0;  // elements outside the tolerance (NaN counts)
  std::size_t elements = 0;
  bool passed() const { return violations == 0 && elements > 0; }
};

Comparison compare(const std::vector<float>& got, const std::vector<double>& ref, Tolerance tol);

// A problem with every struct field set; max_* are the bounds calls will stay within.
AttnbProblem make_problem(AttnbDevice device, int32_t dtype, int32_t num_q_heads,
                          int32_t num_kv_heads, int32_t head_dim, bool causal, int32_t window,
                          int32_t max_batch, int32_t max_q_tokens, int32_t max_kv_len,
                          int32_t page_size = 16);

// The cache dtype a plugin stores for queries of `dtype`: the same dtype when it can, else
// its quantized format (int8) when it declares one.
int32_t kv_cache_dtype_for(const AttnbDescriptor& d, int32_t dtype);

// One call shape: sequence b has kv_lens[b] tokens after the call, of which q_lens[b] are
// new (prefill appends them and attends with them; decode has q_lens all 1).
struct ValidationCase {
  std::string name;
  bool decode = false;
  std::vector<int32_t> kv_lens;
  std::vector<int32_t> q_lens;
};

// The cases validate runs for a configuration: a single prompt, a ragged batch with a
// chunked-prefill sequence, and a continuous-batching decode with sequences at different
// positions around page boundaries.
std::vector<ValidationCase> standard_cases();

struct CaseOutcome {
  Comparison comparison;
  Tolerance tolerance;
  std::string error;  // non-empty when the plugin call itself failed
  bool passed() const { return error.empty() && comparison.passed(); }
};

// Appends each sequence's cached prefix, then its new tokens, then runs the call on fresh
// random inputs and compares the result with the reference. `problem` gives heads, dtype and
// masks; its max_* are set from the case.
// `tunables` (ABI 1.1, name and value) are set on the op before the case's calls.
CaseOutcome run_case(const LoadedPlugin& plugin, AttnbProblem problem, const ValidationCase& c,
                     uint64_t seed, const std::vector<std::pair<std::string, int64_t>>& tunables = {});

// ---- Accuracy of a quantized cache (`attnbench validate --accuracy`) ----

// How far outputs are from a reference: the largest element error, the relative L2 error
// over all outputs, and the worst cosine similarity of one output row (a query head's
// row_len values) with its reference row.
struct Accuracy {
  double max_abs = 0;
  double rel_l2 = 0;
  double worst_cosine = 1;
};
Accuracy accuracy_of(const std::vector<float>& got, const std::vector<double>& ref, int32_t row_len);

// Inputs of an accuracy case: standard normal Q, K, V; or the same with a few K channels of
// every KV head scaled x10..x50, like the outlier channels of real keys.
enum class KvData { kRandom, kOutlierKeyChannels };
const char* kv_data_name(KvData data);

struct AccuracyOutcome {
  Accuracy vs_fp64;             // the plugin against the fp64 reference on the exact inputs
  Accuracy vs_fp16_cache;       // against attention over K/V rounded to fp16: an ideal fp16 cache
  Accuracy fp16_cache_vs_fp64;  // what that fp16 cache itself loses, for scale
  std::string error;            // non-empty when a plugin call failed
};

// The study's shapes: a 512-token prompt prefilled, and a decode batch at 1k..4k tokens (one
// sequence opens a new page with its decoded token).
std::vector<ValidationCase> accuracy_cases();

// Runs case `c` like run_case, on `data`, and measures the output against both references.
AccuracyOutcome run_accuracy_case(const LoadedPlugin& plugin, AttnbProblem problem,
                                  const ValidationCase& c, KvData data, uint64_t seed);

}  // namespace attnbench
