"""The stopping rule of core/timing.cpp (measure()) for a sample function that returns the
seconds of one timed call: a pilot call (lazy initialisation, not recorded), warm-up calls until
`warmup_s` has passed (not recorded), then samples until the measured time reaches `min_time_s`
with the relative spread at or below `max_noise`, or until `max_time_s` of wall time has passed.
The defaults are the GPU defaults of `attnbench bench` (harness/bench_options.cpp). The C++ side
drives the samples through Google Benchmark repetitions; here `repetition_cv` is the same
statistic (coefficient of variation of the repetitions' means) over `repetitions` consecutive
slices of the samples."""

import math
import time
from dataclasses import dataclass, field

from metrics import percentile, summarize, Summary


@dataclass
class TimingPolicy:
    warmup_s: float = 0.1
    min_time_s: float = 0.2
    max_time_s: float = 1.0
    max_noise: float = 0.03
    repetitions: int = 5


def relative_spread(values):
    """1.4826 x the median absolute deviation over the median (core/timing.cpp)."""
    median = percentile(values, 50)
    if not median > 0:
        return 0.0
    return 1.4826 * percentile([abs(v - median) for v in values], 50) / median


def repetition_cv(values, repetitions):
    slices = min(repetitions, len(values))
    if slices < 2:
        return 0.0
    size = len(values) // slices
    means = [sum(values[i * size:(i + 1) * size]) / size for i in range(slices)]
    s = summarize(means)
    return s.stddev / s.mean if s.mean > 0 else 0.0


@dataclass
class TimingResult:
    samples: list = field(default_factory=list)  # seconds, warm-up excluded
    totals: Summary = field(default_factory=Summary)
    noise: float = 0.0
    repetition_cv: float = 0.0
    converged: bool = False


def measure(sample, policy, clock=time.perf_counter):
    start = clock()
    sample()  # the pilot: lazy initialisation, not recorded
    while clock() - start < policy.warmup_s:
        sample()
    result = TimingResult()
    measured = 0.0
    next_check = 1
    while True:
        seconds = sample()
        result.samples.append(seconds)
        measured += seconds
        out_of_time = clock() - start >= policy.max_time_s
        # The spread is checked as the sample count grows by a quarter, not after every sample.
        if len(result.samples) >= next_check or out_of_time:
            next_check = len(result.samples) + max(1, len(result.samples) // 4)
            result.noise = relative_spread(result.samples)
            if measured >= policy.min_time_s and result.noise <= policy.max_noise:
                result.converged = True
                break
            if out_of_time:
                break
    result.totals = summarize(result.samples)
    result.repetition_cv = repetition_cv(result.samples, policy.repetitions)
    return result
