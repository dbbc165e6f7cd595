// The MHA plugin's CUDA path: the textbook three stages (scores, softmax, values), each its
// own kernel, with the score matrix in the workspace. Deliberately plain: it is the baseline
// the fused kernel is measured against.
#pragma once

#include <attnbench/abi.h>

#include <cstddef>

namespace attnbench::mha {

// Bytes of fp32 scores for max_q_tokens x num_q_heads x max_kv_len.
std::size_t cuda_workspace_bytes(const AttnbProblem& problem);
void cuda_attend(const AttnbProblem& problem, const AttnbAttendArgs& args);

}  // namespace attnbench::mha
