#!/usr/bin/env python3
"""Times PyTorch's scaled_dot_product_attention with one backend at a time (cuDNN, FlashAttention)
on the shapes of an `attnbench bench` sweep and appends the rows, in the bench CSV schema, to a
result file that `attnbench report` shows beside the plugins (backend `pytorch`).

Measured the way core/timing.cpp measures a plugin: CUDA events on the current stream around one
call, the L2 flushed before it by writing a buffer of twice its size, a pilot and a warm-up not
recorded, then samples until the spread is low or the time is up (timing.py); the p50 is the time.
Each call is what a plugin's timed call is: append the new K/V to the cache, then attend. Inputs
are fresh normal random values (never zeros), checked against an fp64 reference before timing.
The ceilings (a device-to-device copy, an 8192^3 GEMM) are measured in the same run as
core/ceilings.cpp measures them. The cache is dense, not paged; every row's message says so.

  python3 scripts/peers/sdpa_peers.py --out peers.csv --phase decode --batch 8,32 --context 4096,32768

Shapes: --preset names a head preset of core/src/bench_case.cpp (read from that file). A backend
that refuses grouped K/V (enable_gqa) runs with K/V repeated to the query heads, and its rows say
kv_heads = q_heads. A shape a backend refuses is an `unsupported` row with PyTorch's reasons.
"""

import argparse
import csv
import ctypes
import datetime
import glob
import hashlib
import math
import os
import re
import subprocess
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cpp_source  # noqa: E402
import metrics  # noqa: E402
import peer_case  # noqa: E402
import result_csv  # noqa: E402
import timing  # noqa: E402

PROGRAM = "sdpa_peers.py"


class UsageError(Exception):
    pass


class ArgumentParser(argparse.ArgumentParser):
    def error(self, message):  # bad usage: one line, exit code 2 (like attnbench)
        raise UsageError(message)


def comma_list(text, option, allowed=None, integer=False):
    items = [t for t in text.replace(" ", "").split(",") if t]
    if not items:
        raise UsageError(f"--{option}: expected a comma-separated list, got '{text}'")
    if integer:
        try:
            values = [int(t) for t in items]
        except ValueError:
            raise UsageError(f"--{option}: expected positive integers, got '{text}'")
        if any(v <= 0 for v in values):
            raise UsageError(f"--{option}: expected positive integers, got '{text}'")
        return values
    for t in items:
        if allowed is not None and t not in allowed:
            raise UsageError(f"--{option}: unknown value '{t}' (expected one of: {', '.join(allowed)})")
    return items


def memory_budget(text, total_bytes):
    """parse_memory_budget() of harness/bench_options.cpp: BYTES, BYTES with K/M/G/T, or X%."""
    m = re.fullmatch(r"([0-9]*\.?[0-9]+)(%|[KMGT](?:iB)?)?", text)
    if not m:
        raise UsageError(f"--memory-budget: expected BYTES, BYTES with K/M/G/T, or X%, got '{text}'")
    number, unit = float(m.group(1)), m.group(2) or ""
    value = number / 100 * total_bytes if unit == "%" else number * 1024 ** ("KMGT".index(unit[0]) + 1 if unit else 0)
    if not value >= 1:
        raise UsageError(f"--memory-budget: expected a budget above zero, got '{text}'")
    return int(value)


def parse_args(argv, presets):
    p = ArgumentParser(prog=PROGRAM, description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, metavar="FILE.csv", help="bench result file to append to")
    p.add_argument("--resume", action="store_true", help="skip shapes that already have a row in --out")
    p.add_argument("--backend", default=",".join(peer_case.BACKENDS), help="cudnn,flash (default: both)")
    p.add_argument("--preset", default="llama3-8b", help=f"head presets: {', '.join(presets)} (default: llama3-8b)")
    p.add_argument("--dtype", default="fp16", help="fp16,bf16 (default: fp16)")
    p.add_argument("--phase", default="prefill,decode", help="prefill,decode (default: both)")
    p.add_argument("--batch", required=True, metavar="N[,N]", help="sequences per call")
    p.add_argument("--context", required=True, metavar="N[,N]", help="prompt tokens (prefill) or cached tokens (decode)")
    p.add_argument("--memory-budget", default="90%", metavar="BYTES|X%",
                   help="largest allocation a shape may plan; more is an `oom` row (default: 90%% of the GPU)")
    p.add_argument("--seed", type=int, default=1, help="seed of the random inputs")
    p.add_argument("--device", default="cuda", choices=["cuda", "cpu"],
                   help="cuda (default); cpu only smoke-tests this script where there is no GPU")
    policy = timing.TimingPolicy()
    p.add_argument("--warmup", type=float, default=policy.warmup_s, metavar="S")
    p.add_argument("--min-time", type=float, default=policy.min_time_s, metavar="S")
    p.add_argument("--max-time", type=float, default=policy.max_time_s, metavar="S")
    p.add_argument("--max-noise", type=float, default=policy.max_noise, metavar="F")
    p.add_argument("--repetitions", type=int, default=policy.repetitions, metavar="N")
    p.add_argument("--commit-from", metavar="FILE.csv",
                   help="take the commit from this attnbench result file when it exists (default: git, else unknown)")
    args = p.parse_args(argv)
    args.backends = comma_list(args.backend, "backend", peer_case.BACKENDS)
    args.presets = [presets[n] for n in comma_list(args.preset, "preset", list(presets))]
    args.dtypes = comma_list(args.dtype, "dtype", ["fp16", "bf16"])
    args.phases = comma_list(args.phase, "phase", peer_case.PHASES)
    args.batches = comma_list(args.batch, "batch", integer=True)
    args.contexts = comma_list(args.context, "context", integer=True)
    if not (args.min_time > 0 and args.max_time >= args.min_time and args.warmup >= 0 and args.max_noise >= 0
            and args.repetitions > 0):
        raise UsageError("timing: expected --min-time > 0, --max-time >= --min-time, --warmup >= 0, "
                         "--max-noise >= 0, --repetitions > 0")
    args.policy = timing.TimingPolicy(args.warmup, args.min_time, args.max_time, args.max_noise, args.repetitions)
    memory_budget(args.memory_budget, 1 << 40)  # the format now; the size once the GPU is known
    return args


def done_keys(path, schema, resume):
    if os.path.exists(path) and os.path.getsize(path) > 0 and not resume:
        raise UsageError(f"{path} already holds results: pass --resume to continue it, or choose another file")
    if resume and result_csv.drop_unfinished_last_line(path):
        print(f"{PROGRAM}: dropped an unfinished last line of {path}", file=sys.stderr)
    try:
        return {result_csv.row_key(schema, r) for r in result_csv.read_rows(path, schema)}
    except ValueError as e:
        raise UsageError(str(e))


def is_done(case, schema, keys):
    """A shape is done with the preset's KV heads or with K/V repeated (see kv_heads_for)."""
    for kv in (case.preset.kv_heads, case.preset.q_heads):
        c = peer_case.PeerCase(case.backend, case.phase, case.dtype, case.preset, case.batch, case.context, kv)
        if result_csv.row_key(schema, c.columns()) in keys:
            return True
    return False


def sources_hash():
    h = hashlib.sha256()
    for path in sorted(glob.glob(os.path.join(os.path.dirname(os.path.abspath(__file__)), "*.py"))):
        with open(path, "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:16]


def commit_of(commit_from):
    """The commit of the attnbench build in the same run (a result file's first row), else of
    this checkout (git), else unknown."""
    if commit_from and os.path.exists(commit_from):
        try:
            with open(commit_from, newline="", encoding="utf-8") as f:
                for row in csv.DictReader(f):
                    if row.get("commit"):
                        return row["commit"]
        except OSError as e:
            raise UsageError(f"--commit-from: cannot read {commit_from}: {e.strerror}")
    try:
        return subprocess.run(["git", "-C", cpp_source.REPO, "rev-parse", "--short=12", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip() or "unknown"
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def cuda_driver_version():
    """As core/src/device.cpp writes it: cudaDriverGetVersion's 13000 -> "13.0"."""
    try:
        version = ctypes.c_int(0)
        if ctypes.CDLL("libcuda.so.1").cuDriverGetVersion(ctypes.byref(version)) != 0:
            return ""
        return f"{version.value // 1000}.{(version.value % 1000) // 10}"
    except OSError:
        return ""


def cudnn_text(torch):
    v = torch.backends.cudnn.version()
    if not v:
        return "none"
    return f"{v // 10000}.{v // 100 % 100}.{v % 100}" if v >= 90000 else f"{v // 1000}.{v // 100 % 10}.{v % 100}"


# --- with PyTorch -------------------------------------------------------------------------------

def torch_dtype(torch, name):
    return {"fp16": torch.float16, "bf16": torch.bfloat16}[name]


def best_time(timer, work, runs):
    timer(work)  # warm-up
    return min(timer(work) for _ in range(runs))


class Gpu:
    """The device the results are for: CUDA events, the L2 flushed before each call, the
    caching allocator's and the driver's memory, the ceilings of core/ceilings.cpp."""
    type = "cuda"

    def __init__(self, torch):
        self.torch = torch
        props = torch.cuda.get_device_properties(0)
        self.name, self.total_memory = props.name, props.total_memory
        self.driver = cuda_driver_version()
        l2 = getattr(props, "L2_cache_size", 0)
        self.flush = torch.empty(2 * l2 if l2 > 0 else 256 << 20, dtype=torch.uint8, device="cuda")
        self.flush_value = 0
        self.start = torch.cuda.Event(enable_timing=True)
        self.stop = torch.cuda.Event(enable_timing=True)

    def time(self, work):
        """DeviceTimer::time of core/timing.cpp: write a buffer twice the L2 (a different byte each
        time) outside the timed interval, then time `work` with two events on the current stream."""
        self.flush_value = (self.flush_value + 1) % 256
        self.flush.fill_(self.flush_value)
        self.start.record()
        work()
        self.stop.record()
        self.stop.synchronize()
        return self.start.elapsed_time(self.stop) / 1e3

    def synchronize(self):
        self.torch.cuda.synchronize()

    def bytes_in_use(self):  # the driver's view
        free, total = self.torch.cuda.mem_get_info()
        return total - free

    def start_accounting(self):
        self.torch.cuda.empty_cache()
        self.torch.cuda.reset_peak_memory_stats()
        return self.torch.cuda.memory_allocated()

    def peak_allocated(self):
        return self.torch.cuda.max_memory_allocated()

    def release(self):
        self.torch.cuda.empty_cache()

    def ceilings(self, dtype):
        """core/ceilings.cpp on the GPU: a device-to-device copy of min(1 GiB, memory / 16) counted
        as bytes read + written, and a square 8192 GEMM in the dtype with fp32 accumulation
        (cuBLAS through torch.mm); best of 10 after a warm-up, each timed like a case."""
        torch = self.torch
        nbytes = min(1 << 30, self.total_memory // 16)
        src = torch.randn(nbytes // 4, device="cuda")
        dst = torch.empty_like(src)
        copy_s = best_time(self.time, lambda: dst.copy_(src), 10)
        del src, dst
        n = 8192
        a, b = (torch.randn(n, n, device="cuda", dtype=torch_dtype(torch, dtype)) for _ in range(2))
        c = torch.empty_like(a)
        matmul = torch.backends.cuda.matmul
        saved = matmul.allow_fp16_reduced_precision_reduction, matmul.allow_bf16_reduced_precision_reduction
        matmul.allow_fp16_reduced_precision_reduction = matmul.allow_bf16_reduced_precision_reduction = False
        try:
            gemm_s = best_time(self.time, lambda: torch.mm(a, b, out=c), 10)
        finally:
            matmul.allow_fp16_reduced_precision_reduction, matmul.allow_bf16_reduced_precision_reduction = saved
        method = (f"copy_ device-to-device of {nbytes >> 20} MiB (read + written), torch.mm {dtype} GEMM "
                  "8192^3 with fp32 accumulation; best of 10")
        return 2.0 * nbytes / copy_s, 2.0 * n ** 3 / gemm_s, method


class Cpu:
    """A smoke test of this script where there is no GPU (--device cpu): the same calls, timed by
    the wall clock; its rows are not results."""
    type = "cpu"

    def __init__(self, torch):
        self.torch = torch
        self.name, self.driver = cpu_model_name(), ""
        self.total_memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")

    def time(self, work):
        start = time.perf_counter()
        work()
        return time.perf_counter() - start

    def synchronize(self):
        pass

    def bytes_in_use(self):
        return 0

    def start_accounting(self):
        return 0

    def peak_allocated(self):
        return 0

    def release(self):
        pass

    def ceilings(self, dtype):
        """core/ceilings.cpp on the CPU: a 256 MiB copy and an fp32 GEMM of 512^3."""
        torch = self.torch
        src = torch.randn(64 << 20)
        dst = torch.empty_like(src)
        copy_s = best_time(self.time, lambda: dst.copy_(src), 3)
        a, b = torch.randn(512, 512), torch.randn(512, 512)
        gemm_s = best_time(self.time, lambda: torch.mm(a, b), 3)
        return 2.0 * (256 << 20) / copy_s, 2.0 * 512 ** 3 / gemm_s, "copy_ of 256 MiB, torch.mm fp32 512^3; best of 3"


def cpu_model_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "cpu"


class Sdpa:
    """scaled_dot_product_attention restricted to one backend, and how to read its refusals."""

    def __init__(self, torch, device):
        from torch.nn.attention import SDPBackend, sdpa_kernel
        self.torch, self.device = torch, device
        self.sdpa_kernel = sdpa_kernel
        self.backends = {"cudnn": SDPBackend.CUDNN_ATTENTION, "flash": SDPBackend.FLASH_ATTENTION}
        self.accepted = {}

    def only(self, backend):
        return self.sdpa_kernel([self.backends[backend]])

    @staticmethod
    def refused(error):
        return "No available kernel" in str(error) or "No viable backend" in str(error)

    @staticmethod
    def reasons(caught):
        text = "; ".join(dict.fromkeys(" ".join(str(w.message).split()) for w in caught))
        return ": " + text[:400] if text else ""

    def accepts(self, backend, phase, dtype, preset, kv_heads):
        """Whether the backend runs a small problem of this phase, dtype and heads."""
        key = (backend, phase, dtype, preset.q_heads, kv_heads, preset.head_dim)
        if key not in self.accepted:
            torch, sq = self.torch, 1 if phase == "decode" else 128
            t = torch_dtype(torch, dtype)
            q = torch.randn(1, preset.q_heads, sq, preset.head_dim, device=self.device.type, dtype=t)
            k, v = (torch.randn(1, kv_heads, 128, preset.head_dim, device=self.device.type, dtype=t) for _ in range(2))
            try:
                with self.only(backend), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    torch.nn.functional.scaled_dot_product_attention(
                        q, k, v, is_causal=phase == "prefill", enable_gqa=kv_heads != preset.q_heads)
                self.device.synchronize()
                self.accepted[key] = True
            except RuntimeError as e:
                if not self.refused(e):
                    raise
                self.accepted[key] = False
        return self.accepted[key]

    def kv_heads_for(self, backend, phase, dtype, preset):
        """The preset's KV heads through enable_gqa; K/V repeated to the query heads when the
        backend refuses grouped K/V but runs the repeated shape."""
        if self.accepts(backend, phase, dtype, preset, preset.kv_heads):
            return preset.kv_heads
        if self.accepts(backend, phase, dtype, preset, preset.q_heads):
            return preset.q_heads
        return preset.kv_heads  # refused either way: its rows say why


def make_inputs(torch, device, case, seed):
    """Q as [batch, q_heads, q_len, head_dim]; the new K/V rows as a model makes them,
    [batch, q_len, kv_heads, head_dim]; the dense cache [batch, kv_heads, context, head_dim], random
    for decode (the cached context) and overwritten by the append for prefill."""
    g = torch.Generator(device=device.type)
    g.manual_seed(seed)
    p, t = case.preset, torch_dtype(torch, case.dtype)
    sq = 1 if case.phase == "decode" else case.context

    def normal(*shape):
        return torch.randn(*shape, generator=g, device=device.type, dtype=t)

    x = {"q": normal(case.batch, p.q_heads, sq, p.head_dim),
         "k": normal(case.batch, sq, case.kv_heads, p.head_dim),
         "v": normal(case.batch, sq, case.kv_heads, p.head_dim)}
    cache_shape = (case.batch, case.kv_heads, case.context, p.head_dim)
    for name in ("cache_k", "cache_v"):
        x[name] = normal(*cache_shape) if case.phase == "decode" else torch.empty(cache_shape, device=device.type, dtype=t)
    return x


def attention_call(torch, case, x):
    """One timed call: append the new K/V to the dense cache, then attend."""
    sdpa = torch.nn.functional.scaled_dot_product_attention
    gqa = case.kv_heads != case.preset.q_heads
    at = slice(case.context - 1, None) if case.phase == "decode" else slice(None)

    def call():
        x["cache_k"][:, :, at].copy_(x["k"].transpose(1, 2))
        x["cache_v"][:, :, at].copy_(x["v"].transpose(1, 2))
        return sdpa(x["q"], x["cache_k"], x["cache_v"], is_causal=case.phase == "prefill", enable_gqa=gqa)
    return call


def check(torch, case, x, out):
    """The last query of sequence 0, every query head of KV head 0, against fp64 attention over
    the cache as the call left it (BenchWorkload::check)."""
    group, d = case.preset.q_heads // case.kv_heads, case.preset.head_dim
    q = x["q"][0, :group, -1].double().cpu()
    k, v = x["cache_k"][0, 0].double().cpu(), x["cache_v"][0, 0].double().cpu()
    ref = torch.softmax(q @ k.T / math.sqrt(d), dim=-1) @ v
    got = out[0, :group, -1].float().cpu()
    return metrics.compare(got.flatten().tolist(), ref.flatten().tolist(), case.dtype)


def run_case(torch, device, sdpa, case, row, policy, budget, ceiling, seed):
    """The row of one case: ok with its metrics, or unsupported / oom / error with why
    (run_bench_case of core/src/bench_runner.cpp)."""
    def status(s, message):
        return row.set("status", s).set("message", message)

    planned = case.planned_bytes()
    row.set("planned_bytes", float(planned))
    if planned > budget:
        return status("oom", f"needs {planned} bytes, over the memory budget of {budget}")
    notes = [peer_case.DENSE_MESSAGE]
    if case.repeated_kv:
        notes.append(f"K/V repeated to {case.kv_heads} heads (the backend refused enable_gqa)")
    x = None
    try:
        accounted_before = device.start_accounting()
        driver_before = device.bytes_in_use()
        x = make_inputs(torch, device, case, seed)
        call = attention_call(torch, case, x)
        with sdpa.only(case.backend):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    out = call()
                    device.synchronize()
                except RuntimeError as e:
                    if not sdpa.refused(e):
                        raise
                    return status("unsupported", f"PyTorch refused {case.backend} for this shape{sdpa.reasons(caught)}")
            c = check(torch, case, x, out)
            del out
            row.set("max_abs_error", c.max_abs_error).set("rel_l2_error", c.rel_l2_error)
            driver_peak = device.bytes_in_use()
            if not c.passed():
                return status("error", f"output differs from the fp64 reference ({c.violations} of {c.elements} "
                                       "elements outside tolerance)")
            result = timing.measure(lambda: device.time(call), policy)
        driver_peak = max(driver_peak, device.bytes_in_use())
        row.set("peak_bytes", float(device.peak_allocated() - accounted_before))
        row.set("driver_bytes", float(max(driver_peak - driver_before, 0)))
        peer_case.set_metrics(row, case, result, *ceiling)
        if not result.converged:
            notes.append("noise above the limit at the maximum time")
        return status("ok", "; ".join(notes))
    except torch.cuda.OutOfMemoryError as e:
        return status("oom", "out of device memory: " + str(e).split("\n")[0][:200])
    except Exception as e:  # a failure is a row, never the end of the sweep
        return status("error", f"{type(e).__name__}: {' '.join(str(e).split())[:300]}")
    finally:
        del x
        device.release()


def main(argv):
    schema = cpp_source.bench_schema()
    args = parse_args(argv, cpp_source.head_presets())
    keys = done_keys(args.out, schema, args.resume)
    planned = peer_case.plan(args.backends, args.presets, args.dtypes, args.phases, args.batches, args.contexts)
    if all(is_done(c, schema, keys) for c in planned):
        print(f"peers: nothing to measure ({len(planned)} already in {args.out})")
        return 0
    try:
        import torch
    except ImportError as e:
        print(f"{PROGRAM}: PyTorch is not importable here ({e})", file=sys.stderr)
        return 1
    if args.device == "cuda" and not torch.cuda.is_available():
        print(f"{PROGRAM}: no CUDA device (--device cpu runs a smoke test of this script)", file=sys.stderr)
        return 1
    device = Gpu(torch) if args.device == "cuda" else Cpu(torch)
    budget = memory_budget(args.memory_budget, device.total_memory)
    sdpa = Sdpa(torch, device)
    cases = [c for c in peer_case.plan(args.backends, args.presets, args.dtypes, args.phases, args.batches,
                                        args.contexts, sdpa.kv_heads_for)
             if result_csv.row_key(schema, c.columns()) not in keys]
    provenance = {"plugin_version": f"torch {torch.__version__} cuDNN {cudnn_text(torch)} CUDA {torch.version.cuda}",
                  "plugin_hash": sources_hash(), "device": device.name, "driver": device.driver,
                  "commit": commit_of(args.commit_from),
                  "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                  "command": " ".join(["python3", "scripts/peers/" + PROGRAM] + argv)}
    ceilings = {}
    for dtype in dict.fromkeys(c.dtype for c in cases):  # before any case allocates, like bench
        *ceilings[dtype], method = device.ceilings(dtype)
        print(f"{PROGRAM}: ceilings on {device.name} ({dtype}): {ceilings[dtype][0] / 1e9:.1f} GB/s copy, "
              f"{ceilings[dtype][1] / 1e12:.3f} TFLOP/s GEMM [{method}]", file=sys.stderr)

    writer = result_csv.CsvWriter(args.out, schema)
    counts = {}
    try:
        for i, case in enumerate(cases, 1):
            started = time.perf_counter()
            row = peer_case.case_row(schema, case, dict(provenance, plugin=case.plugin))
            run_case(torch, device, sdpa, case, row, args.policy, budget, ceilings[case.dtype], args.seed)
            writer.write_row(row)
            s = row.get("status")
            counts[s] = counts.get(s, 0) + 1
            why = f" ({row.get('message')})" if s != "ok" else ""
            print(f"peers: {i}/{len(cases)} {case.label()}: {s}{why} ({time.perf_counter() - started:.1f} s)", flush=True)
    finally:
        writer.close()
    print(f"peers: {len(cases)} measured ({len(planned) - len(cases)} already in the file): "
          + " ".join(f"{s} {n}" for s, n in sorted(counts.items())) + f" -> {args.out}")
    return 1 if counts.get("error") else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except UsageError as e:
        print(f"{PROGRAM}: {e}", file=sys.stderr)
        sys.exit(2)
    except (cpp_source.SourceFormatError, OSError) as e:
        print(f"{PROGRAM}: {e}", file=sys.stderr)
        sys.exit(1)
