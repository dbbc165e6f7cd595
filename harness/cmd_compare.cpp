// attnbench compare BASE.csv NEW.csv: the same rows (by key) of two result files side by
// side; exit 1 when something got slower beyond the noise threshold, so it can gate a PR.
#include "cli.hpp"

#include <attnbench/core/result_reader.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

namespace attnbench::cli {

namespace {

ResultTable read_or_usage_error(const std::string& file) {
  try {
    return read_results(file);
  } catch (const ResultFileError& e) {
    throw UsageError(e.what());
  }
}

// Row index by key; a key seen twice (two runs appended) keeps the later row.
std::map<std::string, std::size_t> index_by_key(const ResultTable& t) {
  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < t.rows.size(); ++i) index[row_key(*t.schema, t.rows[i])] = i;
  return index;
}

// The key columns whose value differs somewhere: what tells rows apart for a reader.
std::vector<std::string> varying_key_columns(const ResultTable& a, const ResultTable& b) {
  std::vector<std::string> columns;
  for (const std::string& c : a.schema->key_columns) {
    std::string first;
    bool seen = false, varies = false;
    for (const ResultTable* t : {&a, &b})
      for (std::size_t i = 0; i < t->rows.size(); ++i) {
        const std::string& v = t->at(i, c);
        if (seen && v != first) varies = true;
        if (!seen) first = v, seen = true;
      }
    if (varies) columns.push_back(c);
  }
  return columns;
}

std::string label(const ResultTable& t, std::size_t row, const std::vector<std::string>& columns) {
  std::string text;
  for (const std::string& c : columns)
    if (!t.at(row, c).empty()) text += (text.empty() ? "" : " ") + c + "=" + t.at(row, c);
  return text.empty() ? "(the only row)" : text;
}

struct Line {
  std::string label, base, now, verdict;
  double slowdown = 0;  // > 1: slower
  bool regression = false;
};

}  // namespace

int run_compare(const std::vector<std::string>& args) {
  po::options_description options("compare options");
  options.add_options()
      ("base", po::value<std::string>()->value_name("BASE.csv"), "the reference results")
      ("new", po::value<std::string>()->value_name("NEW.csv"), "the results to judge")
      ("threshold", po::value<double>()->default_value(0.05)->value_name("F"),
       "noise threshold: slower by more than this fraction is a regression");
  po::positional_options_description positional;
  positional.add("base", 1).add("new", 1);
  po::variables_map vm;
  if (!parse("compare", "BASE.csv NEW.csv [--threshold F]", options, args, vm, &positional)) return kSuccess;
  if (!vm.count("base") || !vm.count("new")) throw UsageError("expected two result files: BASE.csv NEW.csv");
  const double threshold = vm["threshold"].as<double>();
  if (!(threshold >= 0)) throw UsageError("--threshold: expected a fraction >= 0");
  const ResultTable base = read_or_usage_error(vm["base"].as<std::string>());
  const ResultTable now = read_or_usage_error(vm["new"].as<std::string>());
  if (base.schema != now.schema)
    throw UsageError("cannot compare " + base.schema->kind + " results with " + now.schema->kind + " results");
  const ResultSchema& schema = *base.schema;
  const std::string& metric = schema.metric;

  const auto base_rows = index_by_key(base), new_rows = index_by_key(now);
  const std::vector<std::string> columns = varying_key_columns(base, now);
  std::vector<Line> lines;
  int only_base = 0, only_new = 0;
  for (const auto& [key, i] : base_rows) {
    const auto found = new_rows.find(key);
    if (found == new_rows.end()) {
      ++only_base;
      continue;
    }
    const std::size_t j = found->second;
    Line line;
    line.label = label(base, i, columns);
    const std::string base_status = base.at(i, "status"), new_status = now.at(j, "status");
    if (base_status != "ok" || new_status != "ok") {
      if (base_status == new_status) continue;  // failed the same way twice: nothing to compare
      line.base = base_status;
      line.now = new_status;
      line.regression = base_status == "ok";
      line.slowdown = line.regression ? INFINITY : 0;
      line.verdict = line.regression ? "REGRESSION (was ok)" : "fixed";
      lines.push_back(line);
      continue;
    }
    const double a = base.number(i, metric), b = now.number(j, metric);
    // As a time ratio whichever way the metric points: > 1 is slower.
    line.slowdown = schema.higher_is_better ? a / b : b / a;
    line.regression = line.slowdown > 1 + threshold;
    line.verdict = line.regression ? "SLOWER" : line.slowdown < 1 / (1 + threshold) ? "faster" : "same";
    char text[32];
    std::snprintf(text, sizeof text, "%.4g", a);
    line.base = text;
    std::snprintf(text, sizeof text, "%.4g", b);
    line.now = text;
    lines.push_back(line);
  }
  for (const auto& [key, j] : new_rows) only_new += base_rows.count(key) ? 0 : 1;

  std::sort(lines.begin(), lines.end(), [](const Line& x, const Line& y) { return x.slowdown > y.slowdown; });
  std::printf("compare: %s (%s, %s)\n", metric.c_str(), schema.higher_is_better ? "higher is better" : "lower is better",
              ("threshold " + std::to_string(threshold)).c_str());
  std::printf("%-12s %-12s %-9s %-20s %s\n", "base", "new", "slowdown", "verdict", "row");
  int regressions = 0, faster = 0;
  for (const Line& l : lines) {
    regressions += l.regression;
    faster += l.verdict == "faster";
    const std::string ratio = std::isfinite(l.slowdown) && l.slowdown > 0 ? std::to_string(l.slowdown).substr(0, 6) : "-";
    std::printf("%-12s %-12s %-9s %-20s %s\n", l.base.c_str(), l.now.c_str(), ratio.c_str(), l.verdict.c_str(), l.label.c_str());
  }
  std::printf("compare: %zu rows compared: %d slower beyond %.0f%%, %d faster; %d only in BASE, %d only in NEW\n",
              lines.size(), regressions, threshold * 100, faster, only_base, only_new);
  return regressions > 0 ? kFailure : kSuccess;
}

}  // namespace attnbench::cli
