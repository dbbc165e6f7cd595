"""scripts/headline.py: every number of the README's headline table comes from the CSVs, the
rows compared run the preset's own KV heads, INT8 is compared with the fastest unquantized
plugin, and a table made from CPU results says so."""

import csv
import os
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts", "peers"))

import cpp_source  # noqa: E402
import result_csv  # noqa: E402

SCHEMA = cpp_source.bench_schema()


def headline(*args):
    r = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "headline.py"), *args], capture_output=True,
                       text=True)
    return r.returncode, r.stdout, r.stderr


def bench_row(plugin, phase, batch, context, tokens_per_s, kv_heads=8, kv_dtype="fp16", backend="cuda", **values):
    row = result_csv.Row(SCHEMA)
    for column, value in dict(plugin=plugin, backend=backend, device="Test GPU", commit="abc123", date="2026-01-01",
                              phase=phase, dtype="fp16", kv_dtype=kv_dtype, preset="llama3-8b", q_heads="32",
                              kv_heads=str(kv_heads), head_dim="128", layers="32", window="0", batch=str(batch),
                              context=str(context), status="ok", tokens_per_s=tokens_per_s, **values).items():
        row.set(column, value)
    return row


class HeadlineFromCsvs(unittest.TestCase):
    def test_numbers_come_from_the_rows(self):
        with tempfile.TemporaryDirectory() as d:
            w = result_csv.CsvWriter(os.path.join(d, "bench.csv"), SCHEMA)
            w.write_row(bench_row("gqa", "decode", 32, 4096, 1000.0, gbps=2500.0, bandwidth_pct=83.0))
            w.write_row(bench_row("fused", "decode", 32, 4096, 1100.0, gbps=2700.0, bandwidth_pct=90.0))
            w.write_row(bench_row("mqa", "decode", 32, 4096, 5000.0, kv_heads=1, gbps=900.0, bandwidth_pct=30.0))
            w.write_row(bench_row("int8_kv", "decode", 32, 4096, 1650.0, kv_dtype="int8", gbps=2000.0,
                                  bandwidth_pct=66.0))
            w.write_row(bench_row("fused", "prefill", 4, 4096, 9e5, tflops=401.0, compute_pct=57.0))
            w.write_row(bench_row("gqa", "prefill", 4, 4096, 1e5, tflops=40.0, compute_pct=6.0).set("status", "error"))
            w.close()
            w = result_csv.CsvWriter(os.path.join(d, "peers.csv"), SCHEMA)
            w.write_row(bench_row("torch_sdpa_flash", "decode", 32, 4096, 1200.0, backend="pytorch", gbps=2950.0,
                                  bandwidth_pct=98.0))
            w.write_row(bench_row("torch_sdpa_cudnn", "prefill", 4, 4096, 1e6, kv_heads=32, backend="pytorch",
                                  tflops=520.0, compute_pct=74.0))
            w.close()
            with open(os.path.join(d, "tune.csv"), "w", newline="") as f:
                t = csv.DictWriter(f, ["plugin", "device", "backend", "commit", "date", "preset", "dtype", "kv_dtype",
                                       "kv_heads", "layers", "context", "tunables", "budget_bytes", "tpot_target_s",
                                       "status", "batch", "tokens_per_s"])
                t.writeheader()
                common = dict(device="Test GPU", backend="cuda", commit="abc123", date="2026-01-01", preset="llama3-8b",
                              dtype="fp16", kv_heads="8", layers="32", context="4096", tunables="",
                              budget_bytes=str(72 * 2**30), tpot_target_s="0.02", status="ok")
                t.writerow(dict(common, plugin="gqa", kv_dtype="fp16", batch="512", tokens_per_s="20000"))
                t.writerow(dict(common, plugin="int8_kv", kv_dtype="int8", batch="1024", tokens_per_s="30000"))
            code, out, err = headline(d, "--decode", "32x4096,8x32768", "--prefill", "4x4096")
            self.assertEqual(code, 0, err)
            self.assertIn("on Test GPU** (commit abc123", out)
            self.assertIn("| batch 32 x 4096 | fused: 2.7e+03 (90.0%) | torch_sdpa_flash: 2.95e+03 (98.0%) |", out)
            self.assertIn("| batch 8 x 32768 | not measured | not measured |", out)
            self.assertIn("| batch 4 x 4096, causal | fused: 401 (57.0%) | torch_sdpa_cudnn (K/V repeated): 520 (74.0%) |",
                          out)
            self.assertIn("int8_kv: 1.50x the tokens/s of fused (fp16 cache)", out)
            self.assertIn("| largest batch within 72 GiB and p95 TPOT 20 ms (32 layers) | context 4096 | "
                          "gqa: 512 (2e+04 tokens/s); int8_kv: 1024 (3e+04 tokens/s) | - |", out)
            self.assertNotIn("mqa", out)  # another model's KV heads
            self.assertIn("chart not drawn yet", out)

    def test_a_cpu_table_says_cpu(self):
        code, out, err = headline(os.path.join(ROOT, "results", "cpu"), "--preset", "cpu-small", "--dtype", "fp32",
                                  "--decode", "4x512", "--prefill", "4x128")
        self.assertEqual(code, 0, err)
        self.assertIn("(CPU path)", out)
        with open(os.path.join(ROOT, "results", "cpu", "bench.csv"), newline="") as f:
            rows = [r for r in csv.DictReader(f) if (r["phase"], r["batch"], r["context"], r["kv_heads"], r["kv_dtype"],
                                                      r["status"]) == ("decode", "4", "512", "2", "fp32", "ok")]
        best = max(rows, key=lambda r: float(r["tokens_per_s"]))
        self.assertIn("| batch 4 x 512 | %s: %.3g (%.1f%%) |" % (best["plugin"], float(best["gbps"]),
                                                               float(best["bandwidth_pct"])), out)

    def test_an_empty_folder_is_an_error(self):
        with tempfile.TemporaryDirectory() as d:
            code, _, err = headline(d)
            self.assertEqual(code, 2)
            self.assertIn("no bench or tune CSVs", err)


if __name__ == "__main__":
    unittest.main()
