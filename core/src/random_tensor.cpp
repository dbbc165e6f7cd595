#include <attnbench/core/random_tensor.hpp>
#include <attnbench/numeric.hpp>

namespace attnbench {

std::vector<float> random_normal(std::size_t count, int32_t dtype, std::mt19937_64& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> values(count);
  for (float& x : values) x = normal(rng);
  round_to_dtype(values, dtype);
  return values;
}

void round_to_dtype(std::vector<float>& values, int32_t dtype) {
  if (dtype == ATTNB_DTYPE_F16)
    for (float& x : values) x = half_to_float(float_to_half(x));
  else if (dtype == ATTNB_DTYPE_BF16)
    for (float& x : values) x = bf16_to_float(float_to_bf16(x));
}

std::vector<uint8_t> pack_as(const std::vector<float>& values, int32_t dtype) {
  std::vector<uint8_t> bytes(values.size() * dtype_size(dtype));
  for (std::size_t i = 0; i < values.size(); ++i) store_from_float(bytes.data(), dtype, i, values[i]);
  return bytes;
}

std::vector<float> unpack_from(const std::vector<uint8_t>& bytes, int32_t dtype) {
  std::vector<float> values(bytes.size() / dtype_size(dtype));
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = load_as_float(bytes.data(), dtype, i);
  return values;
}

std::vector<double> to_double(const std::vector<float>& values) {
  return std::vector<double>(values.begin(), values.end());
}

}  // namespace attnbench
