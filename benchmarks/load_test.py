"""Load test of the app: benign pastes next to hostile 30 s runs, conversions and a benchmark (issue 12).

Starts the app on a free port, measures each endpoint alone, then runs ``--clients`` clients for
``--duration`` seconds through ``gradio_client`` (each client its own session):

* benign pasters: ``/analyze_code`` on a two-line function, again and again;
* hostile clients: ``/analyze_code`` on a busy loop that only the sandbox's wall limit stops;
* converters: ``/convert_model`` over a few zoo models and modes;
* one client runs one ``/benchmark`` and then pastes benign code.

Reports answered/failed and p50/p95 per endpoint alone and under load, the server's RSS before and
after, and sandbox processes left behind after the server stopped (orphans)::

    python benchmarks/load_test.py                 # 8 clients, 3 minutes
    python benchmarks/load_test.py --duration 60   # shorter
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
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENIGN = "import torch\n\n\ndef f(x):\n    return x * 2 + 1\n"
HOSTILE = ("import torch\n\n\ndef f(x):\n    while True:\n        pass\n\n\n"
           "def example_inputs():\n    return (torch.ones(2),)\n")
CONVERSIONS = [("sign_branch", "both"), ("gru", "trace"), ("resnet18", "both"), ("mobilenet_v3_small", "trace"),
               ("running_loop", "script")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _sandbox_pids() -> set[int]:
    """Processes of the sandbox (zygote, supervisors, user code) on this machine."""
    out = set()
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "zygote_main" in cmd or "jx-zygote" in cmd:
            out.add(int(p.name))
    return out


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.times: dict[str, list[float]] = defaultdict(list)
        self.failed: dict[str, int] = defaultdict(int)
        self.errors: dict[str, list[str]] = defaultdict(list)

    def call(self, name: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            out = fn(*args, **kwargs)
        except Exception as e:  # noqa: BLE001 - a failed request is counted, the client carries on
            with self.lock:
                self.failed[name] += 1
                if len(self.errors[name]) < 3:
                    self.errors[name].append(f"{type(e).__name__}: {str(e)[:200]}")
            return None
        with self.lock:
            self.times[name].append(time.perf_counter() - start)
        return out

    def row(self, name: str) -> dict[str, Any]:
        t = self.times.get(name, [])
        return {"answered": len(t), "failed": self.failed.get(name, 0),
                "p50_s": round(statistics.median(t), 2) if t else None, "p95_s": round(_pct(t, 0.95), 2) if t else None,
                "max_s": round(max(t), 2) if t else None}


def _client(url: str) -> Any:
    from gradio_client import Client

    return Client(url, verbose=False)


def _benign(c: Any, rec: Recorder, name: str = "analyze_code benign") -> None:
    out = rec.call(name, c.predict, BENIGN, "f", "torch.ones(3)", "both", api_name="/analyze_code")
    if out is not None and not out.get("ok"):
        with rec.lock:
            rec.errors[name + " (not ok)"].append(str(out.get("error"))[:200])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=180.0, help="seconds of load (default 180)")
    ap.add_argument("--clients", type=int, default=8, help="clients under load (default 8)")
    ap.add_argument("--hostile", type=int, default=2, help="of which hostile busy loops (default 2)")
    ap.add_argument("--converters", type=int, default=2, help="of which /convert_model clients (default 2)")
    ap.add_argument("--alone", type=int, default=6, help="calls per endpoint measured alone (default 6)")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args(argv)

    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {**os.environ, "PORT": str(port), "JIT_EXPLORER_OFFLINE": "1", "HF_HUB_OFFLINE": "1",
           "GRADIO_ANALYTICS_ENABLED": "False", "JX_BENCH_BUDGET_S": os.environ.get("JX_BENCH_BUDGET_S", "1")}
    before_pids = _sandbox_pids()
    server = subprocess.Popen([sys.executable, "-m", "app"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, start_new_session=True)
    results: dict[str, Any] = {"duration_s": args.duration, "clients": args.clients}
    try:
        deadline = time.time() + 300
        c = None
        while c is None:
            if server.poll() is not None or time.time() > deadline:
                err = server.stderr.read().decode()[-2000:] if server.stderr else ""
                raise SystemExit(f"the server did not start: {err}")
            try:
                c = _client(url)
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(2)
        time.sleep(20)  # let the prewarm of the blog's models finish (it holds the conversion lock)
        results["rss_before_mb"] = round(_rss_mb(server.pid), 1)

        alone = Recorder()
        for _ in range(args.alone):
            _benign(c, alone)
        for model, mode in CONVERSIONS[: max(1, args.alone)]:
            alone.call("convert_model", c.predict, model, mode, "cpu", api_name="/convert_model")
        alone.call("analyze_code hostile", c.predict, HOSTILE, "f", "", "both", api_name="/analyze_code")
        results["alone"] = {k: alone.row(k) for k in alone.times.keys() | alone.failed.keys()}

        load = Recorder()
        stop = time.time() + args.duration
        threads = []
        n_benign = max(1, args.clients - args.hostile - args.converters - 1)

        def benign_loop() -> None:
            cl = _client(url)
            while time.time() < stop:
                _benign(cl, load)
                time.sleep(0.5)

        def hostile_loop() -> None:
            cl = _client(url)
            while time.time() < stop:
                load.call("analyze_code hostile", cl.predict, HOSTILE, "f", "", "both", api_name="/analyze_code")

        def convert_loop() -> None:
            cl = _client(url)
            i = 0
            while time.time() < stop:
                model, mode = CONVERSIONS[i % len(CONVERSIONS)]
                load.call("convert_model", cl.predict, model, mode, "cpu", api_name="/convert_model")
                i += 1
                time.sleep(0.5)

        def bench_then_benign() -> None:
            cl = _client(url)
            load.call("benchmark", cl.predict, "resnet18", "cpu", ["eager", "trace", "script"], 0,
                      api_name="/benchmark")
            while time.time() < stop:
                _benign(cl, load)
                time.sleep(0.5)

        plan = ([benign_loop] * n_benign + [hostile_loop] * args.hostile + [convert_loop] * args.converters
                + [bench_then_benign])
        for fn in plan:
            t = threading.Thread(target=fn, daemon=True)
            t.start()
            threads.append(t)
        for t in threads:
            t.join(args.duration + 120)
        results["under_load"] = {k: load.row(k) for k in load.times.keys() | load.failed.keys()}
        results["errors"] = {k: v for k, v in {**alone.errors, **load.errors}.items() if v}
        results["rss_after_mb"] = round(_rss_mb(server.pid), 1)
        results["hung_clients"] = sum(t.is_alive() for t in threads)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        gone_by = time.time() + 20  # the zygote and its supervisors notice the server's death and exit
        while _sandbox_pids() - before_pids and time.time() < gone_by:
            time.sleep(0.5)
        results["orphans"] = sorted(_sandbox_pids() - before_pids)  # still there 20 s after the server stopped

    print(f"{'endpoint':26} {'alone p50/p95 (s)':>18} {'load answered/failed':>21} {'load p50/p95 (s)':>17}")
    for name in sorted(results.get("under_load", {}) | results.get("alone", {})):
        a = results.get("alone", {}).get(name, {})
        u = results.get("under_load", {}).get(name, {})
        print(f"{name:26} {str(a.get('p50_s'))+' / '+str(a.get('p95_s')):>18} "
              f"{str(u.get('answered'))+' / '+str(u.get('failed')):>21} "
              f"{str(u.get('p50_s'))+' / '+str(u.get('p95_s')):>17}")
    print(f"server RSS {results.get('rss_before_mb')} MB -> {results.get('rss_after_mb')} MB; "
          f"orphans: {results['orphans'] or 'none'}; hung clients: {results.get('hung_clients')}")
    if results.get("errors"):
        print("errors:", json.dumps(results["errors"], indent=1)[:3000])
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
