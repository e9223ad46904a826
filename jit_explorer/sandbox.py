"""The only door for pasted code: run it in a throw-away worker process.

A worker is ``python -I`` started with a minimal environment (nothing of the
server's, so no token or secret), in a fresh temp directory, in its own session
(process group). It imports torch, then waits for exactly one JSON request on
stdin, applies resource limits before any user code runs, answers on a private
pipe, and is thrown away: the server kills its whole process group afterwards.
Spare workers that have already imported torch are kept warm in a small pool so
that the round trip stays short.

Example::

    >>> from jit_explorer import sandbox
    >>> [a.ok for a in sandbox.analyze_source("import torch\\ndef f(x):\\n    return x + 1\\n", inputs="torch.ones(2)")]
    [True]
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .errors import SandboxError
from .report import Analysis, AnalysisError

__all__ = ["Limits", "analyze_source", "run_request", "WorkerPool", "default_pool", "shutdown"]

ROOT = Path(__file__).resolve().parent.parent
READY = b"JX-READY\n"


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


@dataclass(frozen=True)
class Limits:
    """Resource limits of one worker request (defaults sized for a 2-vCPU / 16 GB Space).

    Every field can be set from the environment: ``JX_SANDBOX_<FIELD>`` (upper case).
    """

    wall_s: float = 30.0
    cpu_s: int = 60
    memory_mb: int = 3072  # address space the user code may add on top of the warm worker
    file_mb: int = 16
    open_files: int = 256
    output_kb: int = 64  # captured stdout/stderr, each
    result_mb: int = 8
    startup_s: float = 90.0

    @classmethod
    def from_env(cls) -> Limits:
        """Defaults overridden by ``JX_SANDBOX_*`` environment variables."""
        base = cls()
        values = {k: type(v)(_env_float(f"JX_SANDBOX_{k.upper()}", v)) for k, v in asdict(base).items()}
        return cls(**values)


# --------------------------------------------------------------------------- worker processes

_BOOTSTRAP = (
    "import sys; sys.path.insert(0, {root!r}); "
    "from jit_explorer import _worker; _worker.main({fd})"
)


def _worker_env(tmp: str) -> dict[str, str]:
    """A minimal environment: nothing inherited from the server."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": tmp,
        "TMPDIR": tmp,
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "JIT_EXPLORER_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "CUDA_VISIBLE_DEVICES": "",
    }


class Worker:
    """One child process: started, warmed (torch imported), used once, killed."""

    def __init__(self) -> None:
        self.tmp = tempfile.mkdtemp(prefix="jx-worker-")
        r, w = os.pipe()
        self._result_r = r
        cmd = [sys.executable, "-I", "-c", _BOOTSTRAP.format(root=str(ROOT), fd=w)]
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            cwd=self.tmp, env=_worker_env(self.tmp), pass_fds=(w,), start_new_session=True,
        )
        os.close(w)
        self.started = time.monotonic()
        self._ready = False

    def wait_ready(self, timeout: float) -> bool:
        """Block until the worker has imported torch (it writes :data:`READY` on the result pipe)."""
        if self._ready:
            return True
        deadline = time.monotonic() + timeout
        buf = b""
        while time.monotonic() < deadline and self.proc.poll() is None:
            ready, _, _ = select.select([self._result_r], [], [], max(0.0, min(0.5, deadline - time.monotonic())))
            if ready:
                chunk = os.read(self._result_r, len(READY) - len(buf))
                if not chunk:
                    break
                buf += chunk
                if buf == READY:
                    self._ready = True
                    return True
        return False

    def is_ready_now(self) -> bool:
        """Non-blocking readiness check."""
        return self._ready or self.wait_ready(0.0)

    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.proc.poll() is None

    def kill(self) -> None:
        """Kill the worker's whole process group and remove its temp dir."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                if f:
                    f.close()
            except OSError:
                pass
        try:
            os.close(self._result_r)
        except OSError:
            pass
        shutil.rmtree(self.tmp, ignore_errors=True)


class WorkerPool:
    """A few warm spare workers; each serves exactly one request, then a replacement starts."""

    def __init__(self, size: int = 1) -> None:
        self.size = max(0, size)
        self._lock = threading.Lock()
        self._spares: list[Worker] = []
        self._closed = False

    def _refill(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._spares = [w for w in self._spares if w.alive()]
            missing = self.size - len(self._spares)
            for _ in range(missing):
                self._spares.append(Worker())

    def start(self) -> None:
        """Start the spares now (in the background)."""
        threading.Thread(target=self._refill, daemon=True).start()

    def take(self) -> Worker:
        """A ready spare if there is one (else a new worker); a replacement starts in the background."""
        with self._lock:
            spares = [w for w in self._spares if w.alive()]
            ready = [w for w in spares if w.is_ready_now()]
            pick = ready[0] if ready else (spares[0] if spares else None)
            if pick is not None:
                spares.remove(pick)
            self._spares = spares
        if pick is None:
            pick = Worker()
        self.start()
        return pick

    def close(self) -> None:
        """Kill the spares."""
        with self._lock:
            self._closed = True
            spares, self._spares = self._spares, []
        for w in spares:
            w.kill()


_pool_lock = threading.Lock()
_pool: WorkerPool | None = None


def default_pool() -> WorkerPool:
    """The process-wide pool (size from ``JX_SANDBOX_POOL``, default 1)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = WorkerPool(int(_env_float("JX_SANDBOX_POOL", 1)))
            _pool.start()
        return _pool


def shutdown() -> None:
    """Kill the pool's spare workers (at exit)."""
    global _pool
    with _pool_lock:
        if _pool is not None:
            _pool.close()
            _pool = None


class _Capped(threading.Thread):
    """Reads a stream to the end, keeping at most ``cap`` bytes."""

    def __init__(self, stream: Any, cap: int) -> None:
        super().__init__(daemon=True)
        self.stream, self.cap = stream, cap
        self.data = bytearray()
        self.truncated = False

    def run(self) -> None:
        try:
            while True:
                chunk = self.stream.read1(65536) if hasattr(self.stream, "read1") else self.stream.read(65536)
                if not chunk:
                    break
                room = self.cap - len(self.data)
                if room > 0:
                    self.data += chunk[:room]
                if len(chunk) > max(room, 0):
                    self.truncated = True
        except (OSError, ValueError):
            pass


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


def run_request(request: dict[str, Any], *, limits: Limits | None = None, pool: WorkerPool | None = None) -> dict[str, Any]:
    """Send one request to a fresh worker and return its JSON answer.

    Raises:
        SandboxError: timeout, crash, exit without an answer, answer too large — with a
            message a person understands. The worker's process group is always killed.
    """
    limits = limits or Limits.from_env()
    pool = pool or default_pool()
    worker = pool.take()
    try:
        if not worker.wait_ready(limits.startup_s):
            raise SandboxError("the sandbox worker failed to start (torch did not import in time); try again")
        payload = json.dumps({**request, "limits": asdict(limits)}).encode()
        out = _Capped(worker.proc.stdout, limits.output_kb * 1024)
        err = _Capped(worker.proc.stderr, limits.output_kb * 1024)
        out.start()
        err.start()
        try:
            assert worker.proc.stdin is not None
            worker.proc.stdin.write(payload + b"\n")
            worker.proc.stdin.close()
        except BrokenPipeError:
            pass
        answer = _read_answer(worker, limits)
        return answer
    finally:
        worker.kill()


def _read_answer(worker: Worker, limits: Limits) -> dict[str, Any]:
    cap = limits.result_mb * 1024 * 1024
    deadline = time.monotonic() + limits.wall_s
    buf = bytearray()
    fd = worker._result_r
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise SandboxError(
                f"the code ran longer than {limits.wall_s:g} s and was stopped (wall-clock limit); "
                "look for an endless loop or make the example inputs smaller"
            )
        ready, _, _ = select.select([fd], [], [], min(left, 0.5))
        if not ready:
            if worker.proc.poll() is not None:
                # drain what may still be in the pipe
                ready, _, _ = select.select([fd], [], [], 0)
                if not ready:
                    break
            else:
                continue
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            break
        buf += chunk
        if len(buf) > cap:
            raise SandboxError(
                f"the result is larger than {limits.result_mb} MB (a gigantic graph?); make the model or "
                "the loop counts smaller"
            )
    try:
        worker.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        pass
    if buf:
        try:
            return json.loads(buf.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise SandboxError("the worker's answer was cut short or corrupted (the code interfered with it)") from None
    code = worker.proc.returncode
    if code is None:
        raise SandboxError("the worker closed its answer channel without answering")
    if code < 0:
        name = _signal_name(code)
        if name == "SIGXCPU":
            raise SandboxError(f"the code used more than {limits.cpu_s} s of CPU time and was stopped (CPU limit)")
        if name == "SIGKILL":
            raise SandboxError("the worker was killed (SIGKILL) — the code probably ran out of memory or killed itself")
        raise SandboxError(f"the code crashed the worker process ({name}); the server is fine — check the code")
    raise SandboxError(
        f"the worker exited with status {code} before answering: the code called os._exit(), "
        "exit() at a low level, or crashed the interpreter"
    )


# --------------------------------------------------------------------------- public entry point


def analyze_source(
    source: str,
    *,
    entry: str = "",
    inputs: str = "",
    mode: str = "both",
    filename: str = "snippet.py",
    limits: Limits | None = None,
) -> list[Analysis]:
    """Analyse pasted ``source`` in a sandbox worker.

    Args:
        source: Python source defining functions / ``nn.Module`` subclasses.
        entry: the entry to analyse; empty means every entry.
        inputs: an expression for the inputs; empty means the source's ``example_inputs()``.
        mode: ``trace``, ``script`` or ``both``.
        filename: the name shown for the file (no directories are created from it).
        limits: resource limits; default :meth:`Limits.from_env`.

    Returns:
        One :class:`Analysis` per entry. Worker failures (timeout, crash, memory) come back as a
        single ``ok=False`` analysis whose ``error.kind`` is ``sandbox``.
    """
    from .snippet import validate_source

    validate_source(source)  # cheap checks before a worker is used
    request = {"op": "analyze", "source": source, "entry": entry, "inputs": inputs, "mode": mode,
               "filename": Path(filename).name or "snippet.py"}
    try:
        answer = run_request(request, limits=limits)
    except SandboxError as e:
        import torch

        return [Analysis(file=request["filename"], entry=entry, ok=False, torch_version=torch.__version__,
                         error=AnalysisError(kind="sandbox", message=str(e), line=None))]
    if not answer.get("ok"):
        err = answer.get("error") or {}
        raise SandboxError(err.get("message", "the worker failed"))
    return [Analysis.from_dict(d) for d in answer["analyses"]]
