// The CPU path of int8_kv: plain C++ that quantizes tokens as they are appended and attends
// over the int8 pages, dequantizing each row as it is read (never a dequantized copy of the
// cache). It is the learning path and what CI checks; the CUDA kernels compute the same.
#pragma once

#include "int8_kv_format.hpp"

#include <attnbench/abi.h>

namespace attnbench::int8_kv {

void cpu_append(const AttnbProblem& problem, const Layout& layout, const AttnbAppendArgs& args);
// Prefill and decode are the same loop on the CPU: decode is one query per sequence.
void cpu_attend(const AttnbProblem& problem, const Layout& layout, const AttnbAttendArgs& args);

}  // namespace attnbench::int8_kv
