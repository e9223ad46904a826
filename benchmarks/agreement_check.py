"""Does JIT Explorer's speedup agree with an independent torch.utils.benchmark measurement?

Runs ``bench.benchmark("resnet18", device="cpu", modes=["eager", "trace+freeze"], threads=1)``
and, in the same process, measures the same two variants independently: its own
``torch.jit.trace`` + ``torch.jit.freeze`` + ``torch.jit.optimize_for_inference``,
each warmed up, then ``torch.utils.benchmark.Timer(num_threads=1).blocked_autorange``
alternating eager / trace+freeze in a few blocks (pooled with
``Measurement.merge``). Prints both speedups (eager median / trace+freeze median)
and whether they agree within 10%.

Usage::

    python benchmarks/agreement_check.py [--budget SECONDS] [--tolerance 0.10]
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
from torch.utils.benchmark import Measurement, Timer  # noqa: E402

from jit_explorer import bench, zoo  # noqa: E402

MODES = ["eager", "trace+freeze"]


def independent_speedup(*, seconds: float, threads: int = 1, blocks: int = 5) -> tuple[float, float, float]:
    """Eager and trace+freeze of resnet18 timed with plain ``Timer.blocked_autorange``.

    Args:
        seconds: timed seconds per variant, split over ``blocks`` alternating blocks.
        threads: ``num_threads`` of the timers.
        blocks: alternations (on a shared machine one long block per variant measures the neighbours' drift).

    Returns:
        ``(eager_median_ms, frozen_median_ms, speedup)``.
    """
    loaded = zoo.load("resnet18")
    module, (x,) = loaded.module, loaded.inputs("cpu")
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frozen = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(module, (x,)).eval()))
    timers = {
        "eager": Timer("m(x)", globals={"m": module, "x": x}, num_threads=threads, label="eager"),
        "trace+freeze": Timer("m(x)", globals={"m": frozen, "x": x}, num_threads=threads, label="trace+freeze"),
    }
    runs: dict[str, list[Measurement]] = {k: [] for k in timers}
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(threads)
        with torch.inference_mode():
            for _ in range(5):  # warm-up: the profiling executor optimises after its first runs
                module(x)
                frozen(x)
            for _ in range(blocks):
                for name, timer in timers.items():
                    runs[name].append(timer.blocked_autorange(min_run_time=seconds / blocks))
    finally:
        torch.set_num_threads(before)
    eager = Measurement.merge(runs["eager"])[0].median * 1e3
    froz = Measurement.merge(runs["trace+freeze"])[0].median * 1e3
    return eager, froz, eager / froz


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budget", type=float, default=bench.DEFAULT_BUDGET_S, help="timed seconds per variant")
    parser.add_argument("--blocks", type=int, default=5, help="alternating blocks of the independent timing")
    parser.add_argument("--tolerance", type=float, default=0.10, help="relative agreement asked for")
    args = parser.parse_args(argv)

    rep = bench.benchmark("resnet18", device="cpu", modes=MODES, threads=1, budget_s=args.budget)
    rows = {r.mode: r for r in rep.results}
    ours = rows["trace+freeze"].speedup_vs_eager
    e_ms, f_ms, theirs = independent_speedup(seconds=args.budget, blocks=args.blocks)
    diff = abs(ours / theirs - 1.0)
    agree = diff <= args.tolerance
    print("| measurement | eager median ms | trace+freeze median ms | speedup |")
    print("|---|---:|---:|---:|")
    print(f"| jit_explorer.bench (interleaved rounds) | {rows['eager'].median_ms:.2f} "
          f"| {rows['trace+freeze'].median_ms:.2f} | {ours:.3f}x |")
    print(f"| torch.utils.benchmark.Timer.blocked_autorange (alternating blocks) | {e_ms:.2f} | {f_ms:.2f} "
          f"| {theirs:.3f}x |")
    print()
    print(f"relative difference of the speedups: {diff:.1%}; agree within {args.tolerance:.0%}: "
          f"{'yes' if agree else 'NO'}")
    busy = [n for n in rep.notes if n.startswith("the machine was busy")]
    if busy:
        print(f"note: {busy[0]}")
    return 0 if agree else 1


if __name__ == "__main__":
    raise SystemExit(main())
