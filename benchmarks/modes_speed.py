"""Time of the capture modes on a warm server (the capture-modes issue's speed targets).

* a small pasted function, ``export,compile``, through the sandbox (warm pool): target <= 3 s median;
* ResNet-18 with all four modes (the Inductor view not included), in a warm process: target <= 5 s median.

Run: ``.venv/bin/python benchmarks/modes_speed.py [--runs N]``. Prints one line per measurement with the
median, min and max of N runs after one warm-up; timings are wall-clock and depend on the machine's load.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("JIT_EXPLORER_OFFLINE", "1")

SNIPPET = '''import torch

def gate(x):
    if x.sum() > 0:
        return torch.relu(x) * 2
    return x - 1

def example_inputs():
    return (torch.randn(4, 8),)
'''


def _measure(label: str, fn: Callable[[], object], runs: int) -> float:
    fn()  # warm-up (the pool's zygote, the first conversion)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    print(f"{label}: median {med:.2f} s (min {min(times):.2f}, max {max(times):.2f}, {runs} runs)")
    return med


def main() -> int:
    """Measure and print; exit 1 when a target is missed."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    from jit_explorer import sandbox
    from jit_explorer.analysis import analyze_model

    paste = _measure("pasted function, export+compile, sandbox", lambda: sandbox.analyze_source(
        SNIPPET, mode="export,compile"), args.runs)
    resnet = _measure("resnet18, all four modes, warm process", lambda: analyze_model("resnet18", mode="all"),
                      args.runs)
    sandbox.shutdown()
    ok = paste <= 3.0 and resnet <= 5.0
    print("targets (<= 3 s, <= 5 s):", "met" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
