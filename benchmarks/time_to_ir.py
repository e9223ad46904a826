"""Time to IR: how long the app's API takes to hand back TorchScript, as a person (or a script) sees it.

Times, over HTTP with gradio_client:

* ``/convert_model`` for ResNet-18 and BERT-base: the first call (cold: the model is built) and the
  median of the following ones (warm);
* ``/analyze_code`` for a small pasted function (through the sandbox): the first call (cold: the
  sandbox's zygote may still be importing torch) and the median of the following ones (warm).

Against a running app::

    python benchmarks/time_to_ir.py --url http://127.0.0.1:7860/

or let the script launch one (``python -m app`` on a free loopback port, stopped at the end)::

    python benchmarks/time_to_ir.py [--repeat 5] [--paste-repeat 15] [--json]

The issue's target: the warm median of ``/analyze_code`` for a small function is at most 0.8 s.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SMALL_FUNCTION = """import torch


def clamp_sign(x):
    if x.sum() > 0:
        return torch.clamp(x, 0, 1)
    return -x
"""
TARGET_PASTE_S = 0.8


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _launched_app(startup_s: float) -> Iterator[str]:
    """``python -m app`` on a free loopback port; yields its URL once it answers."""
    from gradio_client import Client

    port = _free_port()
    env = {**os.environ, "PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1", "JX_ALLOW_PASTE": "1",
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.setdefault("JIT_EXPLORER_OFFLINE", "1")
    env.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    proc = subprocess.Popen([sys.executable, "-m", "app"], cwd=str(ROOT), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + startup_s
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"the app exited with status {proc.returncode} while starting")
            try:
                Client(url, verbose=False)
                break
            except Exception:  # noqa: BLE001 - not listening yet
                if time.monotonic() > deadline:
                    raise SystemExit(f"the app did not answer within {startup_s:g} s") from None
                time.sleep(0.5)
        yield url
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def _time(call: Callable[[], Any], check: Callable[[Any], bool]) -> float:
    t0 = time.perf_counter()
    out = call()
    dt = time.perf_counter() - t0
    if not check(out):
        raise SystemExit(f"unexpected answer: {json.dumps(out)[:500]}")
    return dt


def _series(call: Callable[[], Any], check: Callable[[Any], bool], repeat: int, pause: float) -> dict[str, Any]:
    cold = _time(call, check)
    warm = []
    for _ in range(repeat):
        time.sleep(pause)
        warm.append(_time(call, check))
    return {"cold_s": cold, "warm_median_s": statistics.median(warm), "warm_min_s": min(warm),
            "warm_max_s": max(warm), "runs": len(warm)}


def measure(url: str, *, repeat: int, paste_repeat: int, pause: float, models: list[str]) -> dict[str, Any]:
    """Run every series against the app at ``url``."""
    from gradio_client import Client

    client = Client(url, verbose=False)
    rows: dict[str, Any] = {}
    # the paste first: its cold number is then the sandbox's real first request
    rows["/analyze_code small function"] = _series(
        lambda: client.predict(SMALL_FUNCTION, "", "torch.randn(4)", "both", api_name="/analyze_code"),
        lambda a: bool(a.get("ok")) and a["trace"]["ok"] and a["script"]["ok"], paste_repeat, pause)
    for model in models:
        rows[f"/convert_model {model}"] = _series(
            lambda m=model: client.predict(m, "both", "cpu", api_name="/convert_model"),
            lambda a: bool(a.get("ok")), repeat, pause)
    return rows


def _markdown(rows: dict[str, Any]) -> str:
    lines = ["| call | cold (s) | warm median (s) | warm min–max (s) | warm runs |", "|---|---:|---:|---:|---:|"]
    for name, r in rows.items():
        lines.append(f"| `{name}` | {r['cold_s']:.2f} | {r['warm_median_s']:.3f} | "
                     f"{r['warm_min_s']:.3f}–{r['warm_max_s']:.3f} | {r['runs']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", help="a running app (default: launch one with `python -m app`)")
    ap.add_argument("--repeat", type=int, default=5, help="warm calls per model (default 5)")
    ap.add_argument("--paste-repeat", type=int, default=15, help="warm /analyze_code calls (default 15)")
    ap.add_argument("--pause", type=float, default=0.3, help="seconds between calls (default 0.3)")
    ap.add_argument("--models", default="resnet18,bert-base-uncased", help="comma-separated zoo models")
    ap.add_argument("--startup", type=float, default=300.0, help="seconds to wait for a launched app")
    ap.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    args = ap.parse_args(argv)
    models = [m for m in args.models.split(",") if m]

    def run(url: str) -> dict[str, Any]:
        return measure(url, repeat=args.repeat, paste_repeat=args.paste_repeat, pause=args.pause, models=models)

    if args.url:
        rows = run(args.url)
    else:
        with _launched_app(args.startup) as url:
            rows = run(url)
    paste = rows["/analyze_code small function"]["warm_median_s"]
    if args.json:
        print(json.dumps({"rows": rows, "target_paste_s": TARGET_PASTE_S, "paste_ok": paste <= TARGET_PASTE_S},
                         indent=2))
    else:
        print(_markdown(rows))
        verdict = "meets" if paste <= TARGET_PASTE_S else "MISSES"
        print(f"\nwarm /analyze_code median {paste:.3f} s {verdict} the {TARGET_PASTE_S} s target "
              f"(cold calls include model building / the sandbox's first start).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
