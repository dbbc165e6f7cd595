#include <attnbench/core/workload.hpp>

#include <attnbench/numeric.hpp>

#include <cmath>
#include <limits>
#include <stdexcept>

namespace attnbench {

namespace {

// SplitMix64's finalizer: neighbouring inputs give unrelated outputs.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

int32_t parse_length(const std::string& item, const std::string& expected) {
  std::size_t used = 0;
  long long value = 0;
  try {
    value = std::stoll(item, &used);
  } catch (const std::exception&) {
    throw std::invalid_argument(expected);
  }
  if (used != item.size() || value < 1 || value > (1 << 30)) throw std::invalid_argument(expected);
  return static_cast<int32_t>(value);
}

}  // namespace

LengthDistribution LengthDistribution::parse(const std::string& text) {
  const std::string expected =
      "expected a length N or uniform:MIN:MAX with 1 <= MIN <= MAX, got '" + text + "'";
  const std::string prefix = "uniform:";
  if (text.rfind(prefix, 0) != 0) {
    const int32_t n = parse_length(text, expected);
    return {n, n};
  }
  const std::string rest = text.substr(prefix.size());
  const auto colon = rest.find(':');
  if (colon == std::string::npos) throw std::invalid_argument(expected);
  LengthDistribution d{parse_length(rest.substr(0, colon), expected),
                       parse_length(rest.substr(colon + 1), expected)};
  if (d.min > d.max) throw std::invalid_argument(expected);
  return d;
}

int32_t LengthDistribution::draw(std::mt19937_64& rng) const {
  return min == max ? min : std::uniform_int_distribution<int32_t>(min, max)(rng);
}

std::string LengthDistribution::text() const {
  return min == max ? std::to_string(min)
                    : "uniform:" + std::to_string(min) + ":" + std::to_string(max);
}

std::vector<Request> make_workload(const WorkloadSpec& spec) {
  std::mt19937_64 rng(spec.seed);
  std::vector<Request> requests(static_cast<std::size_t>(spec.requests));
  double clock = 0;
  for (int32_t i = 0; i < spec.requests; ++i) {
    Request& r = requests[static_cast<std::size_t>(i)];
    // Poisson arrivals: exponential gaps, the first request at time 0.
    if (i > 0 && std::isfinite(spec.rate)) clock += std::exponential_distribution<double>(spec.rate)(rng);
    r.id = i;
    r.arrival_s = clock;
    r.prompt_len = spec.prompt.draw(rng);
    r.output_len = spec.output.draw(rng);
    r.seed = mix(spec.seed ^ mix(static_cast<uint64_t>(i)));
  }
  return requests;
}

SyntheticTokens::SyntheticTokens(int32_t dtype, int32_t num_q_heads, int32_t num_kv_heads,
                                 int32_t head_dim, uint64_t seed)
    : q_row_(static_cast<std::size_t>(num_q_heads) * head_dim),
      kv_row_(static_cast<std::size_t>(num_kv_heads) * head_dim), source_(dtype, seed) {}

std::size_t SyntheticTokens::salt(Tensor t, uint64_t request_seed, int64_t position) const {
  return mix(request_seed ^ mix(static_cast<uint64_t>(position) * 3 + t)) % RandomSource::kPeriod;
}

void SyntheticTokens::fill(Tensor t, uint64_t request_seed, int64_t first, int64_t count,
                           Buffer& buffer, std::size_t at) const {
  const std::size_t row = row_elements(t), row_bytes = row * dtype_size(source_.dtype());
  for (int64_t i = 0; i < count; ++i)
    source_.fill(buffer, row, salt(t, request_seed, first + i), (at + static_cast<std::size_t>(i)) * row_bytes);
}

void SyntheticTokens::append_values(Tensor t, uint64_t request_seed, int64_t first, int64_t count,
                                    std::vector<double>& out) const {
  const std::size_t row = row_elements(t);
  for (int64_t i = 0; i < count; ++i) {
    const std::size_t s = salt(t, request_seed, first + i);
    for (std::size_t j = 0; j < row; ++j) out.push_back(source_.value(j, s));
  }
}

}  // namespace attnbench
