// One plugin op on its CUDA path under the emulator, driven the way core's AttentionSession
// drives a real GPU, with host memory standing in for device memory (the emulated kernels
// run on the host) and harsher poison:
//   * every buffer a plugin sees sits between guard zones that must come back untouched;
//   * the page pool, the workspace and the outputs start as NaN (0xff bytes), so a kernel
//     that reads an unused page slot, a partial it did not write, or leaves an output
//     unwritten produces a NaN the comparison catches (core's pool uses finite garbage);
//   * pages no sequence owns must still be all NaN after every call.
#pragma once

#include <attnbench/core/loaded_plugin.hpp>
#include <attnbench/core/page_table.hpp>
#include <attnbench/core/session_ledger.hpp>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace attnbench::emulation {

// Host memory that a plugin treats as device memory: 256-byte aligned, guarded both sides.
class GuardedBuffer {
 public:
  explicit GuardedBuffer(std::size_t bytes, uint8_t fill = 0xff);
  void* data() const { return bytes_ ? storage_.get() + kGuard : nullptr; }
  std::size_t bytes() const { return bytes_; }
  // "" when both guard zones hold their pattern, else what was overwritten.
  std::string guard_damage() const;

  template <typename T>
  static GuardedBuffer of(const std::vector<T>& values) {
    GuardedBuffer b(values.size() * sizeof(T));
    std::copy(values.begin(), values.end(), static_cast<T*>(b.data()));
    return b;
  }

 private:
  static constexpr std::size_t kGuard = 4096;
  static constexpr uint8_t kGuardByte = 0xfe;
  struct Free {
    void operator()(unsigned char* p) const { std::free(p); }
  };
  std::unique_ptr<unsigned char, Free> storage_;
  std::size_t bytes_;
};

class EmulatedSession {
 public:
  // `problem` must ask for the CUDA device; the pool has `num_pages` pages, shuffled by `seed`.
  EmulatedSession(const LoadedPlugin& plugin, const AttnbProblem& problem, int64_t num_pages,
                  uint64_t seed);

  // As AttentionSession: new_tokens[b] tokens for sequence b, k and v [sum, Hkv, D].
  void append(const std::vector<int32_t>& new_tokens, const std::vector<float>& k,
              const std::vector<float>& v);
  // q_lens[b] queries per sequence (the newest positions), q [sum, Hq, D]; decode has all 1.
  std::vector<float> attend(const std::vector<int32_t>& q_lens, const std::vector<float>& q,
                            bool decode);
  // The fp64 reference of that call over everything appended (K/V as given, unrounded).
  std::vector<double> reference(const std::vector<int32_t>& q_lens,
                                const std::vector<float>& q) const;

  AttentionOp& op() { return *op_; }

 private:
  // Throws std::runtime_error naming the damage if a guard or an unowned page changed.
  void check_memory(const char* call, const std::vector<const GuardedBuffer*>& inputs) const;

  AttnbProblem problem_;
  std::unique_ptr<AttentionOp> op_;
  int64_t num_pages_;
  std::size_t page_bytes_;
  GuardedBuffer pool_, workspace_;
  SessionLedger ledger_;
};

}  // namespace attnbench::emulation
