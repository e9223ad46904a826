"""The processes that run requests: the warm zygote, one supervisor per request, the pool, the ``/proc`` sweep.

How a request runs (the child side is :mod:`jit_explorer.sandbox.worker`)::

    server ──(socketpair)──> zygote ──fork──> supervisor (one per request) ──fork──> user process

The zygote is started as ``python -I -B -c`` with a bootstrap that imports
:mod:`jit_explorer.sandbox.worker` from the folder that holds the package. Requests and answers
cross as one JSON object each (:mod:`jit_explorer.sandbox.protocol`).
"""

from __future__ import annotations

import atexit
import itertools
import json
import logging
import os
import random
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..errors import SandboxError
from .limits import Limits
from .policy import harden_server

__all__ = ["Worker", "WorkerPool", "default_pool", "shutdown", "remove_stale_dirs"]

log = logging.getLogger("jit_explorer.sandbox")

ROOT = Path(__file__).resolve().parent.parent.parent  # the folder that holds the package
_MB = 1024 * 1024
_UID_BASE = 200_000  # private uids for user processes when the server runs as root
_UID_SPAN = 800_000
_READY = b"READY\n"


def _worker_env(home: str) -> dict[str, str]:
    """A minimal environment: nothing inherited from the server."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "TMPDIR": home,
        "LANG": "C.UTF-8",
        "USER": "sandbox",
        "LOGNAME": "sandbox",
        "JIT_EXPLORER_OFFLINE": "1",
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "CUDA_VISIBLE_DEVICES": "",
    }


_BOOTSTRAP = ("import sys; sys.path.insert(0, {root!r}); "
              "from jit_explorer.sandbox import worker; worker.zygote_main({fd})")


def _stat_fields(pid: int | str) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _parent_of(stat_fields: list[str]) -> int:
    try:
        return int(stat_fields[1])
    except (IndexError, ValueError):
        return -1


def _uid_of(pid: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("Uid:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def _sweep(*, sid: int, uid: int | None) -> int:
    """Kill every process in session ``sid`` or (a private uid) owned by ``uid``. Returns how many."""
    me = os.getpid()
    killed = 0
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        st = _stat_fields(name)
        if st is None or st[0] == "Z":
            continue
        hit = len(st) > 3 and st[3] == str(sid)
        if not hit and uid is not None:
            hit = _uid_of(name) == uid
        if hit:
            try:
                os.kill(int(name), signal.SIGKILL)
                killed += 1
            except OSError:
                pass
    return killed


class Worker:
    """A warm supervisor process, forked by the zygote: serves exactly one request, then is killed."""

    def __init__(self, pid: int, req_w: int, res_r: int, workdir: str, uid: int | None, zygote_pid: int = 0) -> None:
        self.pid = pid
        self.zygote_pid = zygote_pid
        self._req_w = req_w
        self._res_r = res_r
        self.workdir = workdir
        self.uid = uid
        self.used = False
        self._killed = False

    def alive(self) -> bool:
        """Whether the supervisor is still running (not a zombie)."""
        st = _stat_fields(self.pid)
        return st is not None and st[0] not in ("Z", "X")

    def run(self, request: Mapping[str, Any], limits: Limits) -> dict[str, Any]:
        """Send ``request`` (a request's JSON object: :meth:`~jit_explorer.sandbox.protocol.AnalyzeRequest.to_json`)
        and return the supervisor's JSON report (:class:`~jit_explorer.sandbox.protocol.Response`).

        Raises:
            SandboxError: the supervisor died or hung (the user code's own failures are reports).
        """
        if self.used:
            raise SandboxError("a sandbox worker serves one request only")
        self.used = True
        payload = json.dumps({**request, "limits": asdict(limits), "uid": self.uid}).encode() + b"\n"
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(self._req_w, view):]
        except OSError as e:
            raise SandboxError("the sandbox worker was not there to take the request; try again") from e
        finally:
            os.close(self._req_w)
            self._req_w = -1
        cap = limits.result_mb * _MB + _MB
        deadline = time.monotonic() + limits.wall_s + 15.0  # the supervisor enforces wall_s itself
        buf = bytearray()
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise SandboxError(f"the code ran longer than {limits.wall_s:g} s and was stopped (time limit)")
            ready, _, _ = select.select([self._res_r], [], [], min(left, 1.0))
            if not ready:
                continue
            chunk = os.read(self._res_r, 1 << 20)
            if not chunk:
                break
            buf += chunk
            if len(buf) > cap:
                raise SandboxError(f"the result is larger than {limits.result_mb} MB and was dropped")
        if not buf:
            raise SandboxError("the sandbox worker died before answering (the server is fine); try again")
        try:
            report = json.loads(buf)
        except ValueError:
            raise SandboxError("the sandbox worker's answer was corrupted") from None
        if not isinstance(report, dict):
            raise SandboxError("the sandbox worker's answer was corrupted")
        return report

    def kill(self) -> None:
        """Kill the supervisor's session and anything of its private uid; remove its temp dir."""
        if self._killed:
            return
        self._killed = True
        st = _stat_fields(self.pid)
        if st is not None and len(st) > 3 and st[3] == str(self.pid):  # still our session leader
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except OSError:
                pass
        elif st is not None and st[0] != "Z" and _parent_of(st) == self.zygote_pid:  # forked, not yet in its session
            try:
                os.kill(self.pid, signal.SIGKILL)
            except OSError:
                pass
        _sweep(sid=self.pid, uid=self.uid)
        for fd in (self._req_w, self._res_r):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._req_w = self._res_r = -1
        shutil.rmtree(self.workdir, ignore_errors=True)


_STALE_PREFIXES = ("jx-zygote-", "jx-worker-")
_LEGACY_STALE_S = 24 * 3600.0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_dirs(tmp: str | None = None) -> int:
    """Remove the sandbox temp dirs that servers which are gone left behind; returns how many.

    A dir is ``jx-zygote-<server pid>-*`` or ``jx-worker-<server pid>-*``: it is stale when that pid
    is not running. Older names without a pid are removed after a day. Only this user's dirs.
    """
    base = Path(tmp or tempfile.gettempdir())
    removed = 0
    me = os.geteuid()
    try:
        entries = list(base.iterdir())
    except OSError:
        return 0
    for p in entries:
        prefix = next((x for x in _STALE_PREFIXES if p.name.startswith(x)), None)
        if prefix is None:
            continue
        try:
            st = p.lstat()
        except OSError:
            continue
        if st.st_uid != me or not p.is_dir() or p.is_symlink():
            continue
        head = p.name[len(prefix):].split("-", 1)[0]
        if head.isdigit() and "-" in p.name[len(prefix):]:
            stale = int(head) != os.getpid() and not _pid_alive(int(head))
        else:
            stale = time.time() - st.st_mtime > _LEGACY_STALE_S
        if stale:
            shutil.rmtree(p, ignore_errors=True)
            removed += not p.exists()
    return removed


class _Zygote:
    """The process that imported torch once and forks supervisors (see :mod:`jit_explorer.sandbox.worker`)."""

    def __init__(self) -> None:
        self.home = tempfile.mkdtemp(prefix=f"jx-zygote-{os.getpid()}-")
        self._sock, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self._log = tempfile.TemporaryFile()
        fd = child.fileno()
        self.proc = subprocess.Popen(
            [os.path.abspath(sys.executable), "-I", "-B", "-c", _BOOTSTRAP.format(root=str(ROOT), fd=fd)],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT, cwd=self.home,
            env=_worker_env(self.home), pass_fds=(fd,), start_new_session=True,
        )
        child.close()
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._failed: str | None = None
        self._buf = b""
        self.started = time.monotonic()

    def alive(self) -> bool:
        return self.proc.poll() is None and self._failed is None

    def wait_ready(self, timeout: float) -> bool:
        """Block until torch is imported and warmed up in the zygote."""
        if self._ready.is_set():
            return True
        with self._lock:
            if self._ready.is_set():
                return True
            deadline = time.monotonic() + timeout
            while not self._ready.is_set():
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    if self.proc.poll() is not None:
                        self._failed = self.log_tail()
                    return False
                ready, _, _ = select.select([self._sock], [], [], min(left, 0.5))
                if ready:
                    chunk = self._sock.recv(64)
                    if not chunk:
                        self._failed = self.log_tail()
                        return False
                    self._buf += chunk
                    if _READY in self._buf:
                        self._buf = self._buf.split(_READY, 1)[1]
                        self._ready.set()
        return True

    def log_tail(self, n: int = 2000) -> str:
        try:
            self._log.seek(0, os.SEEK_END)
            size = self._log.tell()
            self._log.seek(max(0, size - n))
            return self._log.read().decode("utf-8", "replace")
        except (OSError, ValueError):
            return ""

    def spawn(self, uid: int | None) -> Worker:
        """Fork a new supervisor with its own temp dir (owned by ``uid`` when set)."""
        workdir = tempfile.mkdtemp(prefix=f"jx-worker-{os.getpid()}-")
        if uid is not None:
            os.chown(workdir, uid, uid)
        req_r, req_w = os.pipe()
        res_r, res_w = os.pipe()
        try:
            line = json.dumps({"workdir": workdir}).encode() + b"\n"
            with self._lock:
                socket.send_fds(self._sock, [line], [req_r, res_w])
                self._sock.settimeout(30)
                try:
                    while b"\n" not in self._buf:
                        chunk = self._sock.recv(64)
                        if not chunk:
                            raise SandboxError("the sandbox zygote exited")
                        self._buf += chunk
                finally:
                    self._sock.settimeout(None)
                reply, self._buf = self._buf.split(b"\n", 1)
            pid = int(reply)
            if pid <= 0:
                raise SandboxError("the sandbox zygote could not fork a worker")
        except (OSError, ValueError, SandboxError) as e:
            for fd in (req_w, res_r):
                os.close(fd)
            shutil.rmtree(workdir, ignore_errors=True)
            self._failed = self._failed or str(e)
            raise SandboxError(f"could not start a sandbox worker: {e}") from e
        finally:
            os.close(req_r)
            os.close(res_w)
        return Worker(pid, req_w, res_r, workdir, uid, self.proc.pid)

    def close(self) -> None:
        """Close the control socket: the zygote kills everything it started and exits."""
        try:
            self._sock.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
            self.proc.wait(timeout=5)
        self._log.close()
        shutil.rmtree(self.home, ignore_errors=True)


class WorkerPool:
    """Warm spare supervisors; each serves exactly one request, and a replacement is forked in the background.

    The spares are forks of one warm zygote, so a replacement is ready in milliseconds and they
    share torch's pages. ``max_running`` bounds the requests running at once (memory bound).
    """

    def __init__(self, size: int | None = None, *, limits: Limits | None = None) -> None:
        self.limits = limits or Limits.from_env()
        self.size = max(0, self.limits.spares if size is None else size)
        self.running = threading.BoundedSemaphore(max(1, self.limits.max_running))
        self._lock = threading.Lock()
        self._refill_lock = threading.Lock()
        self._zygote: _Zygote | None = None
        self._spares: list[Worker] = []
        self._closed = False
        self._uids = itertools.count(random.randrange(_UID_SPAN))

    # ------------------------------------------------------------ zygote and spares
    def _next_uid(self) -> int | None:
        if os.geteuid() != 0:
            return None
        return _UID_BASE + next(self._uids) % _UID_SPAN

    def _ready_zygote(self) -> _Zygote:
        with self._lock:
            if self._closed:
                raise SandboxError("the sandbox is shut down")
            z = self._zygote
            if z is None or not z.alive():
                if z is not None:
                    log.warning("sandbox zygote died; starting a new one. Its log: %s", z.log_tail(500))
                    threading.Thread(target=z.close, daemon=True).start()
                z = self._zygote = _Zygote()
        if not z.wait_ready(self.limits.startup_s):
            detail = z.log_tail(800).strip()
            log.error("sandbox zygote failed to start: %s", detail)
            raise SandboxError("the sandbox could not start (torch did not import in time); try again in a minute")
        return z

    def _refill(self) -> None:
        if not self._refill_lock.acquire(blocking=False):
            return
        try:
            while True:
                with self._lock:
                    if self._closed:
                        return
                    dead = [w for w in self._spares if not w.alive()]
                    self._spares = [w for w in self._spares if w not in dead]
                for w in dead:
                    w.kill()
                with self._lock:
                    if len(self._spares) >= self.size:
                        return
                z = self._ready_zygote()
                w = z.spawn(self._next_uid())
                with self._lock:
                    if self._closed:
                        w.kill()
                        return
                    self._spares.append(w)
        except SandboxError as e:
            if not self._closed:
                log.warning("could not refill the sandbox pool: %s", e)
        finally:
            self._refill_lock.release()

    def start(self) -> None:
        """Start the zygote and the spares now, in the background."""
        threading.Thread(target=self._refill, name="jx-sandbox-refill", daemon=True).start()

    def take(self) -> Worker:
        """A spare supervisor (forked now if there is none); a replacement is forked in the background."""
        pick: Worker | None = None
        with self._lock:
            while self._spares:
                w = self._spares.pop(0)
                if w.alive():
                    pick = w
                    break
                w.kill()
        if pick is None:
            pick = self._ready_zygote().spawn(self._next_uid())
        self.start()
        return pick

    def spare_count(self) -> int:
        """How many spares are waiting."""
        with self._lock:
            return len(self._spares)

    def run(self, request: Mapping[str, Any], limits: Limits | None = None) -> dict[str, Any]:
        """Run one request on a fresh worker (waits while ``max_running`` requests run)."""
        limits = limits or self.limits
        with self.running:
            worker = self.take()
            try:
                try:
                    return worker.run(request, limits)
                except SandboxError as e:
                    if "not there" not in str(e):
                        raise
                worker.kill()
                worker = self._ready_zygote().spawn(self._next_uid())  # one retry with a fresh fork
                return worker.run(request, limits)
            finally:
                worker.kill()

    def close(self) -> None:
        """Kill the spares and the zygote (which kills whatever it started)."""
        with self._lock:
            self._closed = True
            spares, self._spares = self._spares, []
            z, self._zygote = self._zygote, None
        for w in spares:
            w.kill()
        if z is not None:
            z.close()


_pool_lock = threading.Lock()
_pool: WorkerPool | None = None


def default_pool() -> WorkerPool:
    """The process-wide pool (configured by :meth:`Limits.from_env`); started, and the server hardened, on first use."""
    global _pool
    with _pool_lock:
        if _pool is None:
            harden_server()
            stale = remove_stale_dirs()
            if stale:
                log.info("removed %d sandbox temp dir(s) left by servers that are gone", stale)
            _pool = WorkerPool()
            _pool.start()
            atexit.register(shutdown)
        return _pool


def shutdown() -> None:
    """Kill the pool's spares and zygote (at exit)."""
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.close()
