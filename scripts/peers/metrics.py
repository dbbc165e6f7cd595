"""The formulas of core/metrics.hpp/.cpp, core/statistics.cpp and the SDK's plain_decode_traffic
(sdk/include/attnbench/plugin.hpp), mirrored line for line so a peer's row means exactly what a
plugin's row means. Change them there first, then here; tests/peers_sdpa_test.py pins both to the
same hand-computed cases."""

import math
from dataclasses import dataclass

DTYPE_BYTES = {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1}


# --- core/statistics.cpp ---------------------------------------------------------------------

def percentile(values, p):
    """Linear interpolation between order statistics (NumPy's "linear"); NaN when empty."""
    if not values:
        return math.nan
    v = sorted(values)
    rank = min(max(p, 0.0), 100.0) / 100.0 * (len(v) - 1)
    lo = int(math.floor(rank))
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (rank - lo)


@dataclass
class Summary:
    count: int = 0
    min: float = 0.0
    max: float = 0.0
    mean: float = 0.0
    stddev: float = 0.0
    p50: float = 0.0
    p95: float = 0.0
    p99: float = 0.0


def summarize(values):
    s = Summary(count=len(values))
    if not values:
        return s
    s.min, s.max = min(values), max(values)
    s.mean = sum(values) / len(values)
    s.stddev = math.sqrt(sum((x - s.mean) ** 2 for x in values) / (len(values) - 1)) if len(values) > 1 else 0.0
    s.p50, s.p95, s.p99 = percentile(values, 50), percentile(values, 95), percentile(values, 99)
    return s


# --- core/metrics.cpp ------------------------------------------------------------------------

def attended_pairs(prompt_len, causal, window):
    s = float(prompt_len)
    if not causal:
        return s * s
    if 0 < window < prompt_len:
        return s * window - window * window / 2
    return s * s / 2


def prefill_flops(batch, q_heads, head_dim, prompt_len, causal, window):
    return 4.0 * batch * q_heads * head_dim * attended_pairs(prompt_len, causal, window)


def prefill_bytes(q_heads, kv_heads, head_dim, dtype, kv_bytes_per_token, batch, prompt_len):
    tokens = float(batch) * prompt_len
    elem = DTYPE_BYTES[dtype]
    q_and_o = 2.0 * q_heads * head_dim * elem
    new_kv = 2.0 * kv_heads * head_dim * elem
    return tokens * (q_and_o + new_kv + 2.0 * kv_bytes_per_token)


@dataclass
class Traffic:  # AttnbTraffic: one decode step of one sequence
    kv_bytes_per_token: float
    kv_bytes_read: float
    other_bytes_read: float
    bytes_written: float
    flops: float


def plain_decode_traffic(q_heads, kv_heads, head_dim, dtype, kv_dtype, window, kv_len):
    """sdk plain_decode_traffic: each visible cached K/V element read once per KV head, Q read,
    O and the new token written. A dense cache holds the same bytes per token as the plain pages."""
    elem, q_elem = DTYPE_BYTES[kv_dtype], DTYPE_BYTES[dtype]
    per_token = 2.0 * kv_heads * head_dim * elem
    visible = float(window if 0 < window < kv_len else kv_len)
    return Traffic(kv_bytes_per_token=per_token,
                   kv_bytes_read=per_token * visible,
                   other_bytes_read=float(q_heads) * head_dim * q_elem,
                   bytes_written=float(q_heads) * head_dim * q_elem + 2.0 * kv_heads * head_dim * q_elem,
                   flops=4.0 * q_heads * head_dim * visible)


def tokens_per_second(tokens, seconds):
    return tokens / seconds if seconds > 0 else 0.0


@dataclass
class Roofline:
    bytes_per_s: float = 0.0
    flops_per_s: float = 0.0
    bandwidth_fraction: float = 0.0
    compute_fraction: float = 0.0
    arithmetic_intensity: float = 0.0
    ridge_intensity: float = 0.0

    def memory_bound(self):
        return self.arithmetic_intensity < self.ridge_intensity


def roofline(nbytes, flops, seconds, ceiling_bytes_per_s, ceiling_flops_per_s):
    r = Roofline()
    if seconds > 0:
        r.bytes_per_s = nbytes / seconds
        r.flops_per_s = flops / seconds
    r.bandwidth_fraction = r.bytes_per_s / ceiling_bytes_per_s if ceiling_bytes_per_s > 0 else 0.0
    r.compute_fraction = r.flops_per_s / ceiling_flops_per_s if ceiling_flops_per_s > 0 else 0.0
    r.arithmetic_intensity = flops / nbytes if nbytes > 0 else 0.0
    r.ridge_intensity = ceiling_flops_per_s / ceiling_bytes_per_s if ceiling_bytes_per_s > 0 else 0.0
    return r


# --- core/src/validation.cpp -----------------------------------------------------------------

# tolerance_for(dtype): (atol, rtol) of an unquantized cache.
TOLERANCE = {"fp16": (2e-3, 2e-3), "bf16": (1.6e-2, 1.6e-2), "fp32": (1e-4, 1e-4)}


@dataclass
class Comparison:
    max_abs_error: float = 0.0
    rel_l2_error: float = 0.0
    violations: int = 0
    elements: int = 0

    def passed(self):
        return self.violations == 0 and self.elements > 0


def compare(got, ref, dtype):
    """compare(): each element within atol + rtol * |ref| (NaN fails), max and relative L2 error."""
    atol, rtol = TOLERANCE[dtype]
    c = Comparison(elements=min(len(got), len(ref)))
    c.violations = max(len(got), len(ref)) - c.elements
    diff2 = ref2 = 0.0
    for g, r in zip(got, ref):
        err = abs(float(g) - r)
        if not err <= atol + rtol * abs(r):
            c.violations += 1
        c.max_abs_error = err if math.isnan(err) else max(c.max_abs_error, err)
        diff2 += err * err
        ref2 += r * r
    c.rel_l2_error = math.sqrt(diff2 / ref2) if ref2 > 0 else math.sqrt(diff2)
    return c
