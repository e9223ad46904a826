"""From timing samples to rows and verdicts: intervals, speedups, correctness, the fastest mode.

Verdicts are data (DESIGN.md): each row carries ``correct`` and ``same_as_eager``
and the report carries ``fastest``; the notes say the same in words for people,
and nothing reads them back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from ..report import BenchResult
from .stats import BOOTSTRAP_RESAMPLES, bootstrap_medians, median_ci_ms, ratio_ci, summarize
from .util import absmax, max_abs_diff, sig

__all__ = ["ModeRun", "RTOL", "tolerance", "rows_from_runs", "fastest_mode", "verdict_notes"]

RTOL = {"cpu": 1e-3, "cuda": 1e-2}
"""Output tolerance relative to max|eager output| (CUDA allows TF32 convolutions)."""


@dataclass
class ModeRun:
    """What the runner measured for one mode (private to a benchmark call)."""

    name: str
    error: str | None = None
    first_call_s: float = 0.0
    output: list[torch.Tensor] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    runs: int = 0
    peak_mem_mb: float | None = None
    compile_cached: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def tolerance(eager_output: list[torch.Tensor], device: str) -> float:
    """The largest ``max_abs_diff`` still called correct: RTOL x max(1, max|eager output|)."""
    return RTOL["cuda" if device.startswith("cuda") else "cpu"] * max(1.0, absmax(eager_output))


def rows_from_runs(runs: Sequence[ModeRun], *, flops: int | None, peak: float | None,
                   device: str) -> list[BenchResult]:
    """One :class:`BenchResult` per mode: statistics, bootstrap intervals, correctness, roofline.

    ``pct_of_peak`` is computed against the measured ``peak`` and capped at 100 (a mode
    above the GEMM peak did fewer FLOPs than were counted, see :func:`verdict_notes`).
    """
    eager = next(m for m in runs if m.name == "eager")
    eager_median = summarize(eager.times)[0] if eager.times else 0.0
    eager_boot = bootstrap_medians(eager.times, seed=0) if eager.times else []
    tol = tolerance(eager.output, device)
    rows = []
    for i, m in enumerate(runs):
        if m.error is not None or not m.times:
            rows.append(BenchResult(mode=m.name, ok=False, error=m.error or "no timing samples",
                                    first_call_ms=round(m.first_call_s * 1e3, 3)))
            continue
        med, p90, iqr = summarize(m.times)
        gflops = flops / (med * 1e-3) / 1e9 if flops and med > 0 else 0.0
        diff = max_abs_diff(eager.output, m.output)
        if m is eager:
            speedup_ci: tuple[float, float] = (1.0, 1.0)
        else:
            boot = bootstrap_medians(m.times, seed=1 + i)
            speedup_ci = ratio_ci(eager_boot, boot) if eager_boot else (0.0, 0.0)
        rows.append(BenchResult(
            mode=m.name,
            ok=True,
            error=None,
            median_ms=med,
            p90_ms=p90,
            iqr_ms=iqr,
            ci95_ms=median_ci_ms(m.times, seed=1 + i),
            runs=m.runs,
            first_call_ms=round(m.first_call_s * 1e3, 3),
            max_abs_diff=diff,
            correct=m is eager or diff <= tol,
            speedup_vs_eager=sig(eager_median / med) if med > 0 else 0.0,
            speedup_ci95=speedup_ci,
            same_as_eager=speedup_ci[0] <= 1.0 <= speedup_ci[1],
            peak_mem_mb=round(m.peak_mem_mb, 1) if m.peak_mem_mb is not None else None,
            gflops=sig(gflops),
            pct_of_peak=min(100.0, sig(gflops / peak * 100)) if peak else None,
        ))
    return rows


def fastest_mode(rows: Sequence[BenchResult]) -> str | None:
    """The correct mode with the lowest median; None when fewer than two modes are correct.

    Example::

        >>> fastest_mode([BenchResult("eager", True, median_ms=2.0, correct=True),
        ...               BenchResult("trace", True, median_ms=1.0, correct=False)])
    """
    good = [r for r in rows if r.ok and r.correct and r.median_ms > 0]
    if len(good) < 2:
        return None
    return min(good, key=lambda r: r.median_ms).mode


def verdict_notes(runs: Sequence[ModeRun], rows: Sequence[BenchResult], *, device: str, rounds: int,
                  max_rounds: int, min_rounds: int, flops: int | None, peak: float | None,
                  min_warmup_calls: int) -> list[str]:
    """Notes in words on failures, wrong outputs, the roofline, compile caches, method and the verdict."""
    notes: list[str] = []
    eager_run = next(m for m in runs if m.name == "eager")
    tol = tolerance(eager_run.output, device)
    failed = [r for r in rows if not r.ok]
    if failed:
        notes.append("failed: " + "; ".join(f"{r.mode} ({r.error})" for r in failed))
    for r in rows:
        if r.ok and not r.correct:
            verb = "fast" if r.speedup_vs_eager > 1 else "timed"
            notes.append(
                f"{r.mode} is {verb} but WRONG: max_abs_diff={r.max_abs_diff:.3g} > tolerance {tol:.3g}; "
                f"its {r.speedup_vs_eager:.2f}x must not be read as a win"
            )
    if peak and flops:
        over = [r for r in rows if r.ok and r.median_ms > 0 and flops / (r.median_ms * 1e-3) / 1e9 > peak]
        if over:
            notes.append(
                f"{', '.join(r.mode for r in over)} reached more counted GFLOP/s than the measured GEMM peak "
                f"({peak:g}): shown as 100% of peak. The FLOP count is that of eager's dense ops; a mode that "
                "does less work (Winograd convolutions, fused or skipped ops) or a peak measured while the "
                "machine was busier explains it"
            )
    if any(m.name.startswith("compile") or m.name == "aot-inductor" for m in runs if m.error is None):
        notes.append("compile and aot-inductor first_call_ms are lower when inductor's on-disk cache already "
                     "holds this model's kernels")
    for m in runs:
        if m.compile_cached and m.error is None:
            notes.append(f"{m.name}: compiled code was reused from an earlier run in this process, "
                         "so first_call_ms excludes compilation")
    notes.append(
        f"method: torch.utils.benchmark.Timer.blocked_autorange under torch.inference_mode(); "
        f"{rounds} interleaved rounds (round-robin, rotating start; at most {max_rounds}, ending once every mode "
        f"has had its timed seconds and at least {min_rounds} rounds ran); warm-up of >= {min_warmup_calls} calls "
        f"after the first call is not timed; first_call_ms = conversion (export, compilation, packaging) + "
        f"first call; ci95_ms and speedup_ci95 are {BOOTSTRAP_RESAMPLES}-resample percentile bootstraps of "
        f"the median over the timing samples; a speedup whose interval contains 1.0 is the same as eager"
    )
    same = [r.mode for r in rows if r.ok and r.mode != "eager" and r.same_as_eager]
    if same:
        notes.append(f"same as eager (95% interval of the speedup contains 1.0): {', '.join(same)}")
    best = fastest_mode(rows)
    if best is not None:
        eager = next(r for r in rows if r.mode == "eager")
        if best == "eager":
            notes.append("fastest correct mode: eager (no conversion beat it here)")
        else:
            row = next(r for r in rows if r.mode == best)
            lo, hi = row.speedup_ci95 or (0.0, 0.0)
            notes.append(f"fastest correct mode: {best}, {row.speedup_vs_eager:.2f}x eager "
                         f"(95% interval {lo:.2f}-{hi:.2f}x; {row.median_ms:.3g} ms vs {eager.median_ms:.3g} ms)"
                         + ("; not distinguishable from eager" if row.same_as_eager else ""))
    return notes
