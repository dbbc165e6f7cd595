// Fresh random inputs: standard normal values, already rounded to the dtype a plugin will
// see, so the fp64 reference works on exactly the numbers the plugin got.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace attnbench {

std::vector<float> random_normal(std::size_t count, int32_t dtype, std::mt19937_64& rng);

// Rounds each value to `dtype` (fp32 leaves them as they are).
void round_to_dtype(std::vector<float>& values, int32_t dtype);

// Packs floats into a buffer of `dtype` elements, and back.
std::vector<uint8_t> pack_as(const std::vector<float>& values, int32_t dtype);
std::vector<float> unpack_from(const std::vector<uint8_t>& bytes, int32_t dtype);

std::vector<double> to_double(const std::vector<float>& values);

}  // namespace attnbench
