"""One peer measurement: PyTorch's scaled_dot_product_attention restricted to one backend, on one
shape of the attnbench sweep, and the row it becomes. Shapes, key columns, bytes and FLOPs mirror
core/src/bench_case.cpp, bench_workload.cpp and bench_runner.cpp (work_of, set_metrics):

  prefill  write the prompt's K/V into the cache, then attend causally over it;
  decode   write one new token's K/V per sequence at position context - 1, then attend with that
           one query over all `context` cached tokens.

The cache is dense ([batch, kv_heads, context, head_dim], one tensor each for K and V), not paged:
every peer row says so in its message."""

from dataclasses import dataclass

import metrics
from cpp_source import HeadPreset
from result_csv import Row

BACKENDS = ("cudnn", "flash")  # SDPBackend.CUDNN_ATTENTION, SDPBackend.FLASH_ATTENTION
PHASES = ("prefill", "decode")
DENSE_MESSAGE = "dense KV cache, not paged"


@dataclass(frozen=True)
class PeerCase:
    backend: str
    phase: str
    dtype: str
    preset: HeadPreset
    batch: int
    context: int
    kv_heads: int  # the preset's, or its query heads when the backend needs K/V repeated

    @property
    def plugin(self):
        return "torch_sdpa_" + self.backend

    @property
    def repeated_kv(self):
        return self.kv_heads != self.preset.kv_heads

    @property
    def q_tokens(self):
        return self.batch if self.phase == "decode" else self.batch * self.context

    def label(self):
        return f"{self.plugin} {self.phase} {self.dtype} b={self.batch} ctx={self.context}"

    def columns(self):
        """The case's columns as a bench row holds them (case_columns in bench_case.cpp)."""
        p = self.preset
        return {"plugin": self.plugin, "backend": "pytorch", "phase": self.phase, "dtype": self.dtype,
                "kv_dtype": self.dtype, "preset": p.name, "q_heads": str(p.q_heads), "kv_heads": str(self.kv_heads),
                "head_dim": str(p.head_dim), "layers": str(p.layers), "window": "0", "page_size": "0",
                "pages": "dense", "batch": str(self.batch), "context": str(self.context),
                "steps": "0" if self.phase == "prefill" else "1", "tunables": ""}

    def planned_bytes(self):
        """What the case allocates: Q and O, the new K/V rows, the dense K and V caches."""
        p, elem = self.preset, metrics.DTYPE_BYTES[self.dtype]
        rows = 2 * self.q_tokens * (p.q_heads + self.kv_heads) * p.head_dim * elem
        return rows + 2 * self.batch * self.context * self.kv_heads * p.head_dim * elem

    def traffic(self, kv_len):
        p = self.preset
        return metrics.plain_decode_traffic(p.q_heads, self.kv_heads, p.head_dim, self.dtype, self.dtype, 0, kv_len)

    def work(self):
        """(bytes, flops, tokens, cache bytes read) of one timed call, as work_of() counts them."""
        p = self.preset
        if self.phase == "decode":
            t = self.traffic(self.context)
            b = float(self.batch)
            return ((t.kv_bytes_read + t.other_bytes_read + t.bytes_written) * b, t.flops * b, b,
                    t.kv_bytes_read * b)
        kv_per_token = self.traffic(self.context).kv_bytes_per_token
        nbytes = metrics.prefill_bytes(p.q_heads, self.kv_heads, p.head_dim, self.dtype, kv_per_token, self.batch,
                                       self.context)
        flops = metrics.prefill_flops(self.batch, p.q_heads, p.head_dim, self.context, True, 0)
        return nbytes, flops, float(self.batch) * self.context, float("nan")


def plan(backends, presets, dtypes, phases, batches, contexts, kv_heads_for=None):
    """Every case in the order `attnbench bench` sweeps (plugin, preset, dtype, phase, batch,
    context). kv_heads_for(backend, phase, dtype, preset) may answer the preset's query heads for
    a backend that refuses grouped K/V."""
    cases = []
    for backend in backends:
        for preset in presets:
            for dtype in dtypes:
                for phase in phases:
                    kv = kv_heads_for(backend, phase, dtype, preset) if kv_heads_for else preset.kv_heads
                    for batch in batches:
                        for context in contexts:
                            cases.append(PeerCase(backend, phase, dtype, preset, batch, context, kv))
    return cases


def case_row(schema, case, provenance):
    row = Row(schema)
    for column, value in provenance.items():
        row.set(column, value)
    for column, value in case.columns().items():
        row.set(column, value)
    return row


def set_metrics(row, case, timing, ceiling_bytes_per_s, ceiling_flops_per_s):
    """set_metrics() of bench_runner.cpp for a one-part sample (a prefill or a decode step)."""
    t = timing.totals
    row.set("samples", len(timing.samples)).set("noise", timing.noise).set("repetition_cv", timing.repetition_cv)
    row.set("time_p50_s", t.p50).set("time_p95_s", t.p95).set("time_p99_s", t.p99)
    if case.phase == "decode":
        row.set("tpot_p50_s", t.p50).set("tpot_p95_s", t.p95).set("tpot_p99_s", t.p99)
    else:
        row.set("ttft_s", metrics.percentile(timing.samples, 50))
    nbytes, flops, tokens, kv_read = case.work()
    r = metrics.roofline(nbytes, flops, t.p50, ceiling_bytes_per_s, ceiling_flops_per_s)
    row.set("tokens_per_s", metrics.tokens_per_second(tokens, t.p50))
    row.set("kv_bytes_per_token", case.traffic(case.context).kv_bytes_per_token)
    row.set("kv_bytes_read", kv_read).set("bytes", nbytes).set("flops", flops)
    row.set("gbps", r.bytes_per_s / 1e9).set("tflops", r.flops_per_s / 1e12)
    row.set("ceiling_gbps", ceiling_bytes_per_s / 1e9).set("ceiling_tflops", ceiling_flops_per_s / 1e12)
    row.set("bandwidth_pct", 100 * r.bandwidth_fraction).set("compute_pct", 100 * r.compute_fraction)
    row.set("intensity", r.arithmetic_intensity).set("ridge", r.ridge_intensity)
    row.set("bound", "memory" if r.memory_bound() else "compute")
    return row
