// A serving workload: requests with arrival times and prompt / output lengths, and the
// synthetic tensors that stand in for their tokens. There is no model, so the Q, K and V rows
// of position p of a request are a fixed function of (request seed, p): a sequence that is
// preempted and recomputed sees exactly the same inputs, and any output can be checked
// against the fp64 reference over that sequence's prefix.
#pragma once

#include <attnbench/core/buffer.hpp>
#include <attnbench/core/random_source.hpp>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace attnbench {

// A token count, fixed ("128") or drawn uniformly from MIN..MAX inclusive ("uniform:64:256").
struct LengthDistribution {
  int32_t min = 1, max = 1;

  // std::invalid_argument saying what is expected for anything else (or a length < 1).
  static LengthDistribution parse(const std::string& text);
  int32_t draw(std::mt19937_64& rng) const;
  std::string text() const;
};

struct Request {
  int32_t id = 0;
  double arrival_s = 0;   // on the engine clock
  int32_t prompt_len = 1;
  int32_t output_len = 1; // tokens to generate; the first comes from the prefill
  uint64_t seed = 0;      // of its synthetic tokens

  // Tokens the sequence holds when it finishes: the prompt and every generated token but the
  // last (which is produced, not fed back).
  int64_t final_length() const { return static_cast<int64_t>(prompt_len) + output_len - 1; }
};

struct WorkloadSpec {
  int32_t requests = 16;
  double rate = 0;  // requests per second, Poisson arrivals; infinity: all at time 0
  LengthDistribution prompt{128, 128};
  LengthDistribution output{32, 32};
  uint64_t seed = 1;
};

// Requests in arrival order, ids 0.. in that order; the same spec gives the same workload.
std::vector<Request> make_workload(const WorkloadSpec& spec);

// The Q, K and V rows of every position of every request, rounded to the dtype.
class SyntheticTokens {
 public:
  enum Tensor { kQ = 0, kK = 1, kV = 2 };

  SyntheticTokens(int32_t dtype, int32_t num_q_heads, int32_t num_kv_heads, int32_t head_dim,
                  uint64_t seed);

  // Elements of one row: heads * head_dim.
  std::size_t row_elements(Tensor t) const { return t == kQ ? q_row_ : kv_row_; }
  // Writes the rows of positions [first, first + count) of request `request_seed` into
  // `buffer` (in the dtype), starting at row `at` of the buffer.
  void fill(Tensor t, uint64_t request_seed, int64_t first, int64_t count, Buffer& buffer,
            std::size_t at) const;
  // Appends the same rows, as the plugin sees them, to `out`.
  void append_values(Tensor t, uint64_t request_seed, int64_t first, int64_t count,
                     std::vector<double>& out) const;

 private:
  std::size_t salt(Tensor t, uint64_t request_seed, int64_t position) const;
  std::size_t q_row_, kv_row_;
  RandomSource source_;
};

}  // namespace attnbench
