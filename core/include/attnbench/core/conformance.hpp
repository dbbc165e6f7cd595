// The conformance suite `attnbench check` runs on one plugin file, for its author: does the
// host load it, does it negotiate as the ABI says, does it tell the truth about what it can
// do (what it accepts works, what it refuses is refused with a reason), are its prefill and
// decode right on every device it claims, do its tunables keep results right, and does its
// hot path stay off the heap. Every check ends in one line: PASS, FAIL or SKIP, and why.
#pragma once

#include <attnbench/abi.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace attnbench {

enum class Verdict { kPass, kFail, kSkip };
const char* verdict_name(Verdict verdict);  // "PASS", "FAIL", "SKIP"

struct CheckLine {
  Verdict verdict = Verdict::kPass;
  std::string check;   // which check: "negotiation", "descriptor", "refuses", ...
  std::string detail;  // one line: what was seen, or why it was skipped
};

// The file is missing, not a loadable shared library, or exports no entry symbol: not a
// plugin at all (bad input), as opposed to a plugin that fails a check.
struct NotAPlugin : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct ConformanceOptions {
  // Where cases run. A device the plugin claims but that is not listed is skipped, saying
  // why (no GPU here, or not selected).
  std::vector<AttnbDevice> devices = {ATTNB_DEVICE_CPU};
  uint64_t seed = 1;
  int32_t page_size = 16;
};

// Runs every check on the plugin in `file`, handing each line to `report` as soon as it is
// decided. Returns true when no line is a FAIL. Throws NotAPlugin before any line.
bool check_conformance(const std::filesystem::path& file, const ConformanceOptions& options,
                       const std::function<void(const CheckLine&)>& report);

}  // namespace attnbench
