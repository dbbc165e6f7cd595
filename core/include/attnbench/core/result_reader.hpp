// Reading result files back, with the Fast C++ CSV Parser (<libfccp/csv.h>): the header
// says which schema a file has; a file that does not parse is an error naming the file and
// the line.
#pragma once

#include <attnbench/core/result_schema.hpp>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace attnbench {

// A result file that cannot be read or does not parse; what() names the file and the line.
struct ResultFileError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct ResultTable {
  const ResultSchema* schema = nullptr;
  std::filesystem::path file;
  std::vector<std::vector<std::string>> rows;  // values in schema column order
  std::vector<unsigned> lines;                 // each row's line in the file

  const std::string& at(std::size_t row, const std::string& column) const {
    return rows[row][schema->index(column)];
  }
  // The value as a number; NaN when empty. A value that is not a number is a
  // ResultFileError naming the file, line and column.
  double number(std::size_t row, const std::string& column) const;
};

// Reads a bench, tune or serve result file.
ResultTable read_results(const std::filesystem::path& file);

// A run killed mid-write can leave a last line without its end; drops it so the file can be
// resumed. Returns true when something was dropped.
bool drop_unfinished_last_line(const std::filesystem::path& file);

}  // namespace attnbench
