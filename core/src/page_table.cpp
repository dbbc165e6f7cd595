#include <attnbench/core/page_table.hpp>

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

}  // namespace attnbench
