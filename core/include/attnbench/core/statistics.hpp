// Order statistics over repeated measurements, defined once: every median, p95 and p99 the
// harness reports (bench, tune, serve) comes from here.
#pragma once

#include <vector>

namespace attnbench {

// The p-th percentile (0..100) by linear interpolation between order statistics (the
// "linear" method of NumPy); NaN for an empty sample.
double percentile(std::vector<double> values, double p);

struct Summary {
  std::size_t count = 0;
  double min = 0, max = 0, mean = 0, stddev = 0;
  double p50 = 0, p95 = 0, p99 = 0;
  double relative_noise() const { return p50 > 0 ? stddev / p50 : 0; }  // stddev / median
};

Summary summarize(const std::vector<double>& values);

}  // namespace attnbench
