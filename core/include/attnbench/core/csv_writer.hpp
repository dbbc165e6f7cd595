// Results that survive: a CSV file written one row at a time, each row flushed to disk as
// soon as it is written, so a crash or a kill loses nothing already measured. Reading results
// back is done with the Fast C++ CSV Parser (csv.h), never here.
#pragma once

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

namespace attnbench {

// Quotes a field when it holds a comma, a quote or a line break (RFC 4180).
std::string csv_field(const std::string& value);

class CsvWriter {
 public:
  // Opens `file` for appending. A new or empty file gets the header line; an existing one
  // must have exactly this header (else std::runtime_error naming the file), so resumed runs
  // never mix schemas.
  CsvWriter(const std::filesystem::path& file, std::vector<std::string> columns);
  ~CsvWriter();
  CsvWriter(const CsvWriter&) = delete;
  CsvWriter& operator=(const CsvWriter&) = delete;

  // One row, values in column order (exactly one per column), written and flushed.
  void write_row(const std::vector<std::string>& values);
  const std::vector<std::string>& columns() const { return columns_; }

 private:
  std::filesystem::path file_;
  std::vector<std::string> columns_;
  std::FILE* out_ = nullptr;
};

}  // namespace attnbench
