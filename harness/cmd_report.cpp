// attnbench report FILE.csv... --out DIR: a Markdown page and gnuplot charts (PNG and SVG)
// from result files. Everything is written into a temporary folder that becomes DIR only
// when all of it succeeded: a failed report leaves no partial files.
#include "cli.hpp"
#include "report_charts.hpp"

#include <attnbench/core/result_reader.hpp>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

namespace attnbench::cli {

namespace {

namespace fs = std::filesystem;

// One bench row, typed.
struct Measured {
  std::string plugin, device, driver, commit, date, command, backend, phase, dtype, kv_dtype, preset,
      pages, tunables, status, message, bound;
  int q_heads = 0, kv_heads = 0, head_dim = 0, layers = 0, window = 0, page_size = 0, batch = 0,
      context = 0, steps = 0;
  double time_p50 = NAN, ttft = NAN, tpot_p50 = NAN, tpot_p95 = NAN, tpot_p99 = NAN,
         tokens_per_s = NAN, kv_bytes_per_token = NAN, gbps = NAN, tflops = NAN,
         ceiling_gbps = NAN, ceiling_tflops = NAN, bandwidth_pct = NAN, compute_pct = NAN,
         intensity = NAN;

  // A peer's row: measured outside the plugin host (scripts/peers: backend "pytorch"), shown
  // beside the plugins, never paired with them as if it were one (its cache is not paged).
  bool peer() const { return backend != "cpu" && backend != "cuda"; }
  // The device, head configuration and dtype: rows of one scope share a chart.
  std::string scope() const { return device + " | " + preset + " | " + dtype; }
  // Everything that identifies a measurement except its tunables.
  std::string shape() const {
    std::ostringstream s;
    s << scope() << '|' << plugin << '|' << phase << '|' << kv_dtype << '|' << window << '|' << page_size
      << '|' << pages << '|' << batch << '|' << context << '|' << steps;
    return s.str();
  }
};

std::vector<Measured> measured_rows(const ResultTable& t) {
  std::vector<Measured> rows;
  for (std::size_t i = 0; i < t.rows.size(); ++i) {
    Measured m;
    auto text = [&](const char* c) { return t.at(i, c); };
    auto integer = [&](const char* c) {
      const double v = t.number(i, c);
      return std::isnan(v) ? 0 : static_cast<int>(v);
    };
    auto number = [&](const char* c) { return t.number(i, c); };
    m.plugin = text("plugin"), m.device = text("device"), m.driver = text("driver");
    m.commit = text("commit"), m.date = text("date"), m.command = text("command");
    m.backend = text("backend"), m.phase = text("phase"), m.dtype = text("dtype");
    m.kv_dtype = text("kv_dtype"), m.preset = text("preset"), m.pages = text("pages");
    m.tunables = text("tunables"), m.status = text("status"), m.message = text("message");
    m.bound = text("bound");
    m.q_heads = integer("q_heads"), m.kv_heads = integer("kv_heads"), m.head_dim = integer("head_dim");
    m.layers = integer("layers"), m.window = integer("window"), m.page_size = integer("page_size");
    m.batch = integer("batch"), m.context = integer("context"), m.steps = integer("steps");
    m.time_p50 = number("time_p50_s"), m.ttft = number("ttft_s"), m.tpot_p50 = number("tpot_p50_s");
    m.tpot_p95 = number("tpot_p95_s"), m.tpot_p99 = number("tpot_p99_s");
    m.tokens_per_s = number("tokens_per_s"), m.kv_bytes_per_token = number("kv_bytes_per_token");
    m.gbps = number("gbps"), m.tflops = number("tflops"), m.ceiling_gbps = number("ceiling_gbps");
    m.ceiling_tflops = number("ceiling_tflops"), m.bandwidth_pct = number("bandwidth_pct");
    m.compute_pct = number("compute_pct"), m.intensity = number("intensity");
    rows.push_back(m);
  }
  return rows;
}

std::string seconds_text(double s) {
  if (std::isnan(s)) return "-";
  char text[32];
  if (s < 1e-3) std::snprintf(text, sizeof text, "%.1f µs", s * 1e6);
  else if (s < 1) std::snprintf(text, sizeof text, "%.2f ms", s * 1e3);
  else std::snprintf(text, sizeof text, "%.2f s", s);
  return text;
}

std::string number_text(double v, const char* format = "%.3g") {
  if (std::isnan(v)) return "-";
  char text[32];
  std::snprintf(text, sizeof text, format, v);
  return text;
}

std::string bytes_text(double bytes) {
  if (std::isnan(bytes)) return "-";
  const bool gib = bytes >= (1 << 30);
  return number_text(bytes / (gib ? 1 << 30 : 1 << 20), "%.3g") + (gib ? " GiB" : " MiB");
}

std::map<std::string, int64_t> parse_tunables(const std::string& text) {
  std::map<std::string, int64_t> values;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ';');) {
    const auto eq = item.find('=');
    if (eq != std::string::npos) values[item.substr(0, eq)] = std::stoll(item.substr(eq + 1));
  }
  return values;
}

class ReportWriter {
 public:
  ReportWriter(const fs::path& dir, std::vector<Measured> rows, bool many_devices)
      : charts_(dir / "charts"), rows_(std::move(rows)), many_devices_(many_devices) {
    fs::create_directories(charts_);
    // A plugin with tunables appears in the plain charts with its fastest setting.
    std::map<std::string, const Measured*> best;
    for (const Measured& m : rows_) {
      if (m.status != "ok") continue;
      const Measured*& b = best[m.shape()];
      if (!b || m.time_p50 < b->time_p50) b = &m;
    }
    for (const auto& [shape, m] : best) best_.push_back(m);
    std::sort(best_.begin(), best_.end(), [](const Measured* a, const Measured* b) {
      return std::tie(a->device, a->preset, a->dtype, a->plugin, a->phase, a->kv_dtype, a->window, a->batch, a->context) <
             std::tie(b->device, b->preset, b->dtype, b->plugin, b->phase, b->kv_dtype, b->window, b->batch, b->context);
    });
  }

  std::string markdown_charts();
  std::string markdown_tables() const;
  const std::vector<std::string>& scripts() const { return scripts_; }

 private:
  std::string series_name(const Measured& m) const {
    std::string name = m.plugin;
    if (m.window > 0) name += " window " + std::to_string(m.window);
    if (many_devices_) name += " @ " + m.device;
    return name;
  }
  // Charts of `phase` rows, one per scope and value of `per`, a series per plugin.
  std::string charts(const std::string& phase, const std::string& stem, const std::string& title, const std::string& per,
                     const std::string& xlabel, const std::string& ylabel, bool log_y,
                     double (*x)(const Measured&), double (*y)(const Measured&),
                     const std::string& ceiling_label = "");
  // Short file names: the scope's preset and dtype, and a number when devices differ.
  std::string scope_stem(const std::string& scope) {
    const auto at = scopes_.emplace(scope, scopes_.size() + 1).first;
    const Measured* any = nullptr;
    for (const Measured* m : best_)
      if (m->scope() == scope) any = m;
    const std::string name = any ? any->preset + "_" + any->dtype : "scope";
    return chart_stem(many_devices_ ? name + "_device" + std::to_string(at->second) : name);
  }
  template <typename Chart>
  std::string add(Chart chart) {
    const std::string base = chart.stem;
    for (int n = 2; !stems_.insert(chart.stem).second; ++n) chart.stem = base + "_" + std::to_string(n);
    scripts_.push_back(write_chart(charts_, chart));
    return image(chart.stem, chart.title);
  }
  static std::string image(const std::string& stem, const std::string& title) {
    return "![" + title + "](charts/" + stem + ".png) ([SVG](charts/" + stem + ".svg))\n\n";
  }
  std::string kv_memory_charts();
  std::string roofline_charts();
  std::string int8_section();
  std::string tunable_section();

  fs::path charts_;
  std::vector<Measured> rows_;
  std::vector<const Measured*> best_;
  bool many_devices_;
  std::vector<std::string> scripts_;
  std::set<std::string> stems_;
  std::map<std::string, std::size_t> scopes_;
};

std::string ReportWriter::charts(const std::string& phase, const std::string& stem, const std::string& title, const std::string& per,
                                 const std::string& xlabel, const std::string& ylabel, bool log_y,
                                 double (*x)(const Measured&), double (*y)(const Measured&),
                                 const std::string& ceiling_label) {
  // scope -> per value -> series name -> points
  std::map<std::string, std::map<int, std::map<std::string, Series>>> groups;
  for (const Measured* m : best_) {
    if (m->phase != phase || std::isnan(y(*m))) continue;
    const int key = per == "batch" ? m->batch : m->context;
    Series& s = groups[m->scope()][key][series_name(*m)];
    s.name = series_name(*m);
    s.points.emplace_back(x(*m), y(*m));
  }
  std::string md;
  for (const auto& [scope, by_value] : groups)
    for (const auto& [value, series] : by_value) {
      std::size_t most_points = 0;
      for (const auto& [name, s] : series) most_points = std::max(most_points, s.points.size());
      if (most_points < 2) continue;  // a single point is a table row, not a curve
      LineChart chart;
      chart.title = title + ", " + per + " " + std::to_string(value) + " (" + scope + ")";
      chart.stem = stem + "_" + scope_stem(scope) + "_" + per + std::to_string(value);
      chart.xlabel = xlabel;
      chart.ylabel = ylabel;
      chart.log_y = log_y;
      for (const auto& [name, s] : series) chart.series.push_back(s);
      if (!ceiling_label.empty()) {
        chart.extra_plots.push_back("100 with lines dashtype 2 linewidth 2 linecolor rgb \"black\" title " +
                                    gnuplot_string(ceiling_label));
        chart.setup = "set yrange [0:110]\n";
      }
      md += add(chart);
    }
  return md;
}

std::string ReportWriter::kv_memory_charts() {
  // KV cache of one sequence across all layers: what the plugin's format stores per token.
  std::map<std::string, std::map<std::string, std::map<int, double>>> groups;  // preset|dtype -> plugin -> ctx
  for (const Measured* m : best_)
    if (!std::isnan(m->kv_bytes_per_token))
      groups[m->preset + " | " + m->dtype][series_name(*m)][m->context] =
          m->kv_bytes_per_token * m->context * m->layers / (1 << 20);
  std::string md;
  for (const auto& [scope, plugins] : groups) {
    LineChart chart;
    chart.title = "KV cache of one sequence, all layers (" + scope + ")";
    chart.stem = chart_stem("kv_memory_" + scope.substr(0, scope.find(' ')) + "_" + scope.substr(scope.rfind(' ') + 1));
    chart.xlabel = "context (tokens)";
    chart.ylabel = "MiB per sequence";
    chart.log_y = true;
    for (const auto& [name, points] : plugins) chart.series.push_back({name, {points.begin(), points.end()}});
    md += add(chart);
  }
  return md;
}

std::string ReportWriter::roofline_charts() {
  std::map<std::string, std::map<std::string, Series>> groups;
  std::map<std::string, std::pair<double, double>> roofs;
  for (const Measured* m : best_) {
    if (std::isnan(m->intensity) || !(m->tflops > 0)) continue;
    Series& s = groups[m->scope()][series_name(*m) + " " + m->phase];
    s.name = series_name(*m) + " " + m->phase;
    s.points.emplace_back(m->intensity, m->tflops);
    roofs[m->scope()] = {m->ceiling_gbps, m->ceiling_tflops};
  }
  std::string md;
  for (const auto& [scope, series] : groups) {
    const auto [gbps, tflops] = roofs[scope];
    LineChart chart;
    chart.title = "Roofline (" + scope + ")";
    chart.stem = "roofline_" + scope_stem(scope);
    chart.xlabel = "arithmetic intensity (FLOP per byte moved)";
    chart.ylabel = "TFLOP/s";
    chart.log_x = 10;
    chart.log_y = true;
    for (const auto& [name, s] : series) chart.series.push_back(s);
    chart.points_only = true;  // one dot per shape
    const std::string bw = number_text(gbps / 1e3, "%.9g"), peak = number_text(tflops, "%.9g");
    chart.setup = "set samples 500\nset xrange [0.05:2000]\n";
    chart.extra_plots.push_back("(x * " + bw + " < " + peak + " ? x * " + bw + " : " + peak +
                                ") with lines dashtype 2 linewidth 2 linecolor rgb \"black\" title \"measured ceilings\"");
    md += add(chart);
  }
  return md;
}

std::string ReportWriter::int8_section() {
  std::string md;
  std::map<std::string, int> widest_batch;  // scope -> largest batch with int8 decode rows
  for (const Measured* m : best_)
    if (m->phase == "decode" && m->kv_dtype == "int8" && !m->peer())
      widest_batch[m->scope()] = std::max(widest_batch[m->scope()], m->batch);
  for (const auto& [scope, batch] : widest_batch) {
    std::set<int> int8_kv_heads;
    for (const Measured* m : best_)
      if (m->scope() == scope && m->phase == "decode" && m->kv_dtype == "int8" && m->batch == batch)
        int8_kv_heads.insert(m->kv_heads);
    // context -> (best int8 row, best unquantized row with the same KV heads)
    std::map<int, std::pair<const Measured*, const Measured*>> pairs;
    std::map<std::string, Series> series;
    for (const Measured* m : best_) {
      if (m->scope() != scope || m->phase != "decode" || m->batch != batch || !int8_kv_heads.count(m->kv_heads) ||
          m->peer())
        continue;
      Series& s = series[series_name(*m) + " (" + m->kv_dtype + " cache)"];
      s.name = series_name(*m) + " (" + m->kv_dtype + " cache)";
      s.points.emplace_back(m->context, m->tokens_per_s);
      auto& [int8, wide] = pairs[m->context];
      const Measured*& slot = m->kv_dtype == "int8" ? int8 : wide;
      if (!slot || m->tokens_per_s > slot->tokens_per_s) slot = m;
    }
    LineChart chart;
    chart.title = "Decode with an INT8 vs an unquantized KV cache, batch " + std::to_string(batch) + " (" + scope + ")";
    chart.stem = "int8_vs_unquantized_" + scope_stem(scope) + "_batch" + std::to_string(batch);
    chart.xlabel = "context (tokens)";
    chart.ylabel = "tokens/s";
    for (const auto& [name, s] : series) chart.series.push_back(s);
    md += add(chart);
    md += "| context | INT8 plugin | tokens/s | KV bytes/token | best unquantized plugin | tokens/s | KV bytes/token | speedup |\n"
          "| ---: | --- | ---: | ---: | --- | ---: | ---: | ---: |\n";
    for (const auto& [context, pair] : pairs) {
      const auto [int8, wide] = pair;
      if (!int8 || !wide) continue;
      md += "| " + std::to_string(context) + " | " + int8->plugin + " | " + number_text(int8->tokens_per_s) + " | " +
            number_text(int8->kv_bytes_per_token, "%.0f") + " | " + wide->plugin + " | " +
            number_text(wide->tokens_per_s) + " | " + number_text(wide->kv_bytes_per_token, "%.0f") + " | " +
            number_text(int8->tokens_per_s / wide->tokens_per_s, "%.2f") + "x |\n";
    }
    md += "\n";
  }
  return md;
}

std::string ReportWriter::tunable_section() {
  // scope, plugin, phase and shape -> rows with tunables
  std::map<std::string, std::vector<const Measured*>> groups;
  for (const Measured& m : rows_)
    if (m.status == "ok" && !m.tunables.empty()) groups[m.shape()].push_back(&m);
  std::string md;
  for (const auto& [shape, rows] : groups) {
    const Measured& first = *rows.front();
    std::vector<std::string> names;
    for (const auto& [name, value] : parse_tunables(first.tunables)) names.push_back(name);
    const std::string title = first.plugin + " " + first.phase + ", batch " + std::to_string(first.batch) +
                              ", context " + std::to_string(first.context) + ", " + first.dtype;
    std::map<std::string, std::set<int64_t>> values;
    for (const Measured* m : rows)
      for (const auto& [name, value] : parse_tunables(m->tunables)) values[name].insert(value);
    if (names.size() == 1) {
      LineChart chart;
      chart.title = "Time vs " + names[0] + ": " + title;
      chart.stem = chart_stem("tunable_" + first.plugin + "_" + first.phase + "_b" + std::to_string(first.batch) +
                              "_ctx" + std::to_string(first.context));
      chart.xlabel = names[0];
      chart.ylabel = "time per call (µs)";
      Series s{first.plugin, {}};
      for (const Measured* m : rows) s.points.emplace_back(parse_tunables(m->tunables)[names[0]], m->time_p50 * 1e6);
      chart.series.push_back(s);
      md += add(chart);
      continue;
    }
    // Two or more: a heatmap of the first two, each cell the fastest over the others.
    Heatmap map;
    map.title = title + ": µs per call";
    map.stem = chart_stem("tunable_" + first.plugin + "_" + first.phase + "_b" + std::to_string(first.batch) +
                          "_ctx" + std::to_string(first.context));
    map.xlabel = names[0];
    map.ylabel = names[1];
    map.zlabel = "µs";
    const std::vector<int64_t> xs(values[names[0]].begin(), values[names[0]].end());
    const std::vector<int64_t> ys(values[names[1]].begin(), values[names[1]].end());
    for (int64_t x : xs) map.x_values.push_back(std::to_string(x));
    for (int64_t y : ys) map.y_values.push_back(std::to_string(y));
    map.z.assign(ys.size(), std::vector<double>(xs.size(), NAN));
    for (const Measured* m : rows) {
      auto t = parse_tunables(m->tunables);
      const std::size_t xi = std::lower_bound(xs.begin(), xs.end(), t[names[0]]) - xs.begin();
      const std::size_t yi = std::lower_bound(ys.begin(), ys.end(), t[names[1]]) - ys.begin();
      double& cell = map.z[yi][xi];
      cell = std::isnan(cell) ? m->time_p50 * 1e6 : std::min(cell, m->time_p50 * 1e6);
    }
    md += add(map);
  }
  return md;
}

double x_batch(const Measured& m) { return m.batch; }
double x_context(const Measured& m) { return m.context; }
double y_tokens(const Measured& m) { return m.tokens_per_s; }
double y_tpot_us(const Measured& m) { return m.tpot_p50 * 1e6; }
double y_ttft_ms(const Measured& m) { return m.ttft * 1e3; }
double y_bandwidth(const Measured& m) { return m.bandwidth_pct; }
double y_compute(const Measured& m) { return m.compute_pct; }

std::string ReportWriter::markdown_charts() {
  std::string md;
  auto section = [&](const std::string& heading, const std::string& body, const std::string& intro = "") {
    if (!body.empty()) md += "## " + heading + "\n\n" + intro + body;
  };
  section("Decode throughput vs batch",
          charts("decode", "tokens_vs_batch", "Decode tokens/s vs batch", "context", "batch (sequences)", "tokens/s", true, x_batch, y_tokens),
          "One decode step per sequence per call; tokens/s = batch / time per step.\n\n");
  section("Latency vs context",
          charts("decode", "tpot_vs_context", "Time per output token vs context", "batch", "context (tokens)", "µs per step (p50)", true, x_context, y_tpot_us) +
              charts("prefill", "ttft_vs_prompt", "Time to first token vs prompt", "batch", "prompt (tokens)", "ms (p50)", true, x_context, y_ttft_ms));
  section("KV cache memory vs context", kv_memory_charts(),
          "Bytes the plugin's own format stores per token (scales included), times the context and "
          "the preset's layers.\n\n");
  section("Percent of the measured ceilings",
          charts("decode", "decode_bandwidth_pct", "Decode % of copy bandwidth vs context", "batch", "context (tokens)", "% of measured copy bandwidth", false, x_context, y_bandwidth, "copy bandwidth") +
              charts("prefill", "prefill_compute_pct", "Prefill % of GEMM FLOP/s vs prompt", "batch", "prompt (tokens)", "% of measured GEMM FLOP/s", false, x_context, y_compute, "GEMM rate") +
              roofline_charts(),
          "Both ceilings were measured on the same device in the same run: a large device-to-device "
          "copy (bytes read + written) and a large GEMM.\n\n");
  section("INT8 vs unquantized KV cache", int8_section(),
          "Decode tokens/s of the plugins with an INT8 cache against the plugins whose cache stores the "
          "query dtype (fp16/bf16 on the GPU, fp32 on the CPU), with "
          "the same KV heads, at the largest batch measured.\n\n");
  section("Tunables", tunable_section(), "Time per call for every tunable setting measured.\n\n");
  return md;
}

std::string ReportWriter::markdown_tables() const {
  std::string md;
  auto table = [&](const std::string& phase, const std::string& heading, const std::string& columns,
                   std::string (*cells)(const Measured&)) {
    std::string body;
    for (const Measured* m : best_)
      if (m->phase == phase)
        body += "| " + m->plugin + " | " + m->backend + " | " + m->dtype + "/" + m->kv_dtype + " | " +
                std::to_string(m->q_heads) + "/" + std::to_string(m->kv_heads) + "x" + std::to_string(m->head_dim) +
                " | " + std::to_string(m->batch) +
                " | " + std::to_string(m->context) + " | " + cells(*m) + " | " +
                (m->tunables.empty() ? "" : "`" + m->tunables + "`") + " |\n";
    if (body.empty()) return;
    std::string separator;
    for (std::size_t i = 1; i < static_cast<std::size_t>(std::count(columns.begin(), columns.end(), '|')); ++i)
      separator += "| ---: ";
    md += "### " + heading + "\n\n| plugin | backend | dtype/cache | heads | batch | context " + columns +
          " tunables |\n| --- | --- | --- | --- | ---: | ---: " + separator + "| --- |\n" + body + "\n";
  };
  table("decode", "Decode", "| TPOT p50 | p95 | p99 | tokens/s | GB/s | % copy BW | bound |", [](const Measured& m) {
    return seconds_text(m.tpot_p50) + " | " + seconds_text(m.tpot_p95) + " | " + seconds_text(m.tpot_p99) + " | " +
           number_text(m.tokens_per_s) + " | " + number_text(m.gbps) + " | " + number_text(m.bandwidth_pct, "%.0f") +
           " | " + m.bound;
  });
  table("prefill", "Prefill", "| TTFT p50 | tokens/s | TFLOP/s | % GEMM | GB/s | bound |", [](const Measured& m) {
    return seconds_text(m.ttft) + " | " + number_text(m.tokens_per_s) + " | " + number_text(m.tflops) + " | " +
           number_text(m.compute_pct, "%.0f") + " | " + number_text(m.gbps) + " | " + m.bound;
  });
  table("generate", "Generate (prefill, then decode steps)", "| steps | TTFT | TPOT p50 | p95 | p99 | tokens/s |",
        [](const Measured& m) {
          return std::to_string(m.steps) + " | " + seconds_text(m.ttft) + " | " + seconds_text(m.tpot_p50) + " | " +
                 seconds_text(m.tpot_p95) + " | " + seconds_text(m.tpot_p99) + " | " + number_text(m.tokens_per_s);
        });
  std::string failed;
  for (const Measured& m : rows_)
    if (m.status != "ok")
      failed += "| " + m.plugin + " | " + m.backend + " | " + m.phase + " | " + m.dtype + " | " +
                std::to_string(m.batch) + " | " + std::to_string(m.context) + " | " + m.status + " | " + m.message + " |\n";
  if (!failed.empty())
    md += "### Rows that did not run\n\n| plugin | backend | phase | dtype | batch | context | status | why |\n"
          "| --- | --- | --- | --- | ---: | ---: | --- | --- |\n" + failed + "\n";
  return md;
}

std::string tune_tables(const std::vector<ResultTable>& tables) {
  std::string md;
  for (const ResultTable& t : tables) {
    md += "### " + t.file.filename().string() + "\n\n| plugin | preset | dtype/cache | context | budget | TPOT target | "
          "largest batch | limited by | TPOT p95 | tokens/s | KV cache |\n"
          "| --- | --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |\n";
    for (std::size_t i = 0; i < t.rows.size(); ++i)
      md += "| " + t.at(i, "plugin") + " | " + t.at(i, "preset") + " | " + t.at(i, "dtype") + "/" + t.at(i, "kv_dtype") +
            " | " + t.at(i, "context") + " | " + bytes_text(t.number(i, "budget_bytes")) + " | " + seconds_text(t.number(i, "tpot_target_s")) + " | " +
            (t.at(i, "status") == "ok" ? t.at(i, "batch") : t.at(i, "status") + ": " + t.at(i, "message")) + " | " +
            t.at(i, "limit") + " | " + seconds_text(t.number(i, "tpot_p95_s")) + " | " +
            number_text(t.number(i, "tokens_per_s")) + " | " +
            bytes_text(t.number(i, "kv_cache_bytes")) + " |\n";
    md += "\n";
  }
  return md;
}

template <typename Get>
std::string distinct(const std::vector<Measured>& rows, Get get, const std::string& separator = ", ") {
  std::set<std::string> values;
  for (const Measured& m : rows)
    if (!get(m).empty()) values.insert(get(m));
  std::string text;
  for (const std::string& v : values) text += (text.empty() ? "" : separator) + v;
  return text.empty() ? "-" : text;
}

std::string header_section(const std::vector<Measured>& rows, const std::vector<std::string>& files) {
  std::map<std::string, int> statuses;
  for (const Measured& m : rows) ++statuses[m.status];
  std::string counts;
  for (const auto& [status, n] : statuses) counts += (counts.empty() ? "" : ", ") + std::to_string(n) + " " + status;
  std::string md = "# attnbench report\n\n";
  md += std::to_string(rows.size()) + " bench rows (" + (counts.empty() ? "none" : counts) + ") from ";
  for (std::size_t i = 0; i < files.size(); ++i) md += (i ? ", " : "") + std::string("`") + files[i] + "`";
  md += ".\n\n| | |\n| --- | --- |\n";
  md += "| device | " + distinct(rows, [](const Measured& m) { return m.device + (m.backend == "cpu" ? " (CPU path)" : " (CUDA, driver " + m.driver + ")"); }) + " |\n";
  md += "| commit | " + distinct(rows, [](const Measured& m) { return m.commit; }) + " |\n";
  md += "| measured | " + distinct(rows, [](const Measured& m) { return m.date; }, " .. ") + " |\n";
  md += "| commands | " + distinct(rows, [](const Measured& m) { return "`" + m.command + "`"; }, "<br>") + " |\n\n";
  std::map<std::string, std::pair<double, double>> ceilings;
  for (const Measured& m : rows)
    if (!std::isnan(m.ceiling_gbps))
      ceilings[m.device + " | " + m.dtype + " | " + m.date] = {m.ceiling_gbps, m.ceiling_tflops};
  if (!ceilings.empty()) {
    md += "Ceilings, measured in each run on its own device:\n\n| device | dtype | run started | copy GB/s | GEMM TFLOP/s |\n"
          "| --- | --- | --- | ---: | ---: |\n";
    for (const auto& [key, c] : ceilings)
      md += "| " + key + " | " + number_text(c.first, "%.1f") + " | " + number_text(c.second, "%.3g") + " |\n";
    md += "\n";
  }
  md += "How to read it: times are one attention call of one layer (prefill: append the prompt's K/V "
        "and attend; decode: append one token per sequence and attend; generate: the prefill then "
        "each decode step), medians unless marked, the GPU's L2 flushed before every call (the CPU's caches are not). FLOPs count "
        "4·D per (query, key) pair and head (causal prefill: 2·2·B·H·S²·D/2); bytes are what must "
        "cross the memory bus at least once, decode bytes as the plugin reports them. A row is "
        "memory-bound when its FLOP per byte is below the ratio of the two measured ceilings. "
        "Plugins with tunables appear in charts and tables with their fastest setting.\n\n";
  if (std::any_of(rows.begin(), rows.end(), [](const Measured& m) { return m.peer(); }))
    md += "Peers: rows of backend `pytorch` are PyTorch's `scaled_dot_product_attention` with one backend "
          "(`torch_sdpa_cudnn`, `torch_sdpa_flash`), timed the same way on the same shapes by "
          "`scripts/peers/sdpa_peers.py` over a dense (not paged) KV cache; bytes and FLOPs are counted "
          "as for a plugin with the plain cache format. They are never the baseline of the INT8 "
          "comparison.\n\n";
  return md;
}

// Moves the finished report into place; an existing report folder is replaced.
void publish(const fs::path& temp, const fs::path& out) {
  const fs::path old = out.string() + ".old-" + std::to_string(getpid());
  const bool replace = fs::exists(out);
  if (replace) fs::rename(out, old);
  fs::rename(temp, out);
  if (replace) fs::remove_all(old);
}

}  // namespace

int run_report(const std::vector<std::string>& args) {
  po::options_description options("report options");
  options.add_options()
      ("files", po::value<std::vector<std::string>>()->value_name("FILE.csv"), "bench or tune result files")
      ("out", po::value<std::string>()->value_name("DIR"), "folder for report.md and charts/ (required)");
  po::positional_options_description positional;
  positional.add("files", -1);
  po::variables_map vm;
  if (!parse("report", "FILE.csv... --out DIR", options, args, vm, &positional)) return kSuccess;
  if (!vm.count("files")) throw UsageError("expected at least one result file");
  if (!vm.count("out")) throw UsageError("--out DIR is required");
  const fs::path out = fs::absolute(vm["out"].as<std::string>()).lexically_normal();
  if (fs::exists(out) && (!fs::is_directory(out) || (!fs::is_empty(out) && !fs::exists(out / "report.md"))))
    throw UsageError(out.string() + " exists and is not a report folder; choose another --out");

  const std::vector<std::string> files = vm["files"].as<std::vector<std::string>>();
  std::vector<Measured> rows;
  std::vector<ResultTable> tune;
  try {
    for (const std::string& f : files) {
      ResultTable t = read_results(f);
      if (t.schema == &bench_schema()) {
        std::vector<Measured> more = measured_rows(t);
        rows.insert(rows.end(), more.begin(), more.end());
      } else {
        tune.push_back(std::move(t));
      }
    }
  } catch (const ResultFileError& e) {
    throw UsageError(e.what());
  }

  const fs::path temp = out.string() + ".tmp-" + std::to_string(getpid());
  fs::remove_all(temp);
  try {
    fs::create_directories(temp);
    std::set<std::string> devices;
    for (const Measured& m : rows) devices.insert(m.device);
    ReportWriter writer(temp, rows, devices.size() > 1);
    std::string md = header_section(rows, files) + writer.markdown_charts();
    const std::string tables = writer.markdown_tables();
    if (!tables.empty()) md += "## Tables\n\n" + tables;
    if (!tune.empty()) md += "## Largest batch within the memory budget and the TPOT target (tune)\n\n" + tune_tables(tune);
    draw_charts(temp / "charts", writer.scripts());
    std::ofstream(temp / "report.md") << md;
    publish(temp, out);
  } catch (...) {
    fs::remove_all(temp);
    throw;
  }
  std::printf("report: %s/report.md\n", out.string().c_str());
  return kSuccess;
}

}  // namespace attnbench::cli
