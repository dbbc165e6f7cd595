#include <attnbench/core/page_table.hpp>

#include <algorithm>
#include <stdexcept>

namespace attnbench {

std::vector<int32_t> PageTable::indptr() const {
  std::vector<int32_t> out{0};
  for (const auto& p : pages) out.push_back(out.back() + static_cast<int32_t>(p.size()));
  return out;
}

std::vector<int32_t> PageTable::indices() const {
  std::vector<int32_t> out;
  for (const auto& p : pages) out.insert(out.end(), p.begin(), p.end());
  return out;
}

std::vector<int32_t> PageTable::last_page_len() const {
  std::vector<int32_t> out;
  for (int64_t len : lengths)
    out.push_back(len == 0 ? 0 : static_cast<int32_t>((len - 1) % page_size + 1));
  return out;
}

PagedKvView::PagedKvView(const PageTable& table, AttnbDevice device, void* pool,
                         std::size_t page_bytes, int64_t num_pages)
    : indptr_(table.indptr()), indices_(table.indices()), last_(table.last_page_len()) {
  if (table.pages.size() != table.lengths.size())
    throw std::logic_error("page table: pages and lengths differ in count");
  for (std::size_t b = 0; b < table.pages.size(); ++b)
    if (static_cast<int64_t>(table.pages[b].size()) != pages_for(table.lengths[b], table.page_size))
      throw std::logic_error("page table: sequence holds the wrong number of pages");
  indptr_dev_ = Buffer::from_vector(device, indptr_);
  indices_dev_ = Buffer::from_vector(device, indices_);
  last_dev_ = Buffer::from_vector(device, last_);
  view_.struct_size = sizeof view_;
  view_.pages = pool;
  view_.page_bytes = page_bytes;
  view_.num_pages = num_pages;
  view_.batch = table.batch();
  view_.page_indptr = static_cast<const int32_t*>(indptr_dev_.data());
  view_.page_indices = static_cast<const int32_t*>(indices_dev_.data());
  view_.last_page_len = static_cast<const int32_t*>(last_dev_.data());
  view_.page_indptr_host = indptr_.data();
  view_.page_indices_host = indices_.data();
  view_.last_page_len_host = last_.data();
}

PagedKvBatch::PagedKvBatch(AttnbDevice device, int32_t max_batch, int64_t max_pages)
    : device_(device), max_batch_(max_batch), max_pages_(max_pages),
      token_at_(static_cast<std::size_t>(max_batch) + 1), last_at_(2 * token_at_),
      indices_at_(last_at_ + static_cast<std::size_t>(max_batch)),
      host_(indices_at_ + static_cast<std::size_t>(max_pages), 0) {
  if (max_batch <= 0 || max_pages <= 0)
    throw std::invalid_argument("PagedKvBatch: max_batch and max_pages must be positive");
  if (device == ATTNB_DEVICE_CUDA) device_arrays_ = Buffer(device, host_.size() * sizeof(int32_t));
}

const int32_t* PagedKvBatch::arrays() const {
  return device_ == ATTNB_DEVICE_CUDA ? static_cast<const int32_t*>(device_arrays_.data())
                                      : host_.data();
}

void PagedKvBatch::clear() {
  batch_ = 0;
  host_[0] = 0;
  host_[token_at_] = 0;
}

void PagedKvBatch::add(const int32_t* pages, int32_t count, int64_t length, int32_t page_size,
                       int32_t new_tokens) {
  if (batch_ == max_batch_) throw std::logic_error("PagedKvBatch: more sequences than max_batch");
  const int32_t first = host_[batch_];
  if (first + static_cast<int64_t>(count) > max_pages_)
    throw std::logic_error("PagedKvBatch: more pages than max_pages");
  if (count != pages_for(length, page_size) || new_tokens < 0 || new_tokens > length)
    throw std::logic_error("PagedKvBatch: pages, length and new tokens do not agree");
  std::copy(pages, pages + count, host_.begin() + static_cast<std::ptrdiff_t>(indices_at_) + first);
  host_[batch_ + 1] = first + count;
  host_[token_at_ + batch_ + 1] = host_[token_at_ + batch_] + new_tokens;
  host_[last_at_ + batch_] = length == 0 ? 0 : static_cast<int32_t>((length - 1) % page_size + 1);
  ++batch_;
}

const AttnbPagedKv& PagedKvBatch::publish(void* pool, std::size_t page_bytes, int64_t num_pages) {
  if (device_ == ATTNB_DEVICE_CUDA)  // only the part in use: the indices end at indptr[batch]
    device_arrays_.upload(host_.data(), (indices_at_ + host_[batch_]) * sizeof(int32_t));
  const int32_t* dev = arrays();
  view_.struct_size = sizeof view_;
  view_.pages = pool;
  view_.page_bytes = page_bytes;
  view_.num_pages = num_pages;
  view_.batch = batch_;
  view_.page_indptr = dev;
  view_.page_indices = dev + indices_at_;
  view_.last_page_len = dev + last_at_;
  view_.page_indptr_host = host_.data();
  view_.page_indices_host = host_.data() + indices_at_;
  view_.last_page_len_host = host_.data() + last_at_;
  return view_;
}

}  // namespace attnbench
