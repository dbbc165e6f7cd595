"""The PyTorch peers' logic that needs neither PyTorch nor a GPU (scripts/peers): the schema and
presets read from the C++ sources, the metric formulas against hand-computed cases, the stopping
rule on a fake clock, the CSV format and --resume, and (with ATTNB_TEST_HARNESS set to the built
attnbench, as CTest does) that attnbench reads the rows back and `report` shows them.

    python3 tests/peers_sdpa_test.py      (or through CTest: peers_python_test)
"""

import importlib.util
import math
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
PEERS = os.path.join(ROOT, "scripts", "peers")
sys.path.insert(0, PEERS)

import cpp_source  # noqa: E402
import metrics  # noqa: E402
import peer_case  # noqa: E402
import result_csv  # noqa: E402
import timing  # noqa: E402

SCHEMA = cpp_source.bench_schema()
PRESETS = cpp_source.head_presets()
LLAMA = PRESETS["llama3-8b"]


def decode_case(batch=32, context=4096, backend="flash", kv_heads=None):
    return peer_case.PeerCase(backend, "decode", "fp16", LLAMA, batch, context, kv_heads or LLAMA.kv_heads)


def provenance():
    return {"plugin_version": "torch test", "plugin_hash": "0123456789abcdef", "device": "Test GPU",
            "driver": "13.0", "commit": "abc", "date": "2026-01-01T00:00:00Z", "command": "python3 test"}


def ok_row(case, seconds=1e-3):
    row = peer_case.case_row(SCHEMA, case, dict(provenance(), plugin=case.plugin))
    result = timing.TimingResult(samples=[seconds] * 10, totals=metrics.summarize([seconds] * 10), converged=True)
    return peer_case.set_metrics(row, case, result, 3e12, 7e14).set("status", "ok").set("message", "dense")


class SchemaAndPresetsFromTheCppSources(unittest.TestCase):
    def test_bench_columns(self):
        self.assertEqual(SCHEMA.columns[:8], ("plugin", "plugin_version", "plugin_hash", "device", "driver", "commit",
                                              "date", "command"))
        for column in ("backend", "phase", "gbps", "tflops", "ceiling_gbps", "bound", "rel_l2_error"):
            self.assertIn(column, SCHEMA.columns)
        self.assertEqual(len(set(SCHEMA.columns)), len(SCHEMA.columns))
        self.assertTrue(set(SCHEMA.key_columns) <= set(SCHEMA.columns))
        self.assertIn("backend", SCHEMA.key_columns)

    def test_presets(self):
        self.assertEqual((LLAMA.q_heads, LLAMA.kv_heads, LLAMA.head_dim, LLAMA.layers), (32, 8, 128, 32))
        tiny = PRESETS["tinyllama"]
        self.assertEqual((tiny.q_heads, tiny.kv_heads, tiny.head_dim), (32, 4, 64))

    def test_a_source_the_patterns_miss_is_an_error(self):
        with tempfile.TemporaryDirectory() as repo:
            os.makedirs(os.path.join(repo, "core", "src"))
            for name in ("provenance.cpp", "result_schema.cpp", "bench_case.cpp"):
                with open(os.path.join(repo, "core", "src", name), "w") as f:
                    f.write("// nothing here\n")
            with self.assertRaises(cpp_source.SourceFormatError):
                cpp_source.bench_schema(repo)
            with self.assertRaises(cpp_source.SourceFormatError):
                cpp_source.head_presets(repo)


class MetricsMirrorCore(unittest.TestCase):
    def test_decode_bytes_and_flops_by_hand(self):
        # llama3-8b fp16, batch 32 over 4096 cached tokens: 4096 B of K/V per token (8 heads x
        # 128 x 2 x 2 B); Q read (32 x 128 x 2 B); O and the new token written.
        nbytes, flops, tokens, kv_read = decode_case().work()
        self.assertEqual(kv_read, 32 * 4096 * 4096)
        self.assertEqual(nbytes, 32 * (4096 * 4096 + 8192 + 8192 + 4096))
        self.assertEqual(flops, 32 * 4 * 32 * 128 * 4096)
        self.assertEqual(tokens, 32)

    def test_causal_prefill_by_hand(self):
        case = peer_case.PeerCase("flash", "prefill", "fp16", LLAMA, 4, 4096, 8)
        nbytes, flops, tokens, kv_read = case.work()
        self.assertEqual(flops, 2 * 2 * 4 * 32 * 4096 * 4096 * 128 / 2)  # FlashAttention's convention
        self.assertEqual(nbytes, 4 * 4096 * (2 * 32 * 128 * 2 + 2 * 8 * 128 * 2 + 2 * 4096))
        self.assertEqual(tokens, 4 * 4096)
        self.assertTrue(math.isnan(kv_read))

    def test_window_and_full_pairs(self):
        self.assertEqual(metrics.attended_pairs(8, True, 4), 8 * 4 - 16 / 2)
        self.assertEqual(metrics.attended_pairs(8, False, 0), 64)
        self.assertEqual(metrics.attended_pairs(8, True, 0), 32)

    def test_roofline(self):
        r = metrics.roofline(3e9, 6e9, 1e-3, 3e12, 6e14)
        self.assertAlmostEqual(r.bandwidth_fraction, 1.0)
        self.assertAlmostEqual(r.compute_fraction, 0.01)
        self.assertAlmostEqual(r.arithmetic_intensity, 2.0)
        self.assertAlmostEqual(r.ridge_intensity, 200.0)
        self.assertTrue(r.memory_bound())

    def test_statistics(self):
        self.assertEqual(metrics.percentile([4, 1, 3, 2], 50), 2.5)
        self.assertAlmostEqual(metrics.percentile([1, 2, 3, 4, 5], 95), 4.8)
        self.assertTrue(math.isnan(metrics.percentile([], 50)))
        self.assertAlmostEqual(timing.relative_spread([1, 2, 3]), 1.4826 / 2)
        self.assertEqual(timing.relative_spread([1, 1, 1, 2]), 0)
        s = metrics.summarize([1.0, 2.0, 3.0])
        self.assertEqual((s.p50, s.mean, s.stddev), (2.0, 2.0, 1.0))

    def test_compare_against_the_reference(self):
        self.assertTrue(metrics.compare([1.0, 2.0], [1.0, 2.0039], "fp16").passed())  # 2e-3 + 2e-3 * 2
        bad = metrics.compare([1.0, 2.0], [1.0, 2.01], "fp16")
        self.assertEqual(bad.violations, 1)
        self.assertAlmostEqual(bad.max_abs_error, 0.01)
        self.assertFalse(metrics.compare([float("nan")], [0.0], "bf16").passed())


class StoppingRule(unittest.TestCase):
    def run_rule(self, durations, policy=timing.TimingPolicy()):
        clock = [0.0]
        calls = iter(durations)

        def sample():
            d = next(calls)
            clock[0] += d + 1e-5  # the flush and the synchronisation cost wall time too
            return d
        return timing.measure(sample, policy, clock=lambda: clock[0])

    def test_steady_samples_stop_once_enough_time_is_measured(self):
        r = self.run_rule([1e-3] * 100000)
        self.assertTrue(r.converged)
        self.assertGreaterEqual(sum(r.samples), 0.2)
        self.assertLess(sum(r.samples), 0.3)  # checked as the count grows by a quarter
        self.assertEqual(r.totals.p50, 1e-3)

    def test_noisy_samples_stop_at_the_maximum_time(self):
        r = self.run_rule([1e-3, 2e-3, 3e-3] * 100000)
        self.assertFalse(r.converged)
        self.assertGreater(r.noise, 0.03)
        measured_wall = sum(r.samples) + 1e-5 * len(r.samples)
        self.assertLess(measured_wall, 1.0)  # the pilot and the warm-up took the rest
        self.assertGreater(measured_wall, 0.85)

    def test_a_slow_call_is_timed_once_after_the_pilot(self):
        r = self.run_rule([3.0, 3.0, 3.0])
        self.assertEqual(r.samples, [3.0])
        self.assertTrue(r.converged)

    def test_repetition_cv(self):
        self.assertEqual(timing.repetition_cv([1.0] * 10, 5), 0)
        self.assertAlmostEqual(timing.repetition_cv([1, 1, 3, 3], 2), math.sqrt(2) / 2)


class CsvLikeTheHarness(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="attnb_peers_")
        self.csv = os.path.join(self.dir, "peers.csv")

    def tearDown(self):
        shutil.rmtree(self.dir)

    def test_fields_and_numbers(self):
        self.assertEqual(result_csv.csv_field('a,"b"'), '"a,""b"""')
        self.assertEqual(result_csv.csv_field("plain"), "plain")
        self.assertEqual(result_csv.number_text(1e6), "1e+06")
        self.assertEqual(result_csv.number_text(0.000123456789), "0.000123457")
        self.assertEqual(result_csv.number_text(float("nan")), "")
        self.assertEqual(result_csv.number_text(42), "42")
        with self.assertRaises(KeyError):
            result_csv.Row(SCHEMA).set("no_such_column", "x")

    def test_row_columns(self):
        row = ok_row(decode_case())
        self.assertEqual(row.get("backend"), "pytorch")
        self.assertEqual(row.get("plugin"), "torch_sdpa_flash")
        self.assertEqual((row.get("pages"), row.get("page_size"), row.get("kv_dtype")), ("dense", "0", "fp16"))
        self.assertEqual(row.get("tpot_p50_s"), "0.001")
        self.assertEqual(row.get("tokens_per_s"), "32000")
        self.assertEqual(row.get("gbps"), "%.6g" % (32 * (4096 * 4096 + 20480) / 1e-3 / 1e9))
        self.assertEqual(row.get("bound"), "memory")
        self.assertEqual(row.get("ttft_s"), "")
        self.assertEqual(len(row.ordered()), len(SCHEMA.columns))

    def test_append_resume_and_unfinished_lines(self):
        w = result_csv.CsvWriter(self.csv, SCHEMA)
        w.write_row(ok_row(decode_case(batch=8)))
        w.close()
        with open(self.csv, "a") as f:
            f.write("torch_sdpa_flash,half a row")  # a run killed mid-write
        self.assertTrue(result_csv.drop_unfinished_last_line(self.csv))
        self.assertFalse(result_csv.drop_unfinished_last_line(self.csv))
        rows = result_csv.read_rows(self.csv, SCHEMA)
        self.assertEqual(len(rows), 1)
        keys = {result_csv.row_key(SCHEMA, r) for r in rows}
        self.assertIn(result_csv.row_key(SCHEMA, decode_case(batch=8).columns()), keys)
        self.assertNotIn(result_csv.row_key(SCHEMA, decode_case(batch=32).columns()), keys)

    def test_another_header_is_refused(self):
        with open(self.csv, "w") as f:
            f.write("a,b\n1,2\n")
        with self.assertRaises(ValueError):
            result_csv.CsvWriter(self.csv, SCHEMA)
        with self.assertRaises(ValueError):
            result_csv.read_rows(self.csv, SCHEMA)


class SweepAndCommandLine(unittest.TestCase):
    def test_plan_order_and_repeated_kv(self):
        tiny = PRESETS["tinyllama"]
        cases = peer_case.plan(["cudnn", "flash"], [LLAMA, tiny], ["fp16", "bf16"], ["prefill", "decode"], [1, 8],
                               [512, 4096], kv_heads_for=lambda b, ph, dt, p: p.q_heads if b == "cudnn" else p.kv_heads)
        self.assertEqual(len(cases), 2 * 2 * 2 * 2 * 2 * 2)
        self.assertEqual([c.context for c in cases[:4]], [512, 4096, 512, 4096])
        self.assertEqual([c.batch for c in cases[:4]], [1, 1, 8, 8])
        cudnn = cases[0]
        self.assertTrue(cudnn.repeated_kv)
        self.assertEqual(cudnn.columns()["kv_heads"], "32")
        self.assertFalse(cases[-1].repeated_kv)
        self.assertEqual(cases[-1].columns()["kv_heads"], "4")

    def test_planned_bytes(self):
        # Q, O (32 heads) and new K, V (8 heads) for 8 tokens, plus the dense K and V caches.
        self.assertEqual(decode_case(batch=8, context=1024).planned_bytes(),
                         2 * 8 * (32 + 8) * 128 * 2 + 2 * 8 * 1024 * 8 * 128 * 2)

    def run_peers(self, *args):
        return subprocess.run([sys.executable, os.path.join(PEERS, "sdpa_peers.py"), *args], capture_output=True,
                              text=True)

    def test_bad_usage_is_one_line_and_exit_2(self):
        for args in (["--out", "x.csv"], ["--out", "x.csv", "--batch", "0", "--context", "8"],
                     ["--out", "x.csv", "--batch", "1", "--context", "8", "--preset", "nope"],
                     ["--out", "x.csv", "--batch", "1", "--context", "8", "--memory-budget", "0"]):
            r = self.run_peers(*args)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertEqual(r.stderr.count("\n"), 1, r.stderr)
            self.assertEqual(r.stdout, "")

    def test_resume_with_every_shape_present_needs_no_torch(self):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "peers.csv")
            w = result_csv.CsvWriter(out, SCHEMA)
            for batch in (1, 8):  # flash with grouped K/V, cudnn with K/V repeated: both count as done
                w.write_row(ok_row(decode_case(batch=batch, backend="flash")))
                w.write_row(ok_row(decode_case(batch=batch, backend="cudnn", kv_heads=32)))
            w.close()
            r = self.run_peers("--out", out, "--resume", "--phase", "decode", "--batch", "1,8", "--context", "4096")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("nothing to measure", r.stdout)
            self.assertEqual(self.run_peers("--out", out, "--batch", "1", "--context", "8").returncode, 2)


@unittest.skipUnless(importlib.util.find_spec("torch"), "PyTorch not installed")
class SmokeOnTheCpuWithPyTorch(unittest.TestCase):
    """The PyTorch calls themselves (--device cpu), where PyTorch is installed; CI has none."""

    def test_rows_of_both_backends(self):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "peers.csv")
            r = subprocess.run([sys.executable, os.path.join(PEERS, "sdpa_peers.py"), "--device", "cpu", "--out", out,
                                "--batch", "2", "--context", "64", "--warmup", "0", "--min-time", "0.005",
                                "--max-time", "0.05"], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            rows = {(x["plugin"], x["phase"]): x for x in result_csv.read_rows(out, SCHEMA)}
            self.assertEqual(len(rows), 4)
            for phase in ("prefill", "decode"):
                self.assertEqual(rows["torch_sdpa_cudnn", phase]["status"], "unsupported")  # no cuDNN on a CPU
                flash = rows["torch_sdpa_flash", phase]
                self.assertEqual(flash["status"], "ok", flash["message"])
                self.assertLess(float(flash["rel_l2_error"]), 2e-3)
                self.assertGreater(float(flash["tokens_per_s"]), 0)
                self.assertIn(peer_case.DENSE_MESSAGE, flash["message"])


@unittest.skipUnless(os.environ.get("ATTNB_TEST_HARNESS"), "ATTNB_TEST_HARNESS (the built attnbench) not set")
class ReadBackByAttnbench(unittest.TestCase):
    def test_attnbench_reads_and_reports_the_rows(self):
        harness = os.environ["ATTNB_TEST_HARNESS"]
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "peers.csv")
            w = result_csv.CsvWriter(out, SCHEMA)
            w.write_row(ok_row(decode_case(batch=8)))
            w.write_row(ok_row(decode_case(batch=32)))
            unsupported = peer_case.case_row(SCHEMA, decode_case(backend="cudnn"), dict(provenance(), plugin="torch_sdpa_cudnn"))
            w.write_row(unsupported.set("status", "unsupported").set("message", "PyTorch refused cudnn, because"))
            w.close()
            same = subprocess.run([harness, "compare", out, out], capture_output=True, text=True)
            self.assertEqual(same.returncode, 0, same.stdout + same.stderr)
            if not shutil.which("gnuplot"):
                self.skipTest("gnuplot not installed: report not drawn")
            report = subprocess.run([harness, "report", out, "--out", os.path.join(d, "r")], capture_output=True,
                                    text=True)
            self.assertEqual(report.returncode, 0, report.stdout + report.stderr)
            with open(os.path.join(d, "r", "report.md")) as f:
                md = f.read()
            self.assertIn("| torch_sdpa_flash | pytorch |", md)
            self.assertIn("PyTorch refused cudnn, because", md)


if __name__ == "__main__":
    unittest.main()
