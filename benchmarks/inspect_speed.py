"""How long ``inspect`` of a ResNet-18 TorchScript archive takes through the sandbox on a warm pool.

The archive is a trace of torchvision's ResNet-18 (random weights, 45 MB), written to a temp dir.
A pool is started and waited for (zygote warm, a spare forked), then each run is one
:func:`jit_explorer.archive.inspect_archive` call (zip-directory checks, the bytes to a fresh
confined worker, ``torch.jit.load``, views, tree, ops, ``TS2EPConverter`` and the parity run);
the pool refills its spare between runs, as it does between users. Target: median <= 3 s.

    python benchmarks/inspect_speed.py [--runs 5] [--pt2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TARGET_S = 3.0


def _archive(folder: Path) -> Path:
    import torch
    import torchvision

    warnings.simplefilter("ignore", FutureWarning)
    model = torchvision.models.resnet18(weights=None).eval()
    path = folder / "resnet18_trace.pt"
    torch.jit.save(torch.jit.trace(model, torch.randn(1, 3, 224, 224)), str(path))
    return path


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a small Markdown table; exit 1 when the median misses the target."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--pt2", action="store_true", help="also time one inspect that returns the .pt2")
    args = p.parse_args(argv)

    from jit_explorer import archive, sandbox

    with tempfile.TemporaryDirectory(prefix="jx-bench-") as tmp:
        path = _archive(Path(tmp))
        pool = sandbox.WorkerPool(limits=sandbox.Limits.from_env())
        try:
            started = time.perf_counter()
            pool.start()
            while pool.spare_count() < 1:
                time.sleep(0.05)
            print(f"pool warm after {time.perf_counter() - started:.1f} s (zygote: torch + converter imported)")
            walls, inside = [], []
            report = None
            for _ in range(args.runs):
                while pool.spare_count() < 1:  # a warm server keeps a spare ready
                    time.sleep(0.05)
                t = time.perf_counter()
                report = archive.inspect_archive(path, pool=pool)
                walls.append(time.perf_counter() - t)
                inside.append(report.seconds)
                if not report.ok or report.migration is None or not report.migration.ok:
                    print(f"inspect failed: {report.error or (report.migration.error if report.migration else None)}")
                    return 1
            assert report is not None and report.migration is not None
            med = statistics.median(walls)
            print("\n| archive | runs | median s | min s | max s | in the worker (median) s | max_abs_diff |")
            print("|---|---|---|---|---|---|---|")
            print(f"| ResNet-18 trace, {path.stat().st_size / 2**20:.0f} MB | {len(walls)} | {med:.2f} | "
                  f"{min(walls):.2f} | {max(walls):.2f} | {statistics.median(inside):.2f} | "
                  f"{report.migration.max_abs_diff:.3g} |")
            if args.pt2:
                while pool.spare_count() < 1:
                    time.sleep(0.05)
                t = time.perf_counter()
                with_pt2 = archive.inspect_archive(path, pool=pool, pt2=True)
                print(f"\nwith the .pt2 returned ({len(with_pt2.artifacts.get('pt2', b'')) / 2**20:.0f} MB): "
                      f"{time.perf_counter() - t:.2f} s")
            verdict = "meets" if med <= TARGET_S else "MISSES"
            print(f"\nmedian {med:.2f} s {verdict} the target of {TARGET_S:g} s")
            return 0 if med <= TARGET_S else 1
        finally:
            pool.close()


if __name__ == "__main__":
    raise SystemExit(main())
