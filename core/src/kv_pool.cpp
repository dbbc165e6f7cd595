#include <attnbench/core/kv_pool.hpp>

#include <attnbench/core/device.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace attnbench {

KvBudget KvBudget::parse(const std::string& text) {
  const std::string expected = "expected bytes (e.g. 67108864, 512KiB, 64MiB, 2GiB) or a percentage of "
                               "free memory (e.g. 90%), got '" + text + "'";
  std::size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    throw std::invalid_argument(expected);
  }
  const std::string unit = text.substr(used);
  KvBudget budget;
  if (unit == "%") {
    if (!(value > 0 && value <= 100)) throw std::invalid_argument(expected);
    budget.fraction = value / 100;
    return budget;
  }
  static const std::pair<const char*, double> units[] = {
      {"", 1}, {"B", 1}, {"KiB", 1024.0}, {"MiB", 1024.0 * 1024}, {"GiB", 1024.0 * 1024 * 1024},
      {"TiB", 1024.0 * 1024 * 1024 * 1024}};
  for (const auto& [name, scale] : units) {
    if (unit != name) continue;
    const double bytes = std::floor(value * scale);
    if (!(bytes >= 1 && bytes < 9.0e18)) throw std::invalid_argument(expected);
    budget.bytes = static_cast<std::size_t>(bytes);
    return budget;
  }
  throw std::invalid_argument(expected);
}

std::size_t KvBudget::resolve(AttnbDevice device, std::size_t reserved) const {
  if (bytes > 0) return bytes;
  const std::size_t free = free_memory_bytes(device);
  return static_cast<std::size_t>(fraction * static_cast<double>(free > reserved ? free - reserved : 0));
}

std::string KvBudget::text() const {
  char out[48];
  const double b = static_cast<double>(bytes);
  if (bytes == 0)
    std::snprintf(out, sizeof out, "%g%% of free memory", fraction * 100);
  else if (b >= 1024.0 * 1024 * 1024)
    std::snprintf(out, sizeof out, "%.3g GiB", b / (1024.0 * 1024 * 1024));
  else if (b >= 1024.0 * 1024)
    std::snprintf(out, sizeof out, "%.3g MiB", b / (1024.0 * 1024));
  else
    std::snprintf(out, sizeof out, "%.3g KiB", b / 1024.0);
  return out;
}

KvPool::KvPool(AttnbDevice device, int32_t page_size, std::size_t page_bytes, int64_t num_pages,
               int32_t max_sequences, int64_t max_sequence_tokens)
    : page_size_(page_size), page_bytes_(page_bytes), num_pages_(num_pages),
      max_sequence_pages_(pages_for(max_sequence_tokens, page_size)) {
  if (page_size <= 0 || page_bytes == 0 || num_pages <= 0 || max_sequences <= 0 ||
      max_sequence_tokens <= 0)
    throw std::invalid_argument("KvPool: page size, page bytes, pages, sequences and tokens must be positive");
  if (num_pages > INT32_MAX) throw std::invalid_argument("KvPool: more pages than int32 page indices can name");
  storage_ = Buffer(device, static_cast<std::size_t>(num_pages) * page_bytes);
  // Page 0 is handed out first; after frees and preemptions the order scatters by itself.
  free_.resize(static_cast<std::size_t>(num_pages));
  for (int64_t i = 0; i < num_pages; ++i) free_[static_cast<std::size_t>(i)] = static_cast<int32_t>(num_pages - 1 - i);
  pages_.resize(static_cast<std::size_t>(max_sequences));
  for (auto& p : pages_) p.reserve(static_cast<std::size_t>(std::min(max_sequence_pages_, num_pages)));
  lengths_.assign(pages_.size(), 0);
  open_.assign(pages_.size(), 0);
  for (int32_t s = max_sequences - 1; s >= 0; --s) free_slots_.push_back(s);
}

void KvPool::check_open(int32_t seq) const {
  if (!is_open(seq)) throw std::logic_error("KvPool: sequence " + std::to_string(seq) + " is not open");
}

bool KvPool::is_open(int32_t seq) const {
  return seq >= 0 && seq < max_sequences() && open_[static_cast<std::size_t>(seq)];
}

int32_t KvPool::open() {
  if (free_slots_.empty()) throw std::logic_error("KvPool: every sequence slot is taken");
  const int32_t seq = free_slots_.back();
  free_slots_.pop_back();
  open_[static_cast<std::size_t>(seq)] = 1;
  lengths_[static_cast<std::size_t>(seq)] = 0;
  ++open_count_;
  return seq;
}

int64_t KvPool::pages_needed(int32_t seq, int64_t tokens) const {
  check_open(seq);
  const std::vector<int32_t>& held = pages_[static_cast<std::size_t>(seq)];
  return pages_for(lengths_[static_cast<std::size_t>(seq)] + tokens, page_size_) -
         static_cast<int64_t>(held.size());
}

bool KvPool::append(int32_t seq, int64_t tokens) {
  check_open(seq);
  if (tokens < 0) throw std::logic_error("KvPool: a negative number of tokens to append");
  const std::size_t s = static_cast<std::size_t>(seq);
  if (pages_for(lengths_[s] + tokens, page_size_) > max_sequence_pages_)
    throw std::logic_error("KvPool: sequence longer than the pool's maximum per sequence");
  const int64_t needed = pages_needed(seq, tokens);
  if (needed > free_pages()) return false;
  for (int64_t i = 0; i < needed; ++i) {
    const int32_t page = free_.back();
    free_.pop_back();
    pages_[s].push_back(page);
  }
  lengths_[s] += tokens;
  peak_pages_ = std::max(peak_pages_, pages_in_use());
  return true;
}

void KvPool::release(int32_t seq) {
  check_open(seq);
  const std::size_t s = static_cast<std::size_t>(seq);
  free_.insert(free_.end(), pages_[s].begin(), pages_[s].end());  // within its capacity
  pages_[s].clear();  // keeps its capacity
  lengths_[s] = 0;
  open_[s] = 0;
  free_slots_.push_back(seq);
  --open_count_;
}

void KvPool::describe(PagedKvBatch& batch, int32_t seq, int32_t new_tokens) const {
  check_open(seq);
  const std::vector<int32_t>& p = pages_[static_cast<std::size_t>(seq)];
  batch.add(p.data(), static_cast<int32_t>(p.size()), lengths_[static_cast<std::size_t>(seq)],
            page_size_, new_tokens);
}

int64_t KvPool::length(int32_t seq) const {
  check_open(seq);
  return lengths_[static_cast<std::size_t>(seq)];
}

const std::vector<int32_t>& KvPool::pages(int32_t seq) const {
  check_open(seq);
  return pages_[static_cast<std::size_t>(seq)];
}

void KvPool::check_invariants() const {
  auto fail = [](const std::string& what) { throw std::logic_error("KvPool invariant: " + what); };
  std::vector<int32_t> seen(static_cast<std::size_t>(num_pages_), -2);  // -2 unseen, -1 free
  for (int32_t page : free_) {
    if (page < 0 || page >= num_pages_) fail("free list holds page " + std::to_string(page));
    if (seen[static_cast<std::size_t>(page)] != -2) fail("page " + std::to_string(page) + " is free twice");
    seen[static_cast<std::size_t>(page)] = -1;
  }
  int32_t open_count = 0;
  for (int32_t s = 0; s < max_sequences(); ++s) {
    const std::vector<int32_t>& held = pages_[static_cast<std::size_t>(s)];
    if (!open_[static_cast<std::size_t>(s)]) {
      if (!held.empty()) fail("closed sequence " + std::to_string(s) + " holds pages");
      continue;
    }
    ++open_count;
    if (static_cast<int64_t>(held.size()) != pages_for(lengths_[static_cast<std::size_t>(s)], page_size_))
      fail("sequence " + std::to_string(s) + " holds " + std::to_string(held.size()) +
           " pages for " + std::to_string(lengths_[static_cast<std::size_t>(s)]) + " tokens");
    for (int32_t page : held) {
      if (page < 0 || page >= num_pages_) fail("sequence holds page " + std::to_string(page));
      if (seen[static_cast<std::size_t>(page)] != -2)
        fail("page " + std::to_string(page) + " owned twice (or owned and free)");
      seen[static_cast<std::size_t>(page)] = s;
    }
  }
  for (int64_t page = 0; page < num_pages_; ++page)
    if (seen[static_cast<std::size_t>(page)] == -2)
      fail("page " + std::to_string(page) + " leaked: neither free nor owned");
  if (open_count != open_count_) fail("open sequence count is off");
  if (static_cast<int32_t>(free_slots_.size()) + open_count_ != max_sequences()) fail("slot count is off");
}

}  // namespace attnbench
