// What an op's decode must wait for: the keys its last appends may still be writing when the
// decode kernel starts early (launch_dependent, cuda_common.cuh). Counted on the host from
// append_kv's arguments; an attend call takes the count and starts it again at 0.
#pragma once

#include <attnbench/abi.h>

#include <algorithm>
#include <cstdint>
#include <utility>

namespace attnbench::plain_kv {

class FreshKeys {
 public:
  // After an append_kv: its most new tokens in one sequence are the last keys of that
  // sequence a following decode must not read before the append ends.
  void appended(const AttnbAppendArgs& a) {
    int32_t most = 0;
    for (int32_t b = 0; b < a.cache->batch; ++b)
      most = std::max(most, a.new_indptr_host[b + 1] - a.new_indptr_host[b]);
    fresh_ += most;
  }
  // At an attend call: the last keys of every sequence to wait for, and none after it.
  int32_t take() { return std::exchange(fresh_, 0); }

 private:
  int32_t fresh_ = 0;
};

}  // namespace attnbench::plain_kv
