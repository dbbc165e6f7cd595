// The columns of the result files, named once: what `bench` and `tune` write, what `report`
// and `compare` read, which columns identify a row (its key, for --resume and compare) and
// which one compare ranks by.
#pragma once

#include <attnbench/abi.h>

#include <map>
#include <string>
#include <vector>

namespace attnbench {

class LoadedPlugin;
struct Provenance;

struct ResultSchema {
  std::string kind;                      // "bench" or "tune"
  std::vector<std::string> columns;      // provenance_columns() first, then the kind's own
  std::vector<std::string> key_columns;  // together unique per row of one file
  std::string metric;                    // what compare compares
  bool higher_is_better = false;
  std::size_t index(const std::string& column) const;  // throws std::logic_error if absent
};

const ResultSchema& bench_schema();
const ResultSchema& tune_schema();
const ResultSchema& serve_schema();

// Row status values.
inline const char* const kStatusOk = "ok";
inline const char* const kStatusOom = "oom";
inline const char* const kStatusError = "error";
inline const char* const kStatusCrashed = "crashed";
inline const char* const kStatusUnsupported = "unsupported";

// Builds one row by column name, so no value lands in the wrong column.
class RowBuilder {
 public:
  explicit RowBuilder(const ResultSchema& schema) : schema_(&schema) {}
  RowBuilder& set(const std::string& column, const std::string& value);
  RowBuilder& set(const std::string& column, double value);  // %.6g; NaN stays empty
  RowBuilder& set_int(const std::string& column, long long value);
  // The provenance columns of a row of `device` (plugin may be null).
  RowBuilder& set_provenance(const Provenance& provenance, const LoadedPlugin* plugin, AttnbDevice device);
  // Values in column order; unset columns are empty.
  std::vector<std::string> values() const;

 private:
  const ResultSchema* schema_;
  std::map<std::string, std::string> values_;
};

// The key of a row given in column order.
std::string row_key(const ResultSchema& schema, const std::vector<std::string>& row);

}  // namespace attnbench
