"""Time of the Paste tab's Download (your entry traced or scripted and saved as .pt in the sandbox).

* first build of each (entry, mode): a sandboxed run that converts and ``torch.jit.save``\\s (warm pool);
* a repeat: the file comes from the size-capped download folder (``jit_explorer.artifacts``), no run.

Run: ``.venv/bin/python benchmarks/paste_download_speed.py [--runs N]``. Each of the N runs pastes a
source that differs by a comment (so nothing is cached); prints the median, min and max, then the repeat.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("JIT_EXPLORER_OFFLINE", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from test_learner_path import RNN_TUTORIAL as RNN  # noqa: E402 - the tutorial's RNN, defined once for the tests


def main(argv: list[str] | None = None) -> int:
    """Print the timings; returns 0."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args(argv)
    from jit_explorer import artifacts, sandbox

    store = artifacts.ArtifactStore(max_bytes=256 << 20)
    try:
        artifacts.pasted_artifact(RNN + "# warm-up\n", entry="MyRNNLoop", store=store)  # the pool's zygote
        for mode in ("trace", "script"):
            times = []
            for i in range(args.runs):
                t0 = time.perf_counter()
                path, _ = artifacts.pasted_artifact(RNN + f"# run {i}\n", entry="MyRNNLoop", mode=mode, store=store)
                times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            artifacts.pasted_artifact(RNN + "# run 0\n", entry="MyRNNLoop", mode=mode, store=store)
            repeat = time.perf_counter() - t0
            print(f"{mode}: first build median {statistics.median(times):.2f} s (min {min(times):.2f}, "
                  f"max {max(times):.2f}, {args.runs} runs, {path.stat().st_size:,} bytes); "
                  f"repeat {repeat * 1e3:.1f} ms")
    finally:
        store.close()
        sandbox.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
