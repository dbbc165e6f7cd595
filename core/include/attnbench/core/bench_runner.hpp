// Runs one bench case end to end and turns it into one result row: refuse what the plugin
// cannot do (unsupported), refuse what does not fit the budget or the device's free memory
// (oom, decided from the planned bytes before allocating), allocate, check against the fp64
// reference, time, and compute the metrics. A plugin's failure becomes a row, never an
// exception; only a crash of the process itself escapes (see `bench --isolate`).
#pragma once

#include <attnbench/core/bench_case.hpp>
#include <attnbench/core/provenance.hpp>
#include <attnbench/core/timing.hpp>
#include <attnbench/core/validation.hpp>

#include <string>
#include <vector>

namespace attnbench {

struct BenchSettings {
  TimingPolicy timing;
  std::size_t memory_budget = 0;  // bytes a case may allocate; 0: no limit
  uint64_t seed = 1;
};

// Bytes in use on `device` as the driver (GPU) or the kernel (CPU: resident set) sees them.
// A row's driver_bytes is the growth of this during the case (on the CPU: of the kernel's
// peak resident set), next to the host's own exact accounting (peak_bytes).
std::size_t device_bytes_in_use(AttnbDevice device);

// The row of a case that ran (status ok) or could not (unsupported, oom, error).
std::vector<std::string> run_bench_case(const LoadedPlugin& plugin, const BenchCase& c,
                                        const BenchSettings& settings, const Provenance& provenance,
                                        DeviceTimer& timer);

// The key of a case's row (see ResultSchema::key_columns), for --resume.
std::string bench_case_key(const BenchCase& c);

// The row of a case with only a status and a message (e.g. crashed in a child process).
std::vector<std::string> bench_status_row(const LoadedPlugin& plugin, const BenchCase& c,
                                          const Provenance& provenance, const std::string& status,
                                          const std::string& message);

}  // namespace attnbench
