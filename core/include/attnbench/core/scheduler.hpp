// Continuous batching over a KvPool, step by step, the way serving engines schedule:
//  1. every running sequence needs room for one more token; while the pool lacks the pages,
//     the youngest running sequence is preempted: its pages are freed and it goes back to the
//     front of the queue, to be recomputed from scratch (prompt + tokens generated so far);
//  2. waiting requests are admitted in arrival order while a sequence slot, the step's prefill
//     token budget and the pool's pages allow (keeping one page for each running sequence
//     about to cross a page boundary, so an admission is not preempted at once);
//  3. one prefill call for the admitted sequences (append their K/V, attend), and one decode
//     call for all running sequences in one ragged batch, each at its own position;
//  4. sequences that produced their last token are retired and their pages freed.
// A prefill produces a sequence's first token (time to first token); each decode step one more.
//
// A step allocates nothing (the pool, batches and buffers were sized up front; checking
// outputs aside); submitting a request does.
//
// Time is the engine clock: the scheduling decisions and the plugin calls of each step (page
// tables published, append_kv, prefill, decode), measured with the steady clock around a
// device synchronize. Making the synthetic inputs and checking outputs are outside it, as a
// real model's other layers would be.
#pragma once

#include <attnbench/core/buffer.hpp>
#include <attnbench/core/kv_pool.hpp>
#include <attnbench/core/loaded_plugin.hpp>
#include <attnbench/core/page_table.hpp>
#include <attnbench/core/validation.hpp>
#include <attnbench/core/workload.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace attnbench {

struct SchedulerConfig {
  int32_t max_batch = 16;           // running sequences at once: the largest decode batch
  int32_t max_prefill_tokens = 512; // query tokens the prefills of one step may hold; at least
                                    // the longest sequence, so any recompute fits
  bool verify = false;              // check every output row against the fp64 reference
};

// When things happened to one request, on the engine clock.
struct RequestTiming {
  int32_t id = 0;
  int32_t prompt_len = 0, output_len = 0;
  double arrival_s = 0, first_token_s = 0, finish_s = 0;
  int32_t preemptions = 0;

  double ttft_s() const { return first_token_s - arrival_s; }
  // Time per output token after the first; 0 for a single-token request.
  double tpot_s() const { return output_len > 1 ? (finish_s - first_token_s) / (output_len - 1) : 0; }
};

struct StepReport {
  int32_t prefill_sequences = 0, prefill_tokens = 0;
  int32_t decode_sequences = 0;
  int32_t preempted = 0, finished = 0;
  double seconds = 0;
};

// Outputs checked against the reference (every query row the plugin computed).
struct VerifyReport {
  int64_t rows_checked = 0, rows_failed = 0;
  double max_abs_error = 0;
  std::string first_failure;  // which request, position and error, for the log
  bool passed() const { return rows_failed == 0; }
};

struct ServeStats {
  std::vector<RequestTiming> requests;  // in finishing order
  int64_t steps = 0, preemptions = 0;
  int64_t prefill_tokens = 0;           // recomputed tokens included
  int64_t decode_tokens = 0;
  double busy_s = 0;                    // engine time spent in steps
  double end_s = 0;                     // engine clock when the last request finished
  VerifyReport verify;
};

class Scheduler {
 public:
  // `problem` is what the plugin runs: its max_batch and max_q_tokens must cover the config,
  // its max_kv_len the longest request, and `pool` must have been sized with the plugin's
  // kv_page_bytes for the problem's page size. Throws std::invalid_argument otherwise.
  Scheduler(const LoadedPlugin& plugin, const AttnbProblem& problem, KvPool& pool,
            const SyntheticTokens& tokens, SchedulerConfig config);
  ~Scheduler();

  // Queues an arrived request. std::invalid_argument when it can never run: longer than the
  // problem's max_kv_len, or more pages than the whole pool.
  void submit(const Request& request);
  // Runs one step (needs something queued or running) and advances the clock by its time.
  StepReport step();
  bool idle() const { return waiting_.empty() && running_.empty(); }
  double now() const { return now_; }
  // Moves the clock forward to `t` while idle (the next arrival).
  void wait_until(double t);

  // Runs `workload` (in arrival order) to the end, calling `on_finish` as each request finishes.
  ServeStats run(const std::vector<Request>& workload,
                 const std::function<void(const RequestTiming&)>& on_finish = {});

  const ServeStats& stats() const { return stats_; }

  // Called with the output row that produced each generated token (token k of a request is
  // the attention output at position prompt_len - 1 + k), as the steps produce them; every
  // (request, k) comes exactly once, also when preemption recomputed the sequence. Costs a
  // copy of the outputs back to the host every step.
  using OutputSink = std::function<void(const Request& request, int32_t token, const std::vector<float>& row)>;
  void set_output_sink(OutputSink sink) { output_sink_ = std::move(sink); }

 private:
  struct Sequence;
  struct CallBuffers;

  void check_request(const Request& request) const;
  void make_room_for_decode(StepReport& report);
  void admit(StepReport& report);
  void preempt_youngest();
  void stage(CallBuffers& call, const std::vector<Sequence*>& sequences);
  void inspect_outputs(CallBuffers& call, const std::vector<Sequence*>& sequences);
  void check_row(const Sequence& s, int64_t position, const std::vector<float>& got,
                 const std::vector<double>& want);

  AttnbProblem problem_;
  KvPool& pool_;
  const SyntheticTokens& tokens_;
  SchedulerConfig config_;
  std::unique_ptr<AttentionOp> op_;
  Buffer workspace_;
  std::unique_ptr<CallBuffers> prefill_, decode_;
  Tolerance tolerance_;

  std::vector<std::unique_ptr<Sequence>> sequences_;  // every submitted request
  std::vector<Sequence*> waiting_;                   // the next to admit last
  std::vector<Sequence*> running_;                   // in admission order: youngest last
  std::vector<Sequence*> prefill_batch_, decode_batch_;
  double now_ = 0;
  ServeStats stats_;
  OutputSink output_sink_;
};

}  // namespace attnbench
