// `attnbench report`: the CSV round trip (bench writes, the parser reads back, report draws),
// the INT8 and tunable sections, and bad input or a missing gnuplot that leave no partial
// report behind. What needs gnuplot's charts skips where it is not installed.
#include <attnbench/core/csv_writer.hpp>
#include <attnbench/core/result_reader.hpp>
#include <attnbench/core/result_schema.hpp>

#include "cli_support.hpp"

#include <fstream>
#include <regex>
#include <sstream>

using namespace attnbench;
using namespace attnbench::test;
namespace fs = std::filesystem;

namespace {

std::string read_text(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Every chart the page shows exists as PNG and SVG, with its gnuplot script and data.
void expect_charts_exist(const fs::path& report) {
  const std::string md = read_text(report / "report.md");
  const std::regex image(R"(\(charts/([a-z0-9_-]+)\.png\))");
  int charts = 0;
  for (auto it = std::sregex_iterator(md.begin(), md.end(), image); it != std::sregex_iterator(); ++it, ++charts)
    for (const char* ext : {".png", ".svg", ".gp", ".dat"}) {
      const fs::path file = report / "charts" / ((*it)[1].str() + ext);
      EXPECT_TRUE(fs::exists(file) && fs::file_size(file) > 0) << file;
    }
  EXPECT_GT(charts, 0);
}

// No "<out>.tmp-*" or "<out>.old-*" left beside the report folder.
void expect_no_leftovers(const fs::path& dir) {
  for (const auto& entry : fs::directory_iterator(dir))
    EXPECT_EQ(entry.path().filename().string().find(".tmp-"), std::string::npos) << entry.path();
}

RowBuilder decode_row(const std::string& plugin, const std::string& kv_dtype, int context, double tokens_per_s) {
  RowBuilder row(bench_schema());
  row.set("plugin", plugin).set("device", "Test GPU").set("backend", "cuda").set("phase", "decode");
  row.set("dtype", "fp16").set("kv_dtype", kv_dtype).set("preset", "llama3-8b").set_int("layers", 32);
  row.set_int("q_heads", 32).set_int("kv_heads", 8).set_int("head_dim", 128);
  row.set_int("batch", 32).set_int("context", context).set_int("steps", 1).set("status", "ok");
  row.set("time_p50_s", 32 / tokens_per_s).set("tpot_p50_s", 32 / tokens_per_s).set("tokens_per_s", tokens_per_s);
  row.set("kv_bytes_per_token", kv_dtype == "int8" ? 2176.0 : 4096.0);
  row.set("gbps", 2500.0).set("tflops", 5.0).set("ceiling_gbps", 3000.0).set("ceiling_tflops", 700.0);
  row.set("bandwidth_pct", 83.0).set("compute_pct", 0.7).set("intensity", 2.0).set("bound", "memory");
  return row;
}

}  // namespace

TEST(ReportCli, RoundTripFromBenchToChartsAndTables) {
  const fs::path dir = fresh_dir("report_round_trip");
  const fs::path csv = dir / "bench.csv";
  const CommandResult bench = run_attnbench(
      "bench --plugins " + plugin_dir() + " --device cpu --plugin mha,gqa --batch 1,2 --context 16,48 --steps 2"
      " --min-time 0.005 --max-time 0.03 --warmup 0 --out " + csv.string());
  ASSERT_EQ(bench.exit_code, 0) << bench.output;
  const ResultTable table = read_results(csv);  // the parser reads back what the writer wrote
  ASSERT_EQ(table.rows.size(), 2u * 3 * 2 * 2);
  EXPECT_EQ(table.schema, &bench_schema());

  // The bench half above runs everywhere; the report half needs gnuplot.
  if (!cli::gnuplot_installed()) fs::remove_all(dir);
  ATTNB_SKIP_WITHOUT_GNUPLOT();
  const CommandResult report = run_attnbench("report " + csv.string() + " --out " + (dir / "report").string());
  ASSERT_EQ(report.exit_code, 0) << report.output;
  const std::string md = read_text(dir / "report" / "report.md");
  for (const char* expected : {"Decode throughput vs batch", "Latency vs context", "KV cache memory vs context",
                               "Percent of the measured ceilings", "Roofline", "### Decode", "### Prefill",
                               "### Generate", "| mha |", "| gqa |", "Ceilings"})
    EXPECT_NE(md.find(expected), std::string::npos) << expected;
  EXPECT_EQ(md.find("INT8"), std::string::npos);  // no int8 plugin rows: no such section
  expect_charts_exist(dir / "report");

  // A second report into the same folder replaces the first.
  std::ofstream(dir / "report" / "stale.txt") << "from before";
  ASSERT_EQ(run_attnbench("report " + csv.string() + " --out " + (dir / "report").string()).exit_code, 0);
  EXPECT_FALSE(fs::exists(dir / "report" / "stale.txt"));
  expect_no_leftovers(dir);
  fs::remove_all(dir);
}

TEST(ReportCli, Int8AgainstAnUnquantizedCacheAndTunableHeatmap) {
  ATTNB_SKIP_WITHOUT_GNUPLOT();
  const fs::path dir = fresh_dir("report_int8");
  const fs::path csv = dir / "gpu.csv";
  {
    CsvWriter out(csv, bench_schema().columns);
    for (int context : {4096, 32768}) {
      out.write_row(decode_row("gqa", "fp16", context, 1000).values());
      out.write_row(decode_row("int8_kv", "int8", context, 1800).values());
      for (int tile_q : {64, 128})  // the fastest: 900 + 128 + 128 = 1156 tokens/s
        for (int tile_kv : {32, 64, 128})
          out.write_row(decode_row("fused", "fp16", context, 900 + tile_q + tile_kv)
                            .set("tunables", "tile_kv=" + std::to_string(tile_kv) + ";tile_q=" + std::to_string(tile_q))
                            .values());
    }
  }
  const CommandResult r = run_attnbench("report " + csv.string() + " --out " + (dir / "r").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string md = read_text(dir / "r" / "report.md");
  EXPECT_NE(md.find("INT8 vs unquantized KV cache"), std::string::npos);
  EXPECT_NE(md.find("| 4096 | int8_kv | 1.8e+03 | 2176 | fused | 1.16e+03 | 4096 | 1.56x |"), std::string::npos) << md;
  EXPECT_NE(md.find("## Tunables"), std::string::npos);
  EXPECT_NE(md.find("charts/tunable_fused_decode_b32_ctx4096.png"), std::string::npos) << md;
  // The fused plugin's fastest setting stands for it in the tables.
  EXPECT_NE(md.find("`tile_kv=128;tile_q=128`"), std::string::npos);
  expect_charts_exist(dir / "r");
  const std::string heatmap = read_text(dir / "r" / "charts" / "tunable_fused_decode_b32_ctx4096.gp");
  EXPECT_NE(heatmap.find("with image"), std::string::npos);
  fs::remove_all(dir);
}

TEST(ReportCli, WithoutGnuplotItSaysSoAndWritesNothing) {
  const fs::path dir = fresh_dir("report_no_gnuplot");
  const fs::path csv = dir / "gpu.csv";
  CsvWriter(csv, bench_schema().columns).write_row(decode_row("gqa", "fp16", 4096, 1000).values());
  // A PATH of nothing hides gnuplot wherever it is installed.
  const CommandResult r =
      run_attnbench("report " + csv.string() + " --out " + (dir / "r").string(), "PATH=" + (dir / "empty").string());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_EQ(line_count(r.output), 1) << r.output;
  EXPECT_NE(r.output.find("gnuplot not found"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir / "r"));
  expect_no_leftovers(dir);
  fs::remove_all(dir);
}

TEST(ReportCli, AMalformedCsvFailsNamingFileAndLineAndWritesNothing) {
  const fs::path dir = fresh_dir("report_malformed");
  const fs::path good = dir / "good.csv", bad = dir / "bad.csv";
  {
    CsvWriter out(good, bench_schema().columns);
    out.write_row(decode_row("gqa", "fp16", 4096, 1000).values());
  }
  {
    std::ofstream out(bad);
    out << read_text(good) << "gqa,1.0,abc,\"unterminated\n";  // line 3
  }
  const CommandResult r = run_attnbench("report " + good.string() + " " + bad.string() + " --out " + (dir / "r").string());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(line_count(r.output), 1) << r.output;
  EXPECT_NE(r.output.find("bad.csv"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("line 3"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir / "r"));
  expect_no_leftovers(dir);

  // A number column that holds something else is malformed too.
  {
    std::ofstream out(bad);
    RowBuilder row = decode_row("gqa", "fp16", 4096, 1000);
    out << read_text(good);
    std::vector<std::string> values = row.set("tokens_per_s", "fast").values();
    std::string line;
    for (std::size_t i = 0; i < values.size(); ++i) line += (i ? "," : "") + csv_field(values[i]);
    out << line << "\n";
  }
  const CommandResult number = run_attnbench("report " + bad.string() + " --out " + (dir / "r").string());
  EXPECT_EQ(number.exit_code, 2);
  EXPECT_NE(number.output.find("bad.csv: line 3: column tokens_per_s"), std::string::npos) << number.output;
  EXPECT_FALSE(fs::exists(dir / "r"));

  // Unreadable, not a result file, a folder that is not a report: exit 2 as well.
  EXPECT_EQ(run_attnbench("report " + (dir / "missing.csv").string() + " --out " + (dir / "r").string()).exit_code, 2);
  std::ofstream(dir / "notes.csv") << "a,b\n1,2\n";
  const CommandResult other = run_attnbench("report " + (dir / "notes.csv").string() + " --out " + (dir / "r").string());
  EXPECT_EQ(other.exit_code, 2);
  EXPECT_NE(other.output.find("notes.csv: line 1"), std::string::npos) << other.output;
  fs::create_directories(dir / "precious");
  std::ofstream(dir / "precious" / "thesis.tex") << "do not delete";
  EXPECT_EQ(run_attnbench("report " + good.string() + " --out " + (dir / "precious").string()).exit_code, 2);
  EXPECT_TRUE(fs::exists(dir / "precious" / "thesis.tex"));
  EXPECT_FALSE(fs::exists(dir / "r"));
  expect_no_leftovers(dir);
  fs::remove_all(dir);
}
