#!/usr/bin/env python3
"""The README's headline table, every number read from committed result CSVs (bench, peers,
tune): decode GB/s and % of the measured copy bandwidth, prefill TFLOP/s and % of the measured
GEMM rate, the INT8 cache's decode speed-up, the largest batch within tune's budget, and one chart
of the report. The rows compared run the preset's own KV heads (the model as specified: mha and
mqa run other models and are left out); PyTorch's peers stand beside the best plugin.

    scripts/headline.py results/h100 > results/h100/headline.md
    scripts/headline.py results/cpu --preset cpu-small --dtype fp32 --decode 4x512 --prefill 4x128

The device, commit and files are named in the output's first line, so a table made from CPU
results says so. A shape with no row says `not measured`.
"""

import argparse
import csv
import glob
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
import cpp_source  # noqa: E402


def shapes(text):
    try:
        return [tuple(int(n) for n in item.split("x")) for item in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected BATCHxCONTEXT[,BATCHxCONTEXT], got '{text}'")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("results", help="folder of result CSVs (bench, peers, tune)")
    p.add_argument("--preset", default="llama3-8b")
    p.add_argument("--dtype", default="fp16")
    p.add_argument("--decode", type=shapes, default=shapes("32x4096,8x32768,32x32768,1x65536"), metavar="BxCTX[,BxCTX]")
    p.add_argument("--prefill", type=shapes, default=shapes("4x4096"), metavar="BxCTX[,BxCTX]")
    p.add_argument("--links-from", default=None, metavar="DIR",
                   help="make the chart link relative to DIR (default: the results folder)")
    return p.parse_args(argv)


def number(row, column):
    try:
        return float(row[column])
    except (KeyError, ValueError):
        return float("nan")


def g(value):
    return "%.3g" % value


def read_results(folder):
    """bench rows (plugins and peers together) and tune rows of every CSV in the folder."""
    bench, tune, files = [], [], []
    for path in sorted(glob.glob(os.path.join(folder, "*.csv"))):
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        if rows and "budget_bytes" in rows[0]:
            tune += rows
        elif rows and "gbps" in rows[0]:
            bench += rows
        else:
            continue
        files.append(os.path.basename(path))
    return bench, tune, files


class Headline:
    def __init__(self, args, bench, tune):
        self.args = args
        self.preset = cpp_source.head_presets()[args.preset]
        ours = [r for r in bench if r["status"] == "ok" and r["preset"] == args.preset and r["dtype"] == args.dtype
                and r["window"] == "0" and not r["tunables"]]
        self.plugins = [r for r in ours if r["backend"] != "pytorch" and int(r["kv_heads"]) == self.preset.kv_heads]
        self.peers = [r for r in ours if r["backend"] == "pytorch"]
        self.tune = [r for r in tune if r["status"] == "ok" and r["preset"] == args.preset and r["dtype"] == args.dtype
                     and int(r["kv_heads"]) == self.preset.kv_heads and not r["tunables"]]

    @staticmethod
    def best(rows, phase, batch, context, int8=None):
        """The fastest row of a shape; int8 True/False picks the cache kind, None any."""
        found = [r for r in rows if r["phase"] == phase and int(r["batch"]) == batch and int(r["context"]) == context
                 and (int8 is None or (r["kv_dtype"] == "int8") == int8)]
        return max(found, key=lambda r: number(r, "tokens_per_s"), default=None)

    def cell(self, row, value, pct):
        if row is None:
            return "not measured"
        repeated = row["backend"] == "pytorch" and int(row["kv_heads"]) != self.preset.kv_heads
        return f"{row['plugin']}{' (K/V repeated)' if repeated else ''}: {g(number(row, value))} ({number(row, pct):.1f}%)"

    def table(self):
        lines = ["| measure | shape | best attnbench plugin | PyTorch SDPA, best backend |",
                 "| --- | --- | --- | --- |"]
        for b, ctx in self.args.decode:
            plugin = self.best(self.plugins, "decode", b, ctx, int8=False)
            peer = self.best(self.peers, "decode", b, ctx)
            lines.append(f"| decode GB/s (% of copy bandwidth) | batch {b} x {ctx} | "
                         f"{self.cell(plugin, 'gbps', 'bandwidth_pct')} | {self.cell(peer, 'gbps', 'bandwidth_pct')} |")
        for b, ctx in self.args.prefill:
            plugin = self.best(self.plugins, "prefill", b, ctx, int8=False)
            peer = self.best(self.peers, "prefill", b, ctx)
            lines.append(f"| prefill TFLOP/s (% of GEMM) | batch {b} x {ctx}, causal | "
                         f"{self.cell(plugin, 'tflops', 'compute_pct')} | {self.cell(peer, 'tflops', 'compute_pct')} |")
        for b, ctx in self.args.decode:
            int8 = self.best(self.plugins, "decode", b, ctx, int8=True)
            wide = self.best(self.plugins, "decode", b, ctx, int8=False)
            text = "not measured"
            if int8 and wide:
                ratio = number(int8, "tokens_per_s") / number(wide, "tokens_per_s")
                text = f"{int8['plugin']}: {ratio:.2f}x the tokens/s of {wide['plugin']} ({wide['kv_dtype']} cache)"
            lines.append(f"| INT8 KV cache, decode speed-up | batch {b} x {ctx} | {text} | - |")
        for ctx in sorted({int(r["context"]) for r in self.tune}):
            rows = [r for r in self.tune if int(r["context"]) == ctx]
            wide = max((r for r in rows if r["kv_dtype"] != "int8"),
                       key=lambda r: (int(r["batch"]), number(r, "tokens_per_s")), default=None)
            int8 = max((r for r in rows if r["kv_dtype"] == "int8"), key=lambda r: int(r["batch"]), default=None)
            budget = rows[0]
            measure = (f"largest batch within {number(budget, 'budget_bytes') / 2**30:.3g} GiB and p95 TPOT "
                       f"{number(budget, 'tpot_target_s') * 1e3:.3g} ms ({budget['layers']} layers)")
            text = "; ".join(f"{r['plugin']}: {r['batch']} ({g(number(r, 'tokens_per_s'))} tokens/s)"
                             for r in (wide, int8) if r)
            lines.append(f"| {measure} | context {ctx} | {text} | - |")
        return "\n".join(lines)

    def chart(self, folder):
        b, ctx = self.args.decode[0]
        name = f"tokens_vs_batch_{self.args.preset}_{self.args.dtype}_context{ctx}.png"
        path = os.path.join(folder, "report", "charts", name)
        if not os.path.exists(path):
            return f"(chart not drawn yet: run `attnbench report` into {os.path.join(folder, 'report')})"
        link = os.path.relpath(path, self.args.links_from or folder)
        report = os.path.relpath(os.path.join(folder, "report", "report.md"), self.args.links_from or folder)
        return f"![Decode tokens/s vs batch, context {ctx}]({link})\n\nFull report: [{report}]({report})"


def provenance(rows):
    devices = sorted({r["device"] + (" (CPU path)" if r["backend"] == "cpu" else "") for r in rows})
    commits = sorted({r["commit"] for r in rows if r["commit"]})
    dates = sorted(r["date"] for r in rows if r["date"])
    return devices, commits, dates


def main(argv):
    args = parse_args(argv)
    bench, tune, files = read_results(args.results)
    if not bench and not tune:
        print(f"headline.py: no bench or tune CSVs in {args.results}", file=sys.stderr)
        return 2
    h = Headline(args, bench, tune)
    devices, commits, dates = provenance(h.plugins + h.peers + h.tune)
    p = h.preset
    print(f"<!-- made by scripts/headline.py from {', '.join(files)} in {args.results}: edit the CSVs, not this -->")
    print(f"**{args.preset} attention ({p.q_heads} query heads, {p.kv_heads} KV heads, head dim {p.head_dim}), "
          f"{args.dtype}, one layer, on {', '.join(devices) or 'no device'}** (commit {', '.join(commits) or '-'}; "
          f"measured {dates[0] if dates else '-'} .. {dates[-1] if dates else '-'})\n")
    print(h.table())
    print()
    print(h.chart(args.results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
