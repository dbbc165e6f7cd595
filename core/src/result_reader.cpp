#include <attnbench/core/result_reader.hpp>

#include <libfccp/csv.h>

#include <array>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <tuple>

namespace attnbench {

namespace {

// The parser fixes its column count at compile time; every schema fits, the unused names
// are declared missing.
constexpr std::size_t kMaxColumns = 64;
using Reader = io::CSVReader<kMaxColumns, io::trim_chars<>, io::double_quote_escape<',', '"'>>;

std::string joined(const std::vector<std::string>& columns) {
  std::string line;
  for (const std::string& c : columns) line += (line.empty() ? "" : ",") + c;
  return line;
}

const ResultSchema& schema_of_header(const std::filesystem::path& file) {
  io::LineReader in(file.string());
  const char* first = in.next_line();
  if (!first)
    throw ResultFileError(file.string() + ": line 1: empty file, expected a result header");
  const std::string header = first;
  for (const ResultSchema* s : {&bench_schema(), &tune_schema(), &serve_schema()})
    if (header == joined(s->columns)) {
      if (s->columns.size() > kMaxColumns) throw std::logic_error("result schema wider than the reader");
      return *s;
    }
  throw ResultFileError(file.string() + ": line 1: not a bench, tune or serve result header (written by "
                        "another version of attnbench, or not a result file)");
}

}  // namespace

double ResultTable::number(std::size_t row, const std::string& column) const {
  const std::string& text = at(row, column);
  if (text.empty()) return std::nan("");
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size())
    throw ResultFileError(file.string() + ": line " + std::to_string(lines[row]) + ": column " +
                          column + ": expected a number, got '" + text + "'");
  return value;
}

ResultTable read_results(const std::filesystem::path& file) {
  ResultTable table;
  table.file = file;
  try {
    table.schema = &schema_of_header(file);
    const std::vector<std::string>& columns = table.schema->columns;
    std::array<std::string, kMaxColumns> names;
    for (std::size_t i = 0; i < kMaxColumns; ++i)
      names[i] = i < columns.size() ? columns[i] : "unused_column_" + std::to_string(i);
    Reader in(file.string());
    std::apply([&](auto&... n) { in.read_header(io::ignore_missing_column, n...); }, names);
    std::array<std::string, kMaxColumns> values;
    while (std::apply([&](auto&... v) { return in.read_row(v...); }, values)) {
      table.rows.emplace_back(values.begin(), values.begin() + static_cast<long>(columns.size()));
      table.lines.push_back(in.get_file_line());
    }
  } catch (const io::error::base& e) {
    throw ResultFileError(e.what());
  }
  return table;
}

bool drop_unfinished_last_line(const std::filesystem::path& file) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(file, ec);
  if (ec || size == 0) return false;
  std::ifstream in(file, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.back() == '\n') return false;
  const auto last_newline = text.rfind('\n');
  std::filesystem::resize_file(file, last_newline == std::string::npos ? 0 : last_newline + 1);
  return true;
}

}  // namespace attnbench
