"""Statistics of timing samples: median, p90, IQR, and bootstrap 95% intervals.

The samples are the per-call times of the interleaved timing blocks (one sample
per ``torch.utils.benchmark`` block). Intervals come from a seeded percentile
bootstrap of the median, so the same samples always give the same interval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

__all__ = ["percentile", "summarize", "bootstrap_medians", "median_ci_ms", "ratio_ci", "BOOTSTRAP_RESAMPLES"]

BOOTSTRAP_RESAMPLES = 2000
"""Resamples of the percentile bootstrap."""


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) with linear interpolation (numpy's default method).

    Args:
        values: a non-empty sequence of numbers.
        q: the percentile, 0 to 100.

    Returns:
        The interpolated value.

    Example::

        >>> percentile([1.0, 2.0, 3.0, 4.0], 50)
        2.5
    """
    if not values:
        raise ValueError("percentile of an empty sequence")
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def summarize(times_s: Sequence[float]) -> tuple[float, float, float]:
    """Median, p90 and interquartile range, in milliseconds, of per-call times in seconds.

    Args:
        times_s: per-call times (seconds), one per sample.

    Returns:
        ``(median_ms, p90_ms, iqr_ms)``.

    Example::

        >>> summarize([0.001, 0.002, 0.003, 0.004, 0.005])
        (3.0, 4.6, 2.0)
    """
    ms = [t * 1e3 for t in times_s]
    med = percentile(ms, 50)
    p90 = percentile(ms, 90)
    iqr = percentile(ms, 75) - percentile(ms, 25)
    return (float(f"{med:.6g}"), float(f"{p90:.6g}"), float(f"{iqr:.6g}"))


def bootstrap_medians(values: Sequence[float], *, seed: int, resamples: int = BOOTSTRAP_RESAMPLES) -> list[float]:
    """Medians of ``resamples`` resamples (with replacement) of ``values``, seeded.

    Args:
        values: a non-empty sequence of samples.
        seed: the generator's seed (the same seed gives the same medians).
        resamples: how many resamples.

    Returns:
        One median per resample, in resample order.

    Example::

        >>> bootstrap_medians([2.0, 2.0, 2.0], seed=0, resamples=3)
        [2.0, 2.0, 2.0]
    """
    if not values:
        raise ValueError("bootstrap of an empty sequence")
    x = torch.tensor([float(v) for v in values], dtype=torch.float64)
    gen = torch.Generator().manual_seed(seed)
    idx = torch.randint(len(values), (resamples, len(values)), generator=gen)
    with torch.inference_mode():
        meds = torch.quantile(x[idx], 0.5, dim=1)  # linear interpolation, like percentile()
    return [float(v) for v in meds.tolist()]


def median_ci_ms(times_s: Sequence[float], *, seed: int = 0) -> tuple[float, float]:
    """A 95% percentile-bootstrap interval of the median per-call time, in milliseconds.

    Args:
        times_s: per-call times (seconds), one per sample.
        seed: the bootstrap's seed.

    Returns:
        ``(lo_ms, hi_ms)``, rounded to 6 significant digits.

    Example::

        >>> median_ci_ms([0.001] * 20)
        (1.0, 1.0)
    """
    meds = bootstrap_medians([t * 1e3 for t in times_s], seed=seed)
    return (float(f"{percentile(meds, 2.5):.6g}"), float(f"{percentile(meds, 97.5):.6g}"))


def ratio_ci(numerator_medians: Sequence[float], denominator_medians: Sequence[float]) -> tuple[float, float]:
    """A 95% interval of a ratio of medians from two independent bootstraps (e.g. a speedup).

    Args:
        numerator_medians: bootstrap medians of the numerator (e.g. eager's times).
        denominator_medians: bootstrap medians of the denominator (the mode's times), same length.

    Returns:
        ``(lo, hi)`` of ``numerator / denominator`` over the paired resamples, 6 significant digits.

    Example::

        >>> ratio_ci([4.0, 4.0], [2.0, 2.0])
        (2.0, 2.0)
    """
    # same length by contract (both from bootstrap_medians); a shorter one is cut, never an error in a report
    ratios = [a / b for a, b in zip(numerator_medians, denominator_medians, strict=False) if b > 0]
    if not ratios:
        return (0.0, 0.0)
    return (float(f"{percentile(ratios, 2.5):.6g}"), float(f"{percentile(ratios, 97.5):.6g}"))
