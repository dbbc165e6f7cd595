// The CPU path of the plain-format plugins: readable C++ that appends tokens to pages and
// attends over them, one query position and KV head at a time with all the query heads of
// its group, reading only the keys each query may see.
#pragma once

#include <attnbench/abi.h>

#include <cstddef>

namespace attnbench::plain_kv {

void cpu_append(const AttnbProblem& problem, const AttnbAppendArgs& args);
// Scratch cpu_attend takes from the workspace (it never allocates).
std::size_t cpu_workspace_bytes(const AttnbProblem& problem);
// Prefill and decode are the same loop on the CPU: decode is one query per sequence.
void cpu_attend(const AttnbProblem& problem, const AttnbAttendArgs& args);

}  // namespace attnbench::plain_kv
