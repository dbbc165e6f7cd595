// Everything one bench case touches, allocated before anything is timed, the way a server
// pre-allocates: the KV pool (in the plugin's page format and size), the workspace the plugin
// asked for, random inputs, outputs and every page table the timed calls will use. The timed
// calls then only call the plugin.
//
// What a sample times (the same for every plugin):
//   prefill   append the prompt's K/V to the cache, then attend (causal) over it;
//   decode    append one token per sequence, then attend over `context` cached tokens;
//   generate  the prefill, then `steps` decode steps, each part timed on its own.
// Every sample rewrites exactly the same cache slots, so samples are alike.
#pragma once

#include <attnbench/core/bench_case.hpp>
#include <attnbench/core/buffer.hpp>
#include <attnbench/core/page_table.hpp>
#include <attnbench/core/random_source.hpp>
#include <attnbench/core/timing.hpp>
#include <attnbench/core/validation.hpp>

#include <memory>
#include <vector>

namespace attnbench {

class BenchWorkload {
 public:
  // Bytes the workload of `c` will allocate, asked of the plugin before anything is
  // allocated, so a memory budget can refuse it up front.
  static std::size_t planned_bytes(const LoadedPlugin& plugin, const BenchCase& c);

  // Allocates everything, applies the case's tunables, writes the inputs and, for decode,
  // the cached context. Throws OutOfMemory or std::bad_alloc when an allocation fails and
  // PluginError when the plugin refuses.
  BenchWorkload(const LoadedPlugin& plugin, const BenchCase& c, uint64_t seed);

  // One sample of the case's phase.
  Sample run(DeviceTimer& timer);

  // Runs the phase once, untimed, and compares the last call's output for sequence 0 (the
  // query heads that share KV head 0) with the fp64 reference on the same inputs.
  Comparison check(Tolerance tolerance);

  const AttnbProblem& problem() const { return problem_; }

 private:
  // The K or V value the cache holds for sequence 0, position t, KV head 0, element e.
  float cached_value(bool is_v, int64_t t, int32_t e) const;
  void fill_decode_context();
  AttnbAppendArgs append_args(const PagedKvView& view, const void* k, const void* v,
                              const Buffer& indptr_dev, const std::vector<int32_t>& indptr) const;
  void call(const PagedKvView& view, bool decode);
  AttnbDevice device() const { return c_.device; }

  BenchCase c_;
  AttnbProblem problem_;
  const RandomSource& source_;
  std::unique_ptr<AttentionOp> op_;
  std::size_t page_bytes_;
  int64_t num_pages_;
  Buffer pool_, workspace_;
  Buffer q_, o_, k_, v_;               // rows for every query / new token of one call
  Buffer template_k_, template_v_;     // decode: the tokens the cached context is tiled from
  int32_t template_pages_ = 0;
  std::vector<int32_t> prompt_indptr_, step_indptr_;  // [0, S, 2S ..] and [0, 1, 2 ..]
  Buffer prompt_indptr_dev_, step_indptr_dev_;
  std::vector<std::vector<int32_t>> pages_;            // each sequence's pages, final length
  std::vector<std::unique_ptr<PagedKvView>> views_;   // one per call of a sample
};

}  // namespace attnbench
