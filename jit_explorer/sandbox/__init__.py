"""The only door for pasted code: run it in a confined, throw-away process.

How a request runs (the child side is :mod:`jit_explorer.sandbox.worker`)::

    server ──(socketpair)──> zygote ──fork──> supervisor (one per request) ──fork──> user process

* The **zygote** is ``python -I -B`` started with a minimal environment (nothing of the server's, so
  no token or secret). It imports torch and warms the JIT up once, then only forks. It never runs
  user code.
* A **supervisor** is forked per request (spares are forked ahead: :class:`WorkerPool`), in its own
  session and fresh temp directory. It is a *child subreaper*: whatever the user code spawns, even a
  double-forked ``setsid`` daemon, remains its descendant. It enforces the wall-clock deadline and
  the output / result / disk caps, and before it answers it kills every descendant and waits until
  none is left. The server then kills its session and sweeps ``/proc`` for anything of its session
  or private uid, so nothing spawned survives a request.
* The **user process** drops root to a private uid (when the server runs as root), sets rlimits
  (address space, CPU, file size, open files, processes, no core), enters Landlock (read-only
  system, writes only in its temp dir, no TCP, no signals out) and a seccomp filter (no signals to
  other processes, no ptrace / process_vm, no IPv4/IPv6 sockets, ...) and only then runs the code.

Every failure (syntax, exception, timeout, memory, crash, exit, output flood) comes back as an
:class:`~jit_explorer.report.Analysis` with ``ok=False`` and a message a person understands; the
server is never affected and the next request gets a fresh process.

Configuration: :class:`Limits` (``JX_SANDBOX_*`` environment variables), ``JX_ALLOW_PASTE``
(:func:`paste_refusal`).

Example::

    >>> from jit_explorer import sandbox
    >>> [a.ok for a in sandbox.analyze_source("import torch\\ndef f(x):\\n    return x + 1\\n", inputs="torch.ones(2)")]
    [True]
"""

from __future__ import annotations

import ast
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
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from ..errors import USER_CODE_KINDS, ErrorKind, InputError, SandboxError, SnippetError
from ..report import Analysis, BenchReport

__all__ = [
    "Limits",
    "analyze_source",
    "run_request",
    "WorkerPool",
    "Worker",
    "default_pool",
    "shutdown",
    "harden_server",
    "protections",
    "paste_refusal",
    "missing_protections",
    "usable_cores",
    "remove_stale_dirs",
    "mark_public_share",
    "REQUIRED_LANDLOCK_ABI",
    "WEAK_OVERRIDE_ENV",
    "MAX_INPUTS_CHARS",
]

log = logging.getLogger("jit_explorer.sandbox")

ROOT = Path(__file__).resolve().parent.parent.parent  # the folder that holds the package
MAX_INPUTS_CHARS = 16 * 1024
_MB = 1024 * 1024
_UID_BASE = 200_000  # private uids for user processes when the server runs as root
_UID_SPAN = 800_000
_READY = b"READY\n"
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


# =========================================================================== limits


@dataclass(frozen=True)
class Limits:
    """Resource limits of one request; defaults sized for a 2-vCPU / 16 GB Space.

    Every field can be set from the environment as ``JX_SANDBOX_<FIELD>`` (upper case), e.g.
    ``JX_SANDBOX_WALL_S=10``. With the defaults, at most ``max_running`` user processes of at most
    ``memory_mb`` each run at once, next to ``spares`` idle forks of the zygote (shared pages).
    """

    wall_s: float = 30.0  # wall-clock deadline of the user process
    cpu_s: int = 45  # CPU seconds (all threads) of the user process
    memory_mb: int = 2560  # address space the user code may add on top of the warm process
    file_mb: int = 16  # largest file the code may write
    disk_mb: int = 64  # all files in its temp dir together
    open_files: int = 256
    processes: int = 32  # threads + processes the code may start
    output_kb: int = 256  # stdout + stderr; more stops the code
    result_mb: int = 8  # the JSON answer
    ir_chars: int = 200_000  # each IR view is cut here, with a note
    startup_s: float = 120.0  # importing torch in the zygote
    spares: int = 2  # warm supervisors forked ahead
    # requests running at once (memory bound: 3 x 2.5 GB leaves half of a 16 GB Space to the server). Three, so that
    # with the fair gate (jit_explorer.fairness) one slot stays free for light pastes while two clients loop 30 s
    # runs: benign paste p95 under load 0.96 s with 3 slots, 13 s with 2 (benchmarks/load_test.py)
    max_running: int = 3

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Limits:
        """Defaults overridden by ``JX_SANDBOX_*`` variables; a bad value is logged and ignored.

        ``JX_SANDBOX_POOL`` is accepted as an older name of ``JX_SANDBOX_SPARES``.
        """
        env = os.environ if environ is None else environ
        base = cls()
        values: dict[str, Any] = {}
        for f in fields(cls):
            default = getattr(base, f.name)
            name = f"JX_SANDBOX_{f.name.upper()}"
            raw = env.get(name)
            if raw is None and f.name == "spares":
                raw, name = env.get("JX_SANDBOX_POOL"), "JX_SANDBOX_POOL"
            if raw is None or not raw.strip():
                continue
            try:
                value = float(raw)
                if value != value or value in (float("inf"), float("-inf")):
                    raise ValueError
                if isinstance(default, int):
                    value = int(value)
                minimum = 0 if f.name == "spares" else (1 if isinstance(default, int) else 0.1)
                if value < minimum:
                    raise ValueError
            except ValueError:
                log.warning("%s=%r is not a valid value (a number >= %s is expected); using %s",
                            name, raw, 0 if f.name == "spares" else 1, default)
                continue
            values[f.name] = value
        return cls(**{**asdict(base), **values})


def usable_cores() -> int:
    """How many CPU cores this process may run on (its affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


# =========================================================================== server-side protections and policy

_public_share = False


def mark_public_share(public: bool = True) -> None:
    """Record that the app was launched with a public share link (pasting is then off by default)."""
    global _public_share
    _public_share = public


#: Landlock ABI needed when the server is not root (no private uid): 3 is the first to handle ``truncate``;
#: what later ABIs add (TCP, signals, ioctls) the seccomp filter denies on its own.
REQUIRED_LANDLOCK_ABI = 3
#: an operator who accepts a weaker sandbox sets this to 1 (pasting then runs with what is there)
WEAK_OVERRIDE_ENV = "JX_SANDBOX_ALLOW_WEAK"


def missing_protections() -> list[str]:
    """The protections pasted code needs that this machine lacks, each as one sentence (empty: none).

    Needed everywhere: seccomp. Needed when the server is not root (pasted code then runs as the
    server's own user): Landlock ABI :data:`REQUIRED_LANDLOCK_ABI` or later.
    """
    from . import confinement

    missing = []
    ok, detail = confinement.seccomp_available()
    if not ok:
        missing.append(f"seccomp ({detail})")
    if os.geteuid() != 0:
        abi = confinement.landlock_abi()
        if abi < REQUIRED_LANDLOCK_ABI:
            have = f"ABI {abi}" if abi else "not available"
            missing.append(f"Landlock ABI {REQUIRED_LANDLOCK_ABI}+ (this kernel: {have}; the server is not root, so "
                           "pasted code would run as its user and could read and change its files)")
    return missing


def _weak_allowed() -> bool:
    return os.environ.get(WEAK_OVERRIDE_ENV, "").strip().lower() in _TRUE


def paste_refusal(*, public_share: bool = False) -> str | None:
    """Why pasting code is not allowed here, or ``None`` when it is.

    ``JX_ALLOW_PASTE=1`` allows it, ``JX_ALLOW_PASTE=0`` forbids it; unset, it is allowed except when the
    app runs behind a public share link (``public_share`` or :func:`mark_public_share`). Whatever
    ``JX_ALLOW_PASTE`` says, it is refused when a needed protection is missing
    (:func:`missing_protections`) unless the operator sets ``JX_SANDBOX_ALLOW_WEAK=1``.
    """
    value = os.environ.get("JX_ALLOW_PASTE", "").strip().lower()
    if value in _FALSE:
        return ("Pasting code is turned off on this server (JX_ALLOW_PASTE=0). Run JIT Explorer locally "
                "(`make demo`) to analyse your own code.")
    missing = missing_protections()
    if missing and not _weak_allowed():
        return ("Pasting code is off: this server lacks sandbox protection (" + "; ".join(missing) + "). "
                f"Run JIT Explorer locally (`make demo`), or, as the operator, set {WEAK_OVERRIDE_ENV}=1 to "
                "accept a weaker sandbox.")
    if value in _TRUE:
        return None
    if public_share or _public_share:
        return ("Pasting code is off because this app is served through a public share link. Whoever started "
                "it can allow it with JX_ALLOW_PASTE=1; or run JIT Explorer locally (`make demo`).")
    return None


def _dumpable() -> bool | None:
    try:
        from . import confinement

        return confinement._libc.prctl(3, 0, 0, 0, 0) == 1  # PR_GET_DUMPABLE
    except (OSError, AttributeError):
        return None


def protections() -> dict[str, tuple[bool, str]]:
    """What protects the server from pasted code on this machine: name -> (active, detail)."""
    from . import confinement

    out: dict[str, tuple[bool, str]] = {}
    ok, detail = confinement.seccomp_available()
    out["seccomp"] = (ok, detail if ok else f"unavailable: {detail}; pasted code could signal or ptrace "
                                             "processes of the same user and open network sockets")
    abi = confinement.landlock_abi()
    out["landlock"] = (abi > 0, f"ABI {abi}: read-only system, writes only in the temp dir, no TCP"
                       + (", no signals out" if abi >= 6 else "") if abi > 0 else
                       "unavailable: pasted code can read and write every file the server's user can")
    root = os.geteuid() == 0
    out["private_user"] = (root, "the server runs as root: user code runs as a private unprivileged uid" if root
                           else "the server is not root: user code runs as the server's user (seccomp and "
                                "Landlock separate them)")
    out["subreaper"] = (sys.platform.startswith("linux"), "spawned processes cannot escape the supervisor")
    dumpable = _dumpable()
    out["non_dumpable"] = (dumpable is False, "the server is non-dumpable: its /proc/<pid>/environ and memory are "
                           "closed to same-user processes" if dumpable is False else
                           "the server is dumpable: call harden_server()")
    return out


def harden_server() -> dict[str, tuple[bool, str]]:
    """Make this (server) process non-dumpable and log every protection that is unavailable.

    Idempotent; called by ``app.launch`` and when the first pool starts.
    """
    from . import confinement

    if not confinement.set_non_dumpable():
        log.warning("prctl(PR_SET_DUMPABLE, 0) failed: same-user processes may read this server's environment")
    status = protections()
    for name, (active, detail) in status.items():
        if not active:
            log.warning("sandbox protection %s: %s", name, detail)
    missing = missing_protections()
    if missing:
        if _weak_allowed():
            log.warning("sandbox: missing %s; pasted code runs anyway (%s=1)", "; ".join(missing), WEAK_OVERRIDE_ENV)
        else:
            log.error("sandbox: missing %s; pasted code is refused (set %s=1 to accept a weaker sandbox)",
                      "; ".join(missing), WEAK_OVERRIDE_ENV)
    return status


# =========================================================================== processes


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


_BOOTSTRAP = "import sys; sys.path.insert(0, {root!r}); from jit_explorer.sandbox import worker; worker.zygote_main({fd})"


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

    def run(self, request: dict[str, Any], limits: Limits) -> dict[str, Any]:
        """Send ``request`` and return the supervisor's JSON report.

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

    def run(self, request: dict[str, Any], limits: Limits | None = None) -> dict[str, Any]:
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


# =========================================================================== requests

_warned: set[str] = set()


def _note_protections(report: dict[str, Any]) -> None:
    prot = report.get("protections") or {}
    for key in ("seccomp", "landlock"):
        if key in prot and not prot[key] and key not in _warned:
            _warned.add(key)
            log.warning("sandbox: %s is not active in the user process: %s", key, prot.get(f"{key}_error", "?"))


def run_request(request: dict[str, Any], *, limits: Limits | None = None, pool: WorkerPool | None = None) -> dict[str, Any]:
    """Send one request to a fresh worker and return its report.

    The report is ``{"ok": true, "analyses": [...]}`` or ``{"ok": false, "error": {"kind", "message"}}``
    for failures of the sandboxed process (timeout, CPU, memory kill, crash, exit, output flood).

    Raises:
        SandboxError: the sandbox itself failed (could not start, worker died).
    """
    pool = pool or default_pool()
    report = pool.run(request, limits or pool.limits)
    _note_protections(report)
    return report


# --------------------------------------------------------------------------- input validation


def _required_init_args(cls: ast.ClassDef) -> list[str]:
    for node in cls.body:
        if isinstance(node, ast.FunctionDef) and node.name == "__init__":
            a = node.args
            positional = a.posonlyargs + a.args
            required = positional[1: len(positional) - len(a.defaults)] if positional else []
            required_kw = [k for k, d in zip(a.kwonlyargs, a.kw_defaults) if d is None]
            return [x.arg for x in required + required_kw]
    return []


def precheck(source: str, *, entry: str = "", inputs: str = "", mode: str = "both") -> None:
    """Static checks of a request before any process is used (nothing runs).

    Raises:
        SnippetError: with ``kind`` and ``line`` — empty/binary/too large source, syntax error, no entry,
            unknown entry, a constructor that needs arguments, no inputs, an inputs expression that is
            not valid Python, an unknown mode.
    """
    from ..modes import parse_modes
    from ..snippet import parse_source, select_entries

    if not isinstance(source, str):
        raise SnippetError("the source must be text")
    try:
        source.encode("utf-8")
    except UnicodeEncodeError:
        raise SnippetError("the source contains characters that are not valid text (lone surrogates): paste "
                           "Python source text") from None
    try:
        parse_modes(mode)
    except InputError as e:
        raise SnippetError(str(e), kind=ErrorKind.MODE) from None
    info = parse_source(source)  # size, NUL, empty, syntax (with line)
    chosen = select_entries(info, entry)
    if not isinstance(inputs, str):
        raise SnippetError("the inputs must be a Python expression (text)", kind=ErrorKind.INPUTS)
    if len(inputs) > MAX_INPUTS_CHARS:
        raise SnippetError(f"the inputs expression is {len(inputs) // 1024} KB; the limit is "
                           f"{MAX_INPUTS_CHARS // 1024} KB: build big inputs in example_inputs() instead",
                           kind=ErrorKind.INPUTS)
    if "\x00" in inputs:
        raise SnippetError("the inputs expression contains NUL bytes: type a Python expression", kind=ErrorKind.INPUTS)
    try:
        inputs.encode("utf-8")
    except UnicodeEncodeError:
        raise SnippetError("the inputs expression contains characters that are not valid text (lone surrogates)",
                           kind=ErrorKind.INPUTS) from None
    if inputs.strip():
        try:
            compile(inputs, "<inputs>", "eval")
        except (RecursionError, MemoryError):
            raise SnippetError("the inputs expression is nested too deeply for Python's parser: build big inputs "
                               "in example_inputs() instead", kind=ErrorKind.INPUTS) from None
        except SyntaxError as e:
            raise SnippetError(f"the inputs expression is not valid Python: {e.msg} — `{inputs.strip()[:80]}`; "
                               "give one expression such as `torch.randn(2, 3)` or `(torch.ones(2), 3)`",
                               kind=ErrorKind.INPUTS) from None
    elif not info.has_example_inputs:
        raise SnippetError("no inputs: give an inputs expression such as `torch.randn(2, 3)` or define "
                           "`def example_inputs(): return (torch.randn(2, 3),)` in the source", kind=ErrorKind.INPUTS)
    tree = ast.parse(source)
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    for e in chosen if len(chosen) == 1 else ():  # several entries: the worker skips such a class, the others run
        if e.kind == "module" and e.name in classes:
            required = _required_init_args(classes[e.name])
            if required:
                raise SnippetError(
                    f"class {e.name} needs constructor arguments ({', '.join(required)}); entries are built "
                    "with no arguments: give them default values or add a wrapper function that builds and calls it",
                    line=e.line, kind=ErrorKind.CONSTRUCTOR)


# --------------------------------------------------------------------------- public entry point


def analyze_source(
    source: str,
    *,
    entry: str = "",
    inputs: str = "",
    mode: str = "both",
    filename: str = "snippet.py",
    limits: Limits | None = None,
    pool: WorkerPool | None = None,
) -> list[Analysis]:
    """Analyse pasted ``source`` in a sandboxed process.

    Args:
        source: Python source defining functions / ``nn.Module`` subclasses.
        entry: the entry to analyse; empty means every entry.
        inputs: an expression for the inputs; empty means the source's ``example_inputs()``.
        mode: a mode selection: ``both``, ``all``, a mode or a comma list (see :func:`jit_explorer.modes.parse_modes`).
        filename: the name shown for the file (no directories are created from it).
        limits: resource limits; default: the pool's (:meth:`Limits.from_env`).
        pool: the worker pool; default :func:`default_pool`.

    Returns:
        One :class:`Analysis` per entry. Anything that stops the code — a syntax error, no entry, inputs
        that fail, an exception, the time, CPU, memory, output or disk limit, a crash or an exit — is a
        single ``ok=False`` analysis whose ``error`` says what happened.

    Raises:
        SnippetError: empty, binary or too large source (checked before anything runs).
        SandboxError: the sandbox itself could not run (e.g. torch failed to import in the worker).

    Example::

        >>> analyze_source("import torch\\ndef f(x):\\n    return x * 2\\n", inputs="torch.ones(2)")[0].ok
        True
    """
    from ..snippet import validate_source

    validate_source(source)
    label = Path(filename).name or "snippet.py"
    try:
        precheck(source, entry=entry, inputs=inputs, mode=mode)
    except SnippetError as e:
        return [Analysis.failure(label, entry, e.kind, str(e), e.line)]
    from ..modes import parse_modes

    request = {"op": "analyze", "source": source, "entry": entry, "inputs": inputs,
               "mode": ",".join(parse_modes(mode)), "filename": label}
    report = run_request(request, limits=limits, pool=pool)
    if not report.get("ok"):
        err = report.get("error") or {}
        return [Analysis.failure(label, entry, err.get("kind", ErrorKind.SANDBOX), err.get("message", "the sandbox failed"),
                        err.get("line"))]
    return [Analysis.from_dict(d) for d in report.get("analyses", [])]


#: modes a pasted-code benchmark runs by default (compilation inside the sandbox is slow and memory hungry)
PASTE_BENCH_MODES: tuple[str, ...] = ("eager", "trace", "script", "trace+freeze")


def benchmark_source(
    source: str,
    *,
    entry: str = "",
    inputs: str = "",
    modes: list[str] | None = None,
    threads: int = 1,
    budget_s: float = 1.0,
    limits: Limits | None = None,
    pool: WorkerPool | None = None,
) -> BenchReport:
    """Benchmark one entry of pasted ``source`` on the CPU, in a sandboxed process.

    Args:
        source: Python source; ``entry`` names the function / ``nn.Module`` (empty: the first one).
        inputs: inputs expression; empty means ``example_inputs()``.
        modes: benchmark modes (default :data:`PASTE_BENCH_MODES`).
        threads: intra-op threads inside the sandbox.
        budget_s: seconds of timed calls per mode.
        limits: resource limits; the wall-clock limit is raised to fit the benchmark.

    Returns:
        The :class:`~jit_explorer.report.BenchReport`.

    Raises:
        SnippetError: the code could not be loaded or run (with its line when known).
        InputError: bad options (unknown mode).
        SandboxError: the sandboxed process failed (time, memory, crash).
    """
    from ..bench import ALL_MODES
    from ..errors import InputError
    from ..snippet import validate_source

    validate_source(source)
    cores = usable_cores()
    if isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= cores:
        raise InputError(f"threads must be a whole number from 1 to {cores} (the cores this server may use)")
    modes = list(modes or PASTE_BENCH_MODES)
    unknown = [m for m in modes if m not in ALL_MODES]
    if unknown:
        raise InputError(f"unknown benchmark mode(s) {', '.join(unknown)}: use {', '.join(ALL_MODES)}")
    precheck(source, entry=entry, inputs=inputs, mode="both")
    pool = pool or default_pool()
    base = limits or pool.limits
    wall = max(base.wall_s, 30.0 + len(modes) * (budget_s * 2 + 10.0))
    lim = replace(base, wall_s=wall, cpu_s=max(base.cpu_s, int(wall * max(threads, 1) * 2)))
    request = {"op": "bench", "source": source, "entry": entry, "inputs": inputs, "modes": modes,
               "threads": threads, "budget_s": budget_s, "filename": "snippet.py"}
    report = run_request(request, limits=lim, pool=pool)
    if report.get("ok") and "bench" in report:
        return BenchReport.from_dict(report["bench"])
    err = report.get("error") or {}
    if not err and report.get("analyses"):
        err = report["analyses"][0].get("error") or {}
    if err.get("kind") in USER_CODE_KINDS:
        raise SnippetError(err.get("message", "the code could not be loaded"), line=err.get("line"), kind=err["kind"])
    raise SandboxError(err.get("message", "the sandboxed benchmark failed"))
