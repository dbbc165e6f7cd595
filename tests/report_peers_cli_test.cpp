// `attnbench report` with peers' rows (backend pytorch, written by scripts/peers/sdpa_peers.py):
// shown beside the plugins with their backend, explained once, and never taken as the
// unquantized baseline of the INT8 comparison.
#include <attnbench/core/csv_writer.hpp>
#include <attnbench/core/result_schema.hpp>

#include "cli_support.hpp"

#include <fstream>
#include <sstream>

using namespace attnbench;
using namespace attnbench::test;
namespace fs = std::filesystem;

namespace {

std::string text_of(const fs::path& file) {
  std::stringstream text;
  text << std::ifstream(file).rdbuf();
  return text.str();
}

// A decode row of llama3-8b fp16 (32 query heads, 8 KV heads) at `batch` x 4096 cached tokens.
std::vector<std::string> row(const std::string& plugin, const std::string& backend, const std::string& kv_dtype,
                             int batch, double tokens_per_s) {
  RowBuilder r(bench_schema());
  r.set("plugin", plugin).set("backend", backend).set("device", "Test GPU").set("driver", "13.0");
  r.set("phase", "decode").set("dtype", "fp16").set("kv_dtype", kv_dtype).set("preset", "llama3-8b");
  r.set_int("q_heads", 32).set_int("kv_heads", 8).set_int("head_dim", 128).set_int("layers", 32);
  r.set("pages", backend == "pytorch" ? "dense" : "shuffled").set_int("page_size", backend == "pytorch" ? 0 : 16);
  r.set_int("batch", batch).set_int("context", 4096).set_int("steps", 1).set("status", "ok");
  r.set("time_p50_s", batch / tokens_per_s).set("tpot_p50_s", batch / tokens_per_s).set("tokens_per_s", tokens_per_s);
  r.set("kv_bytes_per_token", kv_dtype == "int8" ? 2112.0 : 4096.0).set("gbps", 2000.0).set("tflops", 4.0);
  r.set("ceiling_gbps", 3000.0).set("ceiling_tflops", 700.0).set("bandwidth_pct", 66.0).set("compute_pct", 0.6);
  r.set("intensity", 2.0).set("bound", "memory");
  return r.values();
}

}  // namespace

TEST(ReportPeers, PeersBesidePluginsNeverTheInt8Baseline) {
  ATTNB_SKIP_WITHOUT_GNUPLOT();
  const fs::path dir = fresh_dir("report_peers");
  const fs::path plugins = dir / "bench.csv", peers = dir / "peers.csv";
  {
    CsvWriter out(plugins, bench_schema().columns);
    for (int batch : {8, 32}) {
      out.write_row(row("gqa", "cuda", "fp16", batch, 1000.0 * batch / 32));
      out.write_row(row("int8_kv", "cuda", "int8", batch, 1800.0 * batch / 32));
    }
  }
  {
    CsvWriter out(peers, bench_schema().columns);
    for (int batch : {8, 32})  // faster than gqa: were it a baseline, the speedup would drop below 1
      out.write_row(row("torch_sdpa_flash", "pytorch", "fp16", batch, 2500.0 * batch / 32));
    std::vector<std::string> refused = row("torch_sdpa_cudnn", "pytorch", "fp16", 32, 1);
    refused[bench_schema().index("status")] = "unsupported";
    refused[bench_schema().index("message")] = "PyTorch refused cudnn for this shape";
    out.write_row(refused);
  }
  const CommandResult r = run_attnbench("report " + plugins.string() + " " + peers.string() + " --out " + (dir / "r").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string md = text_of(dir / "r" / "report.md");

  EXPECT_NE(md.find("| plugin | backend | dtype/cache |"), std::string::npos) << md;
  EXPECT_NE(md.find("| gqa | cuda | fp16/fp16 | 32/8x128 | 32 | 4096 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| torch_sdpa_flash | pytorch | fp16/fp16 | 32/8x128 | 32 | 4096 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| torch_sdpa_cudnn | pytorch | decode | fp16 | 32 | 4096 | unsupported | PyTorch refused"),
            std::string::npos) << md;
  EXPECT_NE(md.find("Peers: rows of backend `pytorch`"), std::string::npos) << md;
  // INT8 against the fastest unquantized plugin (gqa), not against the faster peer.
  EXPECT_NE(md.find("| 4096 | int8_kv | 1.8e+03 | 2112 | gqa | 1e+03 | 4096 | 1.80x |"), std::string::npos) << md;
  const std::string int8 = md.substr(md.find("## INT8"), md.find("## Tables") - md.find("## INT8"));
  EXPECT_EQ(int8.find("torch_sdpa"), std::string::npos) << int8;
  // The throughput chart draws the peer as a series of its own.
  EXPECT_NE(text_of(dir / "r" / "charts" / "tokens_vs_batch_llama3-8b_fp16_context4096.gp").find("torch_sdpa_flash"),
            std::string::npos);

  // Without peers' rows, no word about them.
  ASSERT_EQ(run_attnbench("report " + plugins.string() + " --out " + (dir / "plain").string()).exit_code, 0);
  EXPECT_EQ(text_of(dir / "plain" / "report.md").find("Peers:"), std::string::npos);
  fs::remove_all(dir);
}
