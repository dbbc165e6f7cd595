#include <attnbench/core/random_source.hpp>

#include <attnbench/core/random_tensor.hpp>
#include <attnbench/numeric.hpp>

#include <algorithm>
#include <random>
#include <stdexcept>

namespace attnbench {

RandomSource::RandomSource(int32_t dtype, uint64_t seed) : dtype_(dtype) {
  std::mt19937_64 rng(seed);
  values_ = random_normal(kPeriod, dtype, rng);
  std::vector<float> twice(values_);
  twice.insert(twice.end(), values_.begin(), values_.end());
  packed_ = pack_as(twice, dtype);
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
