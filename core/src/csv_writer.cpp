#include <attnbench/core/csv_writer.hpp>

#include <fstream>
#include <stdexcept>
#include <unistd.h>

namespace attnbench {

std::string csv_field(const std::string& value) {
  if (value.find_first_of(",\"\r\n") == std::string::npos) return value;
  std::string quoted = "\"";
  for (char c : value) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

namespace {
std::string join_line(const std::vector<std::string>& values) {
  std::string line;
  for (std::size_t i = 0; i < values.size(); ++i) line += (i ? "," : "") + csv_field(values[i]);
  return line + "\n";
}
}  // namespace

CsvWriter::CsvWriter(const std::filesystem::path& file, std::vector<std::string> columns)
    : file_(file), columns_(std::move(columns)) {
  const std::string header = join_line(columns_);
  std::string existing;
  {
    std::ifstream in(file);
    std::getline(in, existing);
  }
  if (!existing.empty() && existing + "\n" != header)
    throw std::runtime_error(file.string() + ": existing CSV has a different header (expected " +
                             header.substr(0, header.size() - 1) + ")");
  out_ = std::fopen(file.c_str(), "a");
  if (!out_) throw std::runtime_error(file.string() + ": cannot open for writing");
  if (existing.empty()) {
    std::fputs(header.c_str(), out_);
    std::fflush(out_);
  }
}

CsvWriter::~CsvWriter() {
  if (out_) std::fclose(out_);
}

void CsvWriter::write_row(const std::vector<std::string>& values) {
  if (values.size() != columns_.size())
    throw std::logic_error(file_.string() + ": row has " + std::to_string(values.size()) +
                           " values for " + std::to_string(columns_.size()) + " columns");
  std::fputs(join_line(values).c_str(), out_);
  std::fflush(out_);
  fsync(fileno(out_));  // on disk, not just in the page cache: survives a machine crash too
}

}  // namespace attnbench
