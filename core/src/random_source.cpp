#include <attnbench/core/random_source.hpp>

#include <attnbench/core/random_tensor.hpp>
#include <attnbench/numeric.hpp>

#include <algorithm>
#include <map>
#include <memory>
#include <random>
#include <stdexcept>

namespace attnbench {

RandomSource::RandomSource(int32_t dtype, uint64_t seed) : dtype_(dtype) {
  std::mt19937_64 rng(seed);
  values_ = random_normal(kPeriod, dtype, rng);
  packed_ = pack_as(values_, dtype);
  const std::size_t once = packed_.size();
  packed_.resize(2 * once);
  std::copy_n(packed_.begin(), once, packed_.begin() + static_cast<long>(once));
}

const RandomSource& shared_random_source(int32_t dtype, uint64_t seed) {
  static std::map<std::pair<int32_t, uint64_t>, std::unique_ptr<RandomSource>> sources;
  auto& source = sources[{dtype, seed}];
  if (!source) source = std::make_unique<RandomSource>(dtype, seed);
  return *source;
}

void RandomSource::fill(Buffer& buffer, std::size_t count, std::size_t salt, std::size_t offset) const {
  const std::size_t elem = dtype_size(dtype_);
  if (offset + count * elem > buffer.bytes())
    throw std::out_of_range("RandomSource::fill: past the end of the buffer");
  for (std::size_t done = 0; done < count;) {
    const std::size_t start = (done + salt) % kPeriod;
    const std::size_t n = std::min(kPeriod, count - done);
    buffer.upload(packed_.data() + start * elem, n * elem, offset + done * elem);
    done += n;
  }
}

}  // namespace attnbench
