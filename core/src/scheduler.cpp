#include <attnbench/core/scheduler.hpp>

#include <attnbench/core/reference_attention.hpp>
#include <attnbench/numeric.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <stdexcept>

namespace attnbench {

namespace {
double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}
}  // namespace

// A request inside the scheduler.
struct Scheduler::Sequence {
  Request request;
  RequestTiming timing;
  int32_t generated = 0;   // tokens produced so far
  int32_t slot = -1;       // its pool sequence while running, -1 otherwise
  int32_t new_tokens = 0;  // tokens this step appends and queries

  // Its length once the next step is done: a fresh or recomputed sequence is prefilled with
  // its prompt and every token generated so far; a running one grows by one.
  int64_t next_length() const { return static_cast<int64_t>(request.prompt_len) + generated; }
};

// The inputs and outputs of one call (the step's prefill or its decode), allocated once for
// the most rows the call can have, so a step allocates nothing.
struct Scheduler::CallBuffers {
  CallBuffers(AttnbDevice device, int32_t max_batch, int64_t max_pages, std::size_t rows,
              std::size_t q_row_bytes, std::size_t kv_row_bytes)
      : batch(device, max_batch, max_pages),
        q(device, rows * q_row_bytes), k(device, rows * kv_row_bytes),
        v(device, rows * kv_row_bytes), o(device, rows * q_row_bytes),
        o_host(rows * q_row_bytes) {
    if (device == ATTNB_DEVICE_CUDA) {  // made on the host, then one copy each
      q_host = Buffer(ATTNB_DEVICE_CPU, q.bytes());
      k_host = Buffer(ATTNB_DEVICE_CPU, k.bytes());
      v_host = Buffer(ATTNB_DEVICE_CPU, v.bytes());
    }
  }
  // Where the synthetic inputs are written: the plugin's buffer itself on the CPU.
  Buffer& writable(Buffer& device_buffer, Buffer& host_buffer) {
    return device_buffer.device() == ATTNB_DEVICE_CPU ? device_buffer : host_buffer;
  }

  PagedKvBatch batch;
  Buffer q, k, v, o;
  Buffer q_host, k_host, v_host;
  std::vector<uint8_t> o_host;
};

Scheduler::Scheduler(const LoadedPlugin& plugin, const AttnbProblem& problem, KvPool& pool,
                     const SyntheticTokens& tokens, SchedulerConfig config)
    : problem_(problem), pool_(pool), tokens_(tokens), config_(config),
      tolerance_(tolerance_for(problem.dtype, problem.kv_cache_dtype)) {
  const std::string why = plugin.why_not(problem);
  if (!why.empty()) throw std::invalid_argument(plugin.name() + " cannot run this problem: " + why);
  const int32_t max_rows = std::max(config.max_batch, config.max_prefill_tokens);
  if (config.max_batch <= 0 || config.max_batch > problem.max_batch ||
      config.max_batch > pool.max_sequences())
    throw std::invalid_argument("scheduler: max_batch must be positive and within the problem's and the pool's");
  if (config.max_prefill_tokens < problem.max_kv_len || problem.max_q_tokens < max_rows)
    throw std::invalid_argument("scheduler: the prefill token budget must hold the longest sequence, "
                                "and the problem's max_q_tokens the budget and the batch");
  if (pool.device() != problem.device || pool.page_size() != problem.page_size ||
      pool.page_bytes() != plugin.kv_page_bytes(problem) ||
      pool.max_sequence_pages() < pages_for(problem.max_kv_len, problem.page_size))
    throw std::invalid_argument("scheduler: the pool was not sized for this plugin and problem");

  const AttnbDevice device = pool.device();
  op_ = plugin.create(problem);
  workspace_ = Buffer(device, plugin.workspace_bytes(problem));
  const std::size_t elem = dtype_size(problem.dtype);
  const std::size_t q_row = tokens.row_elements(SyntheticTokens::kQ) * elem;
  const std::size_t kv_row = tokens.row_elements(SyntheticTokens::kK) * elem;
  const int64_t max_pages = std::min(pool.num_pages(), config.max_batch * pool.max_sequence_pages());
  prefill_ = std::make_unique<CallBuffers>(device, config.max_batch, max_pages,
                                           config.max_prefill_tokens, q_row, kv_row);
  decode_ = std::make_unique<CallBuffers>(device, config.max_batch, max_pages, config.max_batch,
                                          q_row, kv_row);
  running_.reserve(config.max_batch);
  prefill_batch_.reserve(config.max_batch);
  decode_batch_.reserve(config.max_batch);
}

Scheduler::~Scheduler() = default;

void Scheduler::check_request(const Request& request) const {
  if (request.prompt_len < 1 || request.output_len < 1)
    throw std::invalid_argument("request " + std::to_string(request.id) + ": prompt and output lengths must be >= 1");
  if (request.final_length() > problem_.max_kv_len)
    throw std::invalid_argument("request " + std::to_string(request.id) + " grows to " +
                                std::to_string(request.final_length()) + " tokens, above the maximum of " +
                                std::to_string(problem_.max_kv_len));
  if (pages_for(request.final_length(), problem_.page_size) > pool_.num_pages())
    throw std::invalid_argument("request " + std::to_string(request.id) + " needs more pages than the pool has");
}

void Scheduler::submit(const Request& request) {
  check_request(request);
  auto s = std::make_unique<Sequence>();
  s->request = request;
  s->timing.id = request.id;
  s->timing.prompt_len = request.prompt_len;
  s->timing.output_len = request.output_len;
  s->timing.arrival_s = request.arrival_s;
  waiting_.insert(waiting_.begin(), s.get());  // behind everyone already waiting
  sequences_.push_back(std::move(s));
  // Room for every request, so a step's preemptions and retirements never allocate.
  if (waiting_.capacity() < sequences_.size()) waiting_.reserve(2 * sequences_.size());
  if (stats_.requests.capacity() < sequences_.size()) stats_.requests.reserve(2 * sequences_.size());
}

void Scheduler::wait_until(double t) {
  if (!idle()) throw std::logic_error("scheduler: waiting while there is work");
  now_ = std::max(now_, t);
}

void Scheduler::preempt_youngest() {
  Sequence* s = running_.back();
  running_.pop_back();
  pool_.release(s->slot);
  s->slot = -1;
  ++s->timing.preemptions;
  ++stats_.preemptions;
  waiting_.push_back(s);  // first in line: it was admitted before everyone waiting
}

void Scheduler::make_room_for_decode(StepReport& report) {
  int64_t needed = 0;
  for (const Sequence* s : running_) needed += pool_.pages_needed(s->slot, 1);
  while (!running_.empty() && needed > pool_.free_pages()) {
    needed -= pool_.pages_needed(running_.back()->slot, 1);
    preempt_youngest();
    ++report.preempted;
  }
  decode_batch_.clear();
  for (Sequence* s : running_) {
    if (!pool_.append(s->slot, 1)) throw std::logic_error("scheduler: decode room was not made");
    s->new_tokens = 1;
    decode_batch_.push_back(s);
  }
  report.decode_sequences = static_cast<int32_t>(decode_batch_.size());
}

void Scheduler::admit(StepReport& report) {
  const int32_t page_size = problem_.page_size;
  // Pages the running sequences take on the next step: the ones now ending a page.
  int64_t reserve = 0;
  for (const Sequence* s : running_) reserve += pool_.pages_needed(s->slot, 1);
  while (!waiting_.empty() && static_cast<int32_t>(running_.size()) < config_.max_batch) {
    Sequence* s = waiting_.back();
    const int64_t length = s->next_length();
    if (report.prefill_tokens + length > config_.max_prefill_tokens) break;
    const int64_t pages = pages_for(length, page_size);
    const int64_t own_next = length % page_size == 0 ? 1 : 0;
    // Alone in the pool it always fits (submit checked); beside others, keep their reserve.
    if (pages > pool_.free_pages() || (!running_.empty() && pages + reserve + own_next > pool_.free_pages()))
      break;
    waiting_.pop_back();
    s->slot = pool_.open();
    if (!pool_.append(s->slot, length)) throw std::logic_error("scheduler: admitted without pages");
    s->new_tokens = static_cast<int32_t>(length);
    running_.push_back(s);
    prefill_batch_.push_back(s);
    reserve += own_next;
    ++report.prefill_sequences;
    report.prefill_tokens += static_cast<int32_t>(length);
  }
}

void Scheduler::stage(CallBuffers& call, const std::vector<Sequence*>& sequences) {
  call.batch.clear();
  Buffer& q = call.writable(call.q, call.q_host);
  Buffer& k = call.writable(call.k, call.k_host);
  Buffer& v = call.writable(call.v, call.v_host);
  std::size_t row = 0;
  for (const Sequence* s : sequences) {
    const int64_t first = pool_.length(s->slot) - s->new_tokens;
    pool_.describe(call.batch, s->slot, s->new_tokens);
    tokens_.fill(SyntheticTokens::kQ, s->request.seed, first, s->new_tokens, q, row);
    tokens_.fill(SyntheticTokens::kK, s->request.seed, first, s->new_tokens, k, row);
    tokens_.fill(SyntheticTokens::kV, s->request.seed, first, s->new_tokens, v, row);
    row += static_cast<std::size_t>(s->new_tokens);
  }
  if (pool_.device() == ATTNB_DEVICE_CUDA && row > 0) {
    const std::size_t elem = dtype_size(problem_.dtype);
    const std::size_t q_used = row * tokens_.row_elements(SyntheticTokens::kQ) * elem;
    const std::size_t kv_used = row * tokens_.row_elements(SyntheticTokens::kK) * elem;
    call.q.upload(call.q_host.data(), q_used);
    call.k.upload(call.k_host.data(), kv_used);
    call.v.upload(call.v_host.data(), kv_used);
  }
}

void Scheduler::check_row(const Sequence& s, int64_t position, const std::vector<float>& got,
                          const std::vector<double>& want) {
  VerifyReport& report = stats_.verify;
  const Comparison c = compare(got, want, tolerance_);
  ++report.rows_checked;
  report.max_abs_error = std::max(report.max_abs_error, c.max_abs_error);
  if (c.passed() || ++report.rows_failed > 1) return;
  char what[160];
  std::snprintf(what, sizeof what, "request %d position %lld: max abs error %.3e (%zu of %zu elements out of tolerance)",
                s.request.id, static_cast<long long>(position), c.max_abs_error, c.violations, c.elements);
  report.first_failure = what;
}

void Scheduler::inspect_outputs(CallBuffers& call, const std::vector<Sequence*>& sequences) {
  const std::size_t q_row = tokens_.row_elements(SyntheticTokens::kQ);
  const std::size_t used = static_cast<std::size_t>(call.batch.tokens()) * q_row * dtype_size(problem_.dtype);
  if (used == 0) return;
  call.o.download(call.o_host.data(), used);
  std::size_t row = 0;
  std::vector<double> q, k, v, ref;
  std::vector<float> got(q_row);
  for (const Sequence* s : sequences) {
    const int64_t length = pool_.length(s->slot), first = length - s->new_tokens;
    if (config_.verify) {
      q.clear();
      k.clear();
      v.clear();
      tokens_.append_values(SyntheticTokens::kQ, s->request.seed, first, s->new_tokens, q);
      tokens_.append_values(SyntheticTokens::kK, s->request.seed, 0, length, k);
      tokens_.append_values(SyntheticTokens::kV, s->request.seed, 0, length, v);
      AttentionShape shape = attention_shape_of(problem_);
      shape.q_indptr = {0, s->new_tokens};
      shape.kv_indptr = {0, static_cast<int32_t>(length)};
      ref = reference_attention(shape, q, k, v);
    }
    for (int32_t i = 0; i < s->new_tokens; ++i, ++row) {
      for (std::size_t j = 0; j < q_row; ++j)
        got[j] = load_as_float(call.o_host.data(), problem_.dtype, row * q_row + j);
      if (config_.verify)
        check_row(*s, first + i, got,
                  std::vector<double>(ref.begin() + static_cast<std::ptrdiff_t>(i * q_row),
                                      ref.begin() + static_cast<std::ptrdiff_t>((i + 1) * q_row)));
      // The last row of the call is the one that produces the sequence's next token.
      if (output_sink_ && i == s->new_tokens - 1) output_sink_(s->request, s->generated, got);
    }
  }
}

StepReport Scheduler::step() {
  if (idle()) throw std::logic_error("scheduler: step with nothing to do");
  StepReport report;
  const auto scheduling = std::chrono::steady_clock::now();
  prefill_batch_.clear();
  make_room_for_decode(report);
  if (report.preempted == 0) admit(report);  // a full pool takes no newcomers this step
  const double scheduling_s = seconds_since(scheduling);
  if (prefill_batch_.empty() && decode_batch_.empty())
    throw std::logic_error("scheduler: a step that can make no progress");

  stage(*prefill_, prefill_batch_);
  stage(*decode_, decode_batch_);
  const AttnbDevice device = pool_.device();
  synchronize(device);
  const auto calls = std::chrono::steady_clock::now();
  for (CallBuffers* call : {prefill_.get(), decode_.get()}) {
    if (call->batch.batch() == 0) continue;
    const AttnbPagedKv& cache = pool_.publish(call->batch);
    AttnbAppendArgs append{};
    append.struct_size = sizeof append;
    append.cache = &cache;
    append.k = call->k.data();
    append.v = call->v.data();
    append.new_indptr = call->batch.token_indptr();
    append.new_indptr_host = call->batch.token_indptr_host();
    append.workspace = workspace_.data();
    append.workspace_bytes = workspace_.bytes();
    op_->append_kv(append);
    AttnbAttendArgs attend{};
    attend.struct_size = sizeof attend;
    attend.cache = &cache;
    attend.q = call->q.data();
    attend.o = call->o.data();
    attend.q_indptr = call->batch.token_indptr();
    attend.q_indptr_host = call->batch.token_indptr_host();
    attend.workspace = workspace_.data();
    attend.workspace_bytes = workspace_.bytes();
    if (call == decode_.get())
      op_->decode(attend);
    else
      op_->prefill(attend);
  }
  synchronize(device);
  report.seconds = scheduling_s + seconds_since(calls);
  now_ += report.seconds;

  if (config_.verify || output_sink_) {
    inspect_outputs(*prefill_, prefill_batch_);
    inspect_outputs(*decode_, decode_batch_);
  }
  for (std::vector<Sequence*>* batch : {&prefill_batch_, &decode_batch_}) {
    for (Sequence* s : *batch) {
      if (++s->generated == 1) s->timing.first_token_s = now_;
      if (s->generated < s->request.output_len) continue;
      if (pool_.length(s->slot) != s->request.final_length())
        throw std::logic_error("scheduler: request " + std::to_string(s->request.id) + " finished at the wrong length");
      s->timing.finish_s = now_;
      pool_.release(s->slot);
      s->slot = -1;
      stats_.requests.push_back(s->timing);
      ++report.finished;
    }
  }
  running_.erase(std::remove_if(running_.begin(), running_.end(), [](const Sequence* s) { return s->slot < 0; }),
                 running_.end());
  ++stats_.steps;
  stats_.prefill_tokens += report.prefill_tokens;
  stats_.decode_tokens += report.decode_sequences;
  stats_.busy_s += report.seconds;
  return report;
}

ServeStats Scheduler::run(const std::vector<Request>& workload,
                          const std::function<void(const RequestTiming&)>& on_finish) {
  for (std::size_t i = 1; i < workload.size(); ++i)
    if (workload[i].arrival_s < workload[i - 1].arrival_s)
      throw std::invalid_argument("scheduler: the workload is not in arrival order");
  for (const Request& r : workload) check_request(r);  // all of them, before any work
  std::size_t next = 0, reported = stats_.requests.size();
  while (next < workload.size() || !idle()) {
    while (next < workload.size() && workload[next].arrival_s <= now_) submit(workload[next++]);
    if (idle()) {
      wait_until(workload[next].arrival_s);
      continue;
    }
    step();
    for (; reported < stats_.requests.size(); ++reported)
      if (on_finish) on_finish(stats_.requests[reported]);
  }
  stats_.end_s = now_;
  return stats_;
}

}  // namespace attnbench
