// fused: flash-style attention. Prefill fuses QK^T, an online softmax and PV tile by tile,
// never materializing the score matrix; decode splits long contexts across blocks and
// merges the partial results by log-sum-exp (flash-decoding). Any group size (MHA, GQA,
// MQA), causal and sliding-window masks, tunable tile sizes and split count.
#include "cpu_flash_attention.hpp"
#include "../common/fresh_keys.hpp"
#include "fused_tunables.hpp"

#include "../common/cpu_paged_attention.hpp"
#include "../common/plain_kv_layout.hpp"

#include <attnbench/plugin.hpp>

#include <cstdint>
#include <string>

#ifdef ATTNB_WITH_CUDA
#include "../common/cuda_common.cuh"
#include "fused_cuda.hpp"
#endif

namespace {

using namespace attnbench;

class FusedPlugin : public PluginBase {
 public:
  static const AttnbDescriptor& descriptor() {
    static const int32_t head_dims[] = {64, 128};
    static std::size_t num_tunables = 0;
    static const AttnbTunable* tunables = fused::tunable_table(&num_tunables);
    static const AttnbDescriptor d = {
        sizeof(AttnbDescriptor),
        "fused",
        "1.0.0",
        "Flash attention: fused tensor-core prefill, split-KV decode; any group size, windows",
        ATTNB_BIT(ATTNB_DEVICE_CPU) | ATTNB_BIT(ATTNB_DEVICE_CUDA),
        ATTNB_BIT(ATTNB_DTYPE_F32) | ATTNB_BIT(ATTNB_DTYPE_F16) | ATTNB_BIT(ATTNB_DTYPE_BF16),
        ATTNB_BIT(ATTNB_DTYPE_F16) | ATTNB_BIT(ATTNB_DTYPE_BF16),
        ATTNB_BIT(ATTNB_DTYPE_F32) | ATTNB_BIT(ATTNB_DTYPE_F16) | ATTNB_BIT(ATTNB_DTYPE_BF16),
        head_dims,
        2,
        1,
        0,
        0,
        ATTNB_FLAG_CAUSAL | ATTNB_FLAG_NON_CAUSAL | ATTNB_FLAG_SLIDING_WINDOW,
        tunables,
        num_tunables};
    return d;
  }

  static void can_implement(const AttnbProblem& p) {
    if (p.kv_cache_dtype != p.dtype) throw Unsupported("the cache stores the query dtype");
#ifndef ATTNB_WITH_CUDA
    if (p.device == ATTNB_DEVICE_CUDA) throw Unsupported("built without CUDA");
#endif
  }

  static std::size_t workspace_bytes(const AttnbProblem& p) {
#ifdef ATTNB_WITH_CUDA
    if (p.device == ATTNB_DEVICE_CUDA) return fused::cuda_workspace_bytes(p);
#endif
    return fused::cpu_workspace_bytes(p);
  }

  explicit FusedPlugin(const AttnbProblem& p) : problem_(p) {
#ifdef ATTNB_WITH_CUDA
    if (p.device == ATTNB_DEVICE_CUDA) {
      sm_count_ = fused::cuda_sm_count();
      split_counters_ = fused::cuda_split_counters(p);
    }
#endif
  }

  void set_tunable(const char* name, int64_t value) { fused::set_tunable(tunables_, name, value); }

  void append_kv(const AttnbAppendArgs& a) {
#ifdef ATTNB_WITH_CUDA
    if (problem_.device == ATTNB_DEVICE_CUDA) {
      plain_kv::cuda_append(problem_, a);
      return fresh_keys_.appended(a);
    }
#endif
    plain_kv::cpu_append(problem_, a);
  }

  void prefill(const AttnbAttendArgs& a) {
    check_attend_args(a, false);
    fresh_keys_.take();  // prefill starts after the append, as any kernel
#ifdef ATTNB_WITH_CUDA
    if (problem_.device == ATTNB_DEVICE_CUDA) return fused::cuda_prefill(problem_, tunables_, a);
#endif
    fused::cpu_prefill(problem_, tunables_, a);
  }

  void decode(const AttnbAttendArgs& a) {
    check_attend_args(a, true);
#ifdef ATTNB_WITH_CUDA
    if (problem_.device == ATTNB_DEVICE_CUDA)
      return fused::cuda_decode(problem_, tunables_, sm_count_, split_counters_, fresh_keys_.take(), a);
#endif
    fused::cpu_decode(problem_, tunables_, a);
  }

 private:
  // What the kernels rely on, checked on the host mirrors before anything is launched.
  void check_attend_args(const AttnbAttendArgs& a, bool decode) const {
    const AttnbPagedKv* cache = a.cache;
    if (!cache || !cache->pages || !a.q || !a.o)
      throw Error(ATTNB_ERR_INVALID_ARGUMENT, "cache, q or o is NULL");
    if (cache->page_bytes < plain_kv_page_bytes(problem_))
      throw Error(ATTNB_ERR_OUT_OF_MEMORY, "cache pages are smaller than kv_page_bytes()");
    if (cache->batch > problem_.max_batch)
      throw Error(ATTNB_ERR_INVALID_ARGUMENT, "batch of " + std::to_string(cache->batch) +
                                                  " above max_batch " +
                                                  std::to_string(problem_.max_batch));
    if (!decode && !a.q_indptr_host)
      throw Error(ATTNB_ERR_INVALID_ARGUMENT, "prefill needs q_indptr");
    if (a.workspace_bytes < workspace_bytes(problem_))
      throw Error(ATTNB_ERR_OUT_OF_MEMORY, "workspace smaller than workspace_bytes()");
    const uintptr_t addresses = reinterpret_cast<uintptr_t>(cache->pages) |
                                reinterpret_cast<uintptr_t>(a.q) | reinterpret_cast<uintptr_t>(a.o);
    if (problem_.device == ATTNB_DEVICE_CUDA &&
        (cache->page_bytes % 16 != 0 || addresses % 16 != 0))
      throw Error(ATTNB_ERR_INVALID_ARGUMENT, "pages, page_bytes, q and o must be 16-byte aligned");
    int64_t tokens = 0;
    for (int32_t b = 0; b < cache->batch; ++b) {
      const int32_t q_len = a.q_indptr_host ? a.q_indptr_host[b + 1] - a.q_indptr_host[b] : 1;
      const int64_t kv_len = plain_kv::sequence_length(
          cache->page_indptr_host, cache->last_page_len_host, problem_.page_size, b);
      if (q_len < 0 || q_len > kv_len)
        throw Error(ATTNB_ERR_INVALID_ARGUMENT, "sequence " + std::to_string(b) + " has " +
                                                    std::to_string(q_len) + " queries but " +
                                                    std::to_string(kv_len) + " cached tokens");
      if (decode && q_len != 1)
        throw Error(ATTNB_ERR_INVALID_ARGUMENT, "decode takes one query per sequence");
      tokens += q_len;
    }
    if (tokens > problem_.max_q_tokens)
      throw Error(ATTNB_ERR_INVALID_ARGUMENT, "more query tokens than max_q_tokens");
  }

  AttnbProblem problem_;
  fused::Tunables tunables_;
  int32_t sm_count_ = 0;
  plain_kv::FreshKeys fresh_keys_;  // what a CUDA decode launched early must wait for
#ifdef ATTNB_WITH_CUDA
  fused::SplitCounters split_counters_;  // device memory: max_batch x KV heads x head chunks
#endif
};

}  // namespace

ATTNB_PLUGIN(FusedPlugin)
