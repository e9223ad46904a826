"""Benchmark reports as Markdown (the CLI's text output and the blog script's tables).

Reads the verdict fields (``correct``, ``same_as_eager``, ``fastest``), never the notes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..report import BenchReport, BenchResult

__all__ = ["to_markdown", "speedup_text", "peak_text"]


def _fmt(x: float | None, digits: int = 3) -> str:
    if x is None:
        return "n/a"
    if x == 0:
        return "0"
    if math.isinf(x):
        return "inf"
    return f"{x:.{digits}g}"


def speedup_text(r: BenchResult) -> str:
    """``1.33x [1.29-1.38]`` plus ``same`` when the interval contains 1.0 and ``WRONG output`` when incorrect.

    Example::

        >>> speedup_text(BenchResult("trace", True, speedup_vs_eager=1.02, speedup_ci95=(0.97, 1.08),
        ...                          same_as_eager=True, correct=True))
        '1.02x [0.97-1.08] same'
    """
    text = f"{r.speedup_vs_eager:.2f}x"
    if r.speedup_ci95 is not None and r.mode != "eager":
        text += f" [{r.speedup_ci95[0]:.2f}-{r.speedup_ci95[1]:.2f}]"
    if r.mode != "eager" and r.same_as_eager:
        text += " same"
    if not r.correct:
        text += " (WRONG output)"
    return text


def peak_text(rep: BenchReport) -> str:
    """``peak 190 GFLOP/s measured (estimate 157)`` or ``peak unknown``.

    Example::

        >>> peak_text(BenchReport("m", "cpu", "CPU", 1, "t", 1, "in", 190.0, (), (), peak_estimate_gflops=157.0))
        'peak 190 GFLOP/s measured (estimate 157)'
    """
    est = f"estimate {rep.peak_estimate_gflops:g}" if rep.peak_estimate_gflops else "no estimate"
    if rep.peak_gflops:
        return f"peak {rep.peak_gflops:g} GFLOP/s measured ({est})"
    return f"peak unknown ({est})"


def to_markdown(reports: Sequence[BenchReport]) -> str:
    """Render benchmark reports as Markdown: a heading, a table and the notes per report.

    Args:
        reports: reports from :func:`~jit_explorer.bench.benchmark` or ``benchmark_module``.

    Returns:
        Markdown text. Failed modes show their reason; wrong outputs are marked; the
        fastest correct mode is in bold.

    Example::

        >>> rep = BenchReport("m", "cpu", "CPU", 1, "2.14.1", 1, "1x4 float32", None, (),
        ...                   (BenchResult("eager", True, median_ms=1.0, p90_ms=1.1, runs=10, speedup_vs_eager=1.0,
        ...                                correct=True),))
        >>> "| eager |" in to_markdown([rep])
        True
    """
    out: list[str] = []
    for rep in reports:
        out.append(f"### {rep.model} on {rep.device} ({rep.device_name}), {rep.threads} thread"
                   f"{'s' if rep.threads != 1 else ''}")
        out.append("")
        out.append(f"Input: {rep.input}; batch {rep.batch}; torch {rep.torch_version}; {peak_text(rep)}"
                   + (f"; fastest correct mode: **{rep.fastest}**" if rep.fastest else "") + ".")
        out.append("")
        out.append("| mode | median ms | 95% CI ms | p90 ms | IQR ms | runs | first call ms "
                   "| speedup vs eager [95% CI] "
                   "| peak mem MB | GFLOP/s | % of peak | max abs diff |")
        out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in rep.results:
            if not r.ok:
                reason = (r.error or "failed").replace("|", "\\|")
                out.append(f"| {r.mode} | failed: {reason} | | | | | | | | | | |")
                continue
            mode = f"**{r.mode}**" if r.mode == rep.fastest else r.mode
            ci = f"{_fmt(r.ci95_ms[0], 4)}-{_fmt(r.ci95_ms[1], 4)}" if r.ci95_ms else "n/a"
            pct = f"{r.pct_of_peak:.1f}" if r.pct_of_peak is not None else "n/a"
            mem = f"{r.peak_mem_mb:.1f}" if r.peak_mem_mb is not None else "n/a"
            out.append(
                f"| {mode} | {_fmt(r.median_ms, 4)} | {ci} | {_fmt(r.p90_ms, 4)} | {_fmt(r.iqr_ms, 3)} | {r.runs} "
                f"| {_fmt(r.first_call_ms, 4)} | {speedup_text(r)} | {mem} | {_fmt(r.gflops, 3)} | {pct} "
                f"| {_fmt(r.max_abs_diff, 2)} |"
            )
        if rep.notes:
            out.append("")
            out.extend(f"- {n}" for n in rep.notes)
        out.append("")
    return "\n".join(out).rstrip() + "\n"
