"""The sandbox worker's main loop (runs in the child process only; see :mod:`jit_explorer.sandbox`).

Protocol: import torch (warm), write ``JX-READY`` on the result fd, read one JSON
request line from stdin, apply resource limits, run it, write one JSON answer on
the result fd, exit. The server kills the process group afterwards.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
import traceback
from pathlib import Path
from typing import Any

MAX_IR_CHARS = 200_000


def _apply_limits(limits: dict[str, Any]) -> None:
    """Set rlimits before any user code runs (address space is counted on top of the warm process)."""
    page = os.sysconf("SC_PAGE_SIZE")
    with open("/proc/self/statm") as f:
        vm_now = int(f.read().split()[0]) * page
    mem = vm_now + int(limits["memory_mb"]) * 1024 * 1024
    cpu = int(limits["cpu_s"])
    settings = [
        (resource.RLIMIT_AS, mem),
        (resource.RLIMIT_CPU, cpu),
        (resource.RLIMIT_FSIZE, int(limits["file_mb"]) * 1024 * 1024),
        (resource.RLIMIT_NOFILE, int(limits["open_files"])),
        (resource.RLIMIT_CORE, 0),
    ]
    for res, value in settings:
        soft, hard = resource.getrlimit(res)
        new_hard = hard if hard == resource.RLIM_INFINITY or hard >= value else hard
        if res == resource.RLIMIT_CPU:
            new_hard = value + 5 if hard == resource.RLIM_INFINITY else min(hard, value + 5)
        try:
            resource.setrlimit(res, (min(value, new_hard) if new_hard != resource.RLIM_INFINITY else value, new_hard))
        except (ValueError, OSError):
            pass
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writing too much raises OSError(EFBIG) instead of killing


def _truncate(d: dict[str, Any]) -> dict[str, Any]:
    """Cut huge IR strings so the page stays usable."""
    for mode in ("trace", "script"):
        res = d.get(mode)
        if not res:
            continue
        for key in ("graph", "code", "inlined_graph", "optimized_graph"):
            text = res.get(key) or ""
            if len(text) > MAX_IR_CHARS:
                lines = text[:MAX_IR_CHARS].count("\n")
                res[key] = text[:MAX_IR_CHARS] + f"\n# … truncated: {len(text) - MAX_IR_CHARS} more characters ({lines}+ lines shown)\n"
    return d


def _error(entry: str, filename: str, kind: str, message: str, line: int | None = None) -> dict[str, Any]:
    import torch

    return {"file": filename, "entry": entry, "ok": False, "torch_version": torch.__version__,
            "error": {"kind": kind, "message": message, "line": line}, "trace": None, "script": None,
            "pitfalls": [], "warnings": [], "deprecation": None, "notes": []}


def _run(request: dict[str, Any], workdir: Path) -> dict[str, Any]:
    from jit_explorer.analysis import analyze_source_here
    from jit_explorer.convert import user_line_of_exception

    filename = request.get("filename") or "snippet.py"
    entry = request.get("entry", "")
    user_file = str(workdir / filename)
    try:
        if request.get("op") != "analyze":
            return {"ok": False, "error": {"message": f"unknown request {request.get('op')!r}"}}
        results = analyze_source_here(
            request["source"], workdir=workdir, entry=entry, inputs=request.get("inputs", ""),
            mode=request.get("mode", "both"), filename=filename,
        )
        return {"ok": True, "analyses": [_truncate(a.to_dict()) for a in results]}
    except SystemExit as e:
        line = user_line_of_exception(e, {user_file})
        return {"ok": True, "analyses": [_error(entry, filename, "exit", f"the code called sys.exit({e.code!r}); remove it: the analysis needs the code to return", line)]}
    except MemoryError as e:
        line = user_line_of_exception(e, {user_file})
        return {"ok": True, "analyses": [_error(entry, filename, "memory", "the code ran out of memory (the sandbox's memory limit); use smaller tensors", line)]}
    except RecursionError as e:
        line = user_line_of_exception(e, {user_file})
        return {"ok": True, "analyses": [_error(entry, filename, "recursion", "maximum recursion depth exceeded: the code recurses without end", line)]}
    except BaseException as e:  # noqa: BLE001 - the worker must always answer
        line = user_line_of_exception(e, {user_file})
        return {"ok": True, "analyses": [_error(entry, filename, "crash", f"{type(e).__name__}: {e}", line)]}


def main(result_fd: int) -> None:
    """Worker entry point: warm up, serve one request, exit."""
    import torch  # noqa: F401 - the point of a warm worker

    import jit_explorer.analysis  # noqa: F401

    torch.set_num_threads(1)
    os.write(result_fd, b"JX-READY\n")
    line = sys.stdin.readline()
    if not line:
        os._exit(0)
    request = json.loads(line)
    workdir = Path.cwd()
    _apply_limits(request["limits"])
    try:
        answer = _run(request, workdir)
        data = json.dumps(answer).encode()
    except BaseException:  # noqa: BLE001
        data = json.dumps({"ok": False, "error": {"message": "internal worker error: " + traceback.format_exc(limit=1)}}).encode()
    view = memoryview(data)
    while view:
        n = os.write(result_fd, view)
        view = view[n:]
    os.close(result_fd)
    sys.stdout.flush()
    os._exit(0)
