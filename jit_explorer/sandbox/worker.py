"""The sandbox's child processes (never imported by the server; see :mod:`jit_explorer.sandbox`).

Three levels, each started by the one above::

    server ──(socketpair)──> zygote Z ──fork──> supervisor W ──fork──> user process C

* **Zygote** (:func:`zygote_main`): ``python -I -B`` started by the server with a minimal environment.
  It imports torch, warms the JIT up on a tiny trusted snippet, and then only forks supervisors on
  request (a fork costs milliseconds, so a replacement spare is ready at once). It never runs user
  code. When the server goes away it kills everything it started and exits.
* **Supervisor** (:func:`_supervisor_main`): one per request, in its own session, a *child
  subreaper* (``PR_SET_CHILD_SUBREAPER``) so that every process the user code spawns — even a
  double-forked ``setsid`` daemon — stays its descendant. It reads one request, forks ``C``,
  enforces the wall-clock deadline and the output, result and disk caps, then kills all its
  descendants, waits until none is left, and only then answers the server with one JSON report.
* **User process** (:func:`_child_main`): drops root (a private uid), sets resource limits, enters
  a Landlock sandbox and a seccomp filter (:mod:`jit_explorer.sandbox.confinement`), and only then runs
  the pasted code through :func:`jit_explorer.analysis.analyze_source_here`.
"""

from __future__ import annotations

import errno
import gc
import json
import os
import resource
import select
import signal
import socket
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from ..errors import ErrorKind
from .protocol import BenchRequest, InspectRequest, ProtocolError, SaveRequest, failure, parse_request

ROOT = Path(__file__).resolve().parent.parent.parent  # the folder that holds the package
READY = b"READY\n"
_MB = 1024 * 1024

_WARM_SOURCE = """import torch
def warm(x):
    if x.sum() > 0:
        return x * 2 + 1
    return torch.relu(x - 1)
"""


# =========================================================================== zygote


def zygote_main(sock_fd: int) -> None:
    """Zygote entry point: warm up, then fork a supervisor for every ``spawn`` command."""
    from . import confinement

    # non-dumpable first: a same-user process cannot open our /proc/<pid>/mem or environ, nor ptrace us
    confinement.set_non_dumpable()
    sock = socket.socket(fileno=sock_fd)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    _warm_up()

    confinement.set_child_subreaper()  # orphans of killed supervisors come here and are killed
    gc.collect()
    gc.freeze()  # keep the warm heap shared (copy-on-write) between forks
    sock.sendall(READY)
    workers: dict[int, int | None] = {}  # supervisor pid -> pidfd
    workdirs: dict[int, str] = {}  # supervisor pid -> its work dir (removed here if the server could not)
    buf = b""
    while True:
        fds = [sock.fileno()] + [fd for fd in workers.values() if fd is not None]
        try:
            ready, _, _ = select.select(fds, [], [], 0.5)
        except InterruptedError:
            continue
        if sock.fileno() in ready:
            try:
                data, fdlist, _, _ = socket.recv_fds(sock, 65536, 4)
            except OSError:
                data, fdlist = b"", []
            if not data:
                _zygote_shutdown(workers)
                _remove_dirs(workdirs.values())
                os._exit(0)
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                cmd = json.loads(line)
                pid = _fork_supervisor(sock, fdlist, cmd, workers)
                if pid > 0:
                    workdirs[pid] = str(cmd.get("workdir", ""))
                fdlist = []
                sock.sendall(f"{pid}\n".encode())
        _zygote_reap(workers)
        for pid in [p for p in workdirs if p not in workers]:
            del workdirs[pid]  # reaped: the server removes its dir when it kills the worker


def _remove_dirs(workdirs: Any) -> None:
    """At shutdown: remove the work dirs of this zygote's supervisors and its own home (the cwd)."""
    import shutil

    for d in [*workdirs, os.getcwd()]:
        if Path(d).name.startswith(("jx-worker-", "jx-zygote-")):
            shutil.rmtree(d, ignore_errors=True)


def _warm_up() -> None:
    """Import torch and run the whole analysis once on a trusted snippet (lazy JIT setup happens here)."""
    import tempfile

    import torch

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    from .. import analysis  # noqa: F401
    from . import confinement  # noqa: F401

    try:  # torch.export's converter for archives imports for about a second: once, here
        from .. import archive

        archive.warm_up()
    except Exception:  # noqa: BLE001 - warming up is best effort
        traceback.print_exc()

    d = Path(tempfile.mkdtemp(prefix="jx-warm-"))
    try:
        analysis.analyze_source_here(_WARM_SOURCE, workdir=d, inputs="torch.ones(3)", filename="warm.py", mode="all")
    except Exception:  # noqa: BLE001 - warming up is best effort
        traceback.print_exc()
    finally:
        for p in d.iterdir():
            p.unlink()
        d.rmdir()
    for name in [n for n in sys.modules if n.startswith("jx_snippet_")]:
        del sys.modules[name]
    sys.stdout.flush()
    sys.stderr.flush()


def _pidfd_open(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _fork_supervisor(
    sock: socket.socket, fdlist: list[int], cmd: dict[str, Any], workers: dict[int, int | None]
) -> int:
    if len(fdlist) != 2:
        for fd in fdlist:
            os.close(fd)
        return -1
    req_r, res_w = fdlist
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # supervisor
        try:
            sock.close()
            for wfd in workers.values():
                if wfd is not None:
                    os.close(wfd)
            _supervisor_main(req_r, res_w, cmd)
        except BaseException:  # noqa: BLE001
            traceback.print_exc()
        finally:
            os._exit(0)
    os.close(req_r)
    os.close(res_w)
    workers[pid] = _pidfd_open(pid)
    return pid


def _zygote_reap(workers: dict[int, int | None]) -> None:
    """Reap finished supervisors; kill any other child (an orphan re-parented to us)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
        fd = workers.pop(pid, None)
        if fd is not None:
            os.close(fd)
    for pid in _children():
        if pid not in workers:
            _kill(pid)


def _zygote_shutdown(workers: dict[int, int | None]) -> None:
    """The server is gone: kill every supervisor's session and every other descendant."""
    for pid in list(workers):
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
    _kill_descendants(timeout=10.0)


# =========================================================================== process helpers


def _children() -> list[int]:
    """Pids of this process's children (including orphans re-parented to it as a subreaper)."""
    me = os.getpid()
    kids: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{me}/task"):
            try:
                with open(f"/proc/{me}/task/{tid}/children") as f:
                    kids += [int(p) for p in f.read().split()]
            except OSError:
                continue
        return kids
    except OSError:
        pass
    for name in os.listdir("/proc"):  # no /proc/.../children: scan the parent pids
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == me:
                    kids.append(int(name))
            except (OSError, IndexError, ValueError):
                continue
    return kids


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def _kill_descendants(*, timeout: float = 5.0) -> bool:
    """Kill every descendant and reap until none is left (needs the subreaper flag). True when clean."""
    deadline = time.monotonic() + timeout
    while True:
        for pid in _children():
            _kill(pid)
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return True  # no child at all: with the subreaper flag, no descendant is left
        if pid == 0:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.002)


# =========================================================================== supervisor


def _read_request(fd: int) -> dict[str, Any] | None:
    buf = bytearray()
    while not buf.endswith(b"\n"):
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            break
        buf += chunk
    if not buf.strip():
        return None
    return json.loads(buf)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except OSError:
            return  # the server is gone
        view = view[n:]


def _supervisor_main(req_r: int, res_w: int, cmd: dict[str, Any]) -> None:
    from . import confinement

    os.setsid()
    confinement.set_non_dumpable()  # inherited from the zygote; said again, it costs nothing
    reaper = confinement.set_child_subreaper()
    workdir = Path(cmd["workdir"])
    os.chdir(workdir)
    request = _read_request(req_r)
    os.close(req_r)
    if request is None:
        return
    request["disk"] = _cap_workdir(request, workdir)
    report = _supervise(request, workdir, res_w, reaper=reaper)
    clean = _kill_descendants()
    if not clean:
        report.setdefault("notes", []).append("some processes of the code could not be reaped in time")
    report["protections"] = {**report.get("protections", {}), "subreaper": reaper}
    _write_all(res_w, json.dumps(report).encode())
    os.close(res_w)


def _cap_workdir(request: dict[str, Any], workdir: Path) -> str | None:
    """Put a size-capped tmpfs on the work directory (a private mount namespace); ``None`` when refused.

    Then a write past ``disk_mb`` fails at once with ``ENOSPC``. Where the kernel refuses (no
    unprivileged user namespaces), the supervisor falls back to measuring the directory often.
    """
    from . import confinement

    limits = request["limits"]
    uid = request.get("uid") if os.geteuid() == 0 else None
    try:
        how = confinement.mount_private_tmpfs(str(workdir), size_bytes=int(limits["disk_mb"]) * _MB,
                                                 inodes=_MAX_FILES, uid=int(uid) if uid else os.getuid())
    except OSError:
        return None
    os.chdir(workdir)  # the new mount, not the directory underneath
    return how


_MAX_FILES = 10_000
_DISK_POLL_S = 0.02  # only without the tmpfs


def _dir_bytes(path: Path, limit_entries: int = _MAX_FILES) -> int:
    total = 0
    stack = [str(path)]
    seen = 0
    while stack:
        try:
            with os.scandir(stack.pop()) as it:
                for e in it:
                    seen += 1
                    if seen > limit_entries:
                        return 1 << 62  # too many files is as bad as too many bytes
                    try:
                        if e.is_dir(follow_symlinks=False):
                            stack.append(e.path)
                        else:
                            total += e.stat(follow_symlinks=False).st_blocks * 512
                    except OSError:
                        continue
        except OSError:
            continue
    return total


def _supervise(request: dict[str, Any], workdir: Path, res_w: int, *, reaper: bool) -> dict[str, Any]:
    """Fork the user process, watch it, and turn what happened into a report."""
    limits = request["limits"]
    ans_r, ans_w = os.pipe()
    out_r, out_w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.close(ans_r)
            os.close(out_r)
            _child_main(request, workdir, ans_w, out_w, keep_out=res_w)
        except BaseException:  # noqa: BLE001
            code = 70
        finally:
            os._exit(code)
    os.close(ans_w)
    os.close(out_w)
    for fd in (ans_r, out_r):
        os.set_blocking(fd, False)
    pidfd = _pidfd_open(pid)
    wall = float(limits["wall_s"])
    out_cap = int(limits["output_kb"]) * 1024
    ans_cap = int(limits["result_mb"]) * _MB
    disk_cap = int(limits["disk_mb"]) * _MB
    started = time.monotonic()
    deadline = started + wall
    polled_disk = not request.get("disk")  # no size-capped tmpfs: measure the directory instead
    next_disk = started + _DISK_POLL_S
    answer = bytearray()
    out_bytes = 0
    status: int | None = None
    reason: str | None = None
    open_fds = {ans_r, out_r}
    while True:
        now = time.monotonic()
        if now >= deadline:
            reason = ErrorKind.TIMEOUT
            break
        watch = list(open_fds) + ([pidfd] if pidfd is not None else [])
        try:
            wait = _DISK_POLL_S if polled_disk else (0.05 if pidfd is None else 0.25)
            ready, _, _ = select.select(watch, [], [], min(wait, deadline - now))
        except InterruptedError:
            continue
        for fd in (ans_r, out_r):
            if fd in ready:
                data = _drain(fd, open_fds)
                if fd == ans_r:
                    answer += data
                else:
                    out_bytes += len(data)
        if len(answer) > ans_cap:
            reason = ErrorKind.RESULT
            break
        if out_bytes > out_cap:
            reason = ErrorKind.OUTPUT
            break
        if polled_disk and now >= next_disk:
            next_disk = now + _DISK_POLL_S
            if _dir_bytes(workdir) > disk_cap:
                reason = ErrorKind.DISK
                break
        if pidfd is None or pidfd in ready:
            try:
                done, st = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done, st = pid, 0
            if done:
                status = st
                # the answer was written before the process exited: it is in the pipe now
                answer += _drain(ans_r, open_fds)
                out_bytes += len(_drain(out_r, open_fds))
                break
    if status is None:
        _kill(pid)  # its descendants are killed by _kill_descendants afterwards
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:
            status = None
    for end in (ans_r, out_r, pidfd):
        if end is not None:
            try:
                os.close(end)
            except OSError:
                pass
    elapsed = time.monotonic() - started
    return _report(reason, status, bytes(answer), limits, out_bytes=out_bytes, elapsed=elapsed)


def _drain(fd: int, open_fds: set[int]) -> bytes:
    """Read what is available now (non-blocking); forget ``fd`` at end of file."""
    chunks = []
    total = 0
    while fd in open_fds and total < 16 * _MB:
        try:
            data = os.read(fd, 1 << 20)
        except BlockingIOError:
            break
        except OSError:
            data = b""
        if not data:
            open_fds.discard(fd)
            break
        chunks.append(data)
        total += len(data)
    return b"".join(chunks)


def _signal_text(sig: int) -> str:
    try:
        name = signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"
    desc = signal.strsignal(sig) or ""
    return f"{name} ({desc.lower()})" if desc else name


def _fail(kind: str, message: str) -> dict[str, Any]:
    return failure(kind, message)


def _report(reason: str | None, status: int | None, answer: bytes, limits: dict[str, Any], *,
            out_bytes: int, elapsed: float) -> dict[str, Any]:
    wall = float(limits["wall_s"])
    if reason == ErrorKind.TIMEOUT:
        return _fail(ErrorKind.TIMEOUT, f"the code ran longer than {wall:g} s and was stopped (time limit): "
                                "look for an endless loop or a very long one, or make the inputs smaller")
    if reason == ErrorKind.OUTPUT:
        return _fail(ErrorKind.OUTPUT, f"the code printed more than {limits['output_kb']} KB and was stopped "
                               "(output limit): remove the print calls or print less")
    if reason == ErrorKind.RESULT:
        return _fail(ErrorKind.RESULT, f"the result is larger than {limits['result_mb']} MB (a gigantic graph?) "
                               "and was dropped: make the model smaller or the loops shorter")
    if reason == ErrorKind.DISK:
        return _fail(ErrorKind.DISK, f"the code wrote more than {limits['disk_mb']} MB of files and was stopped "
                             "(disk limit)")
    if answer:
        try:
            report = json.loads(answer)
            if isinstance(report, dict) and "ok" in report:
                report["output_bytes"] = out_bytes
                return report
        except (ValueError, UnicodeDecodeError):
            pass
    if status is None:
        return _fail(ErrorKind.CRASH, "the code's process vanished without an answer")
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGXCPU or (sig == signal.SIGKILL and elapsed >= float(limits["cpu_s"]) * 0.5):
            return _fail(ErrorKind.CPU, f"the code used more than {limits['cpu_s']} s of CPU time and was stopped "
                                "(CPU limit): look for an endless loop or use smaller inputs")
        if sig == signal.SIGKILL:
            return _fail(ErrorKind.KILLED, "the code's process was killed (SIGKILL), most likely because it ran out "
                                   f"of memory (limit {limits['memory_mb']} MB): use smaller tensors")
        return _fail(ErrorKind.CRASH, f"the code crashed its process with {_signal_text(sig)}: a C extension, "
                              "ctypes or a stack overflow can do that; the server is fine — check the code")
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else status
    if answer:
        return _fail(ErrorKind.CRASH, "the answer of the code's process was cut short or corrupted (did the code "
                              f"write to file descriptors it does not own?); it exited with status {code}")
    return _fail(ErrorKind.EXIT, f"the code ended its process with exit status {code} (os._exit() or a low-level exit) "
                         "before the analysis finished: remove the exit call")


# =========================================================================== user process


def _close_fds(keep: set[int]) -> None:
    try:
        fds = [int(n) for n in os.listdir("/proc/self/fd")]
    except OSError:
        fds = list(range(3, 1024))
    for fd in fds:
        if fd > 2 and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def _count_tasks(uid: int) -> int:
    """Threads of all processes of ``uid`` (RLIMIT_NPROC counts them)."""
    total = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status") as f:
                text = f.read()
        except OSError:
            continue
        uid_ok = threads = 0
        for line in text.splitlines():
            if line.startswith("Uid:"):
                uid_ok = int(line.split()[1]) == uid
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
        if uid_ok:
            total += threads
    return total


def _drop_root(uid: int) -> tuple[bool, str]:
    """Become an unprivileged, private user (only when started as root), keeping only the right to read
    (Landlock then limits what may be read)."""
    from . import confinement

    if os.geteuid() != 0:
        return False, "not root: runs as the server's user"
    for candidate in (uid, 65534):
        if candidate <= 0:
            continue
        try:
            confinement.become_user(candidate, keep_read_search=True)
            return True, f"uid {candidate}"
        except OSError:
            continue
    return False, "could not drop root"


def _set_limits(limits: dict[str, Any], *, private_uid: bool) -> dict[str, str]:
    """Resource limits before any user code runs (address space counted on top of the warm process)."""
    page = os.sysconf("SC_PAGE_SIZE")
    with open("/proc/self/statm") as f:
        vm_now = int(f.read().split()[0]) * page
    procs = int(limits["processes"])
    if not private_uid:
        procs += _count_tasks(os.getuid())
    cpu = int(limits["cpu_s"])
    wanted = [
        ("AS", resource.RLIMIT_AS, vm_now + int(limits["memory_mb"]) * _MB, None),
        ("CPU", resource.RLIMIT_CPU, cpu, cpu + 2),
        ("FSIZE", resource.RLIMIT_FSIZE, min(int(limits["file_mb"]), int(limits["disk_mb"])) * _MB, None),
        ("NOFILE", resource.RLIMIT_NOFILE, int(limits["open_files"]), None),
        ("CORE", resource.RLIMIT_CORE, 0, None),
        ("NPROC", resource.RLIMIT_NPROC, procs, None),
    ]
    done: dict[str, str] = {}
    for name, res, soft, hard in wanted:
        hard = soft if hard is None else hard
        try:
            _, cur_hard = resource.getrlimit(res)
            if cur_hard != resource.RLIM_INFINITY:
                hard = min(hard, cur_hard)
                soft = min(soft, hard)
            resource.setrlimit(res, (soft, hard))
            done[name] = str(soft)
        except (ValueError, OSError) as e:
            done[name] = f"failed: {e}"
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a too-large write raises OSError(EFBIG) instead of killing
    return done


_ETC = ("passwd", "group", "hosts", "host.conf", "nsswitch.conf", "resolv.conf", "gai.conf", "ld.so.cache",
        "ld.so.conf", "ld.so.conf.d", "localtime", "timezone", "mime.types", "os-release", "ssl", "ca-certificates",
        "alternatives", "fonts", "locale.alias")
_DEV = ("null", "zero", "full", "random", "urandom")


def _read_roots(workdir: Path) -> list[str]:
    """What the user process may read: Python, the package (not the app folder), system libraries, a few /etc
    files, /proc, /sys."""
    package = Path(__file__).resolve().parent.parent  # the package only: the app folder around it may hold secrets
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, str(package),
             "/usr", "/lib", "/lib32", "/lib64", "/bin", "/sbin", "/proc", "/sys",
             *(f"/etc/{n}" for n in _ETC), *(f"/dev/{n}" for n in _DEV)}
    roots.update(p for p in sys.path if p and os.path.isdir(p) and Path(p).resolve() != ROOT)
    roots.discard(str(workdir))
    return sorted(os.path.realpath(r) for r in roots if os.path.exists(r))


def _confine(request: dict[str, Any], workdir: Path) -> dict[str, Any]:
    """Drop root, set limits, enter Landlock and seccomp. Returns what is active."""
    from . import confinement

    prot: dict[str, Any] = {}
    dropped, how = _drop_root(int(request.get("uid") or 0))
    prot["private_user"] = how if dropped else False
    prot["disk"] = request.get("disk") or f"polled every {_DISK_POLL_S:g} s"
    if not dropped and os.geteuid() != 0:  # a user namespace (tmpfs) gave us capabilities in it: none are needed
        try:
            confinement.clear_capabilities()
        except OSError:
            pass
    prot["rlimits"] = _set_limits(request["limits"], private_uid=dropped)
    try:
        abi = confinement.install_landlock(read_roots=_read_roots(workdir), write_roots=[str(workdir)],
                                              write_files=["/dev/null"])
        prot["landlock"] = f"ABI {abi}"
    except OSError as e:
        prot["landlock"] = False
        prot["landlock_error"] = str(e)
        if dropped:  # without Landlock the kept read capability would open every file: drop it
            try:
                confinement.clear_capabilities()
            except OSError:
                pass
    try:
        confinement.install_seccomp()
        prot["seccomp"] = True
    except OSError as e:
        prot["seccomp"] = False
        prot["seccomp_error"] = str(e)
    return prot


def _child_main(request: dict[str, Any], workdir: Path, ans_w: int, out_w: int, *, keep_out: int) -> None:
    """Set up the user process and run the request; writes one JSON answer on ``ans_w``."""
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(out_w, 1)
    os.dup2(out_w, 2)
    os.close(keep_out)
    _close_fds({ans_w})
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    os.environ["USER"] = os.environ["LOGNAME"] = "sandbox"
    os.environ["HOME"] = os.environ["TMPDIR"] = str(workdir)
    import tempfile

    tempfile.tempdir = str(workdir)
    prot = _confine(request, workdir)
    me = os.getpid()
    try:
        answer = _run(request, workdir)
    except BaseException:  # noqa: BLE001 - the process must always answer
        answer = _fail(ErrorKind.INTERNAL, "internal sandbox error: " + traceback.format_exc(limit=2)[-2000:])
    if os.getpid() != me:  # a process the user code forked came back here: only the original answers
        os._exit(0)
    answer["protections"] = prot
    try:
        data = json.dumps(answer).encode()
    except (TypeError, ValueError) as e:
        data = json.dumps(_fail(ErrorKind.INTERNAL, f"internal sandbox error: {e}")).encode()
    _write_all(ans_w, data)
    os.close(ans_w)


# --------------------------------------------------------------------------- running the request


def _run(request: dict[str, Any], workdir: Path) -> dict[str, Any]:
    """Answer one request (its JSON object with the envelope's ``limits``) in this confined process."""
    from ..analysis import analyze_source_outcomes
    from ..convert import user_line_of_exception

    limits = request["limits"]
    try:
        req = parse_request(request)
    except ProtocolError as e:
        return _fail(ErrorKind.INTERNAL, str(e))
    if isinstance(req, InspectRequest):  # a TorchScript archive (jit_explorer.archive)
        from ..archive import inspect_here

        del req  # inspect_here drops the archive's bytes from ``request`` once decoded: hold no other reference
        return inspect_here(request, workdir)
    filename = Path(req.filename or "snippet.py").name
    entry = req.entry
    user_file = str(workdir / filename)
    try:
        if isinstance(req, SaveRequest):
            from ..pasted_save import save_here

            return save_here(req.source, workdir=workdir, entry=entry, inputs=req.inputs, mode=req.mode,
                             filename=filename)
        if isinstance(req, BenchRequest):
            from ..analysis import benchmark_source_here

            return benchmark_source_here(
                req.source, workdir=workdir, entry=entry, inputs=req.inputs,
                modes=list(req.modes) if req.modes is not None else None, threads=req.threads,
                budget_s=float(req.budget_s), filename=filename,
            )
        outcomes = analyze_source_outcomes(
            req.source, workdir=workdir, entry=entry, inputs=req.inputs, mode=req.mode, filename=filename,
        )
        analyses = [_explain(a.to_dict(), exc, user_file, limits) for a, exc in outcomes]
        return {"ok": True, "analyses": [_truncate(a, int(limits["ir_chars"])) for a in analyses]}
    except SystemExit as e:
        line = user_line_of_exception(e, {user_file})
        where = f" on line {line}" if line else ""
        return _one(entry, filename, ErrorKind.EXIT, f"the code called sys.exit({e.code!r}){where}: remove it — the "
                                             "analysis needs the code to return", line)
    except KeyboardInterrupt as e:
        return _one(entry, filename, ErrorKind.EXIT, "the code raised KeyboardInterrupt",
                    user_line_of_exception(e, {user_file}))
    except BaseException as e:  # noqa: BLE001 - the process must always answer
        line = user_line_of_exception(e, {user_file})
        kind, message = _classify(e, limits) or (ErrorKind.CRASH, f"{type(e).__name__}: {_short(e)}")
        return _one(entry, filename, kind, message + _user_frames(e, user_file, filename), line)


def _one(entry: str, filename: str, kind: str, message: str, line: int | None) -> dict[str, Any]:
    from ..report import Analysis

    return {"ok": True, "analyses": [Analysis.failure(filename, entry, kind, message, line).to_dict()]}


def _short(e: BaseException, limit: int = 2000) -> str:
    text = str(e)
    return text if len(text) <= limit else text[:limit] + " …"


_MEMORY_TEXT = ("MemoryError", "not enough memory", "can't allocate memory", "Cannot allocate memory",
                "out of memory")


def _classify(e: BaseException | None, limits: dict[str, Any], text: str = "") -> tuple[str, str] | None:
    """A (kind, message) for failures that are really sandbox limits, else None."""
    mem = int(limits["memory_mb"])
    if isinstance(e, MemoryError) or any(t in text for t in _MEMORY_TEXT) or (
            e is not None and any(t in str(e) for t in _MEMORY_TEXT[1:])):
        return ErrorKind.MEMORY, (f"the code ran out of memory: the sandbox allows about {mem} MB (memory limit); "
                          "use smaller tensors or fewer of them")
    if isinstance(e, RecursionError) or "maximum recursion depth" in text:
        return ErrorKind.RECURSION, "maximum recursion depth exceeded: the code recurses without end (or too deeply)"
    if (isinstance(e, OSError) and e.errno == errno.ENOSPC) or "No space left on device" in text:
        return ErrorKind.DISK, f"the code wrote more than {limits['disk_mb']} MB of files and was stopped (disk limit)"
    if (isinstance(e, OSError) and e.errno == errno.EFBIG) or "File too large" in text:
        return ErrorKind.FILE_SIZE, f"the code wrote a file larger than {limits['file_mb']} MB (file-size limit)"
    if (isinstance(e, OSError) and e.errno == errno.EMFILE) or "Too many open files" in text:
        return ErrorKind.OPEN_FILES, (f"the code opened more than {limits['open_files']} files at once "
                                      "(open-files limit)")
    if "can't start new thread" in text or "BlockingIOError: [Errno 11]" in text or (
            isinstance(e, RuntimeError) and "can't start new thread" in str(e)) or (
            isinstance(e, BlockingIOError) and e.errno == errno.EAGAIN):
        return ErrorKind.PROCESSES, (f"the code started too many threads or processes (the sandbox allows "
                             f"{limits['processes']}); start fewer")
    return None


def _user_frames(e: BaseException, user_file: str, label: str, limit: int = 6) -> str:
    """The traceback of ``e`` restricted to the user's own file, as indented lines (empty when none)."""
    frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename == user_file]
    if not frames:
        return ""
    shown = frames[-limit:]
    lines = [f"\n  {label}, line {f.lineno}, in {f.name}" + (f": {f.line.strip()}" if f.line else "") for f in shown]
    more = f"\n  … {len(frames) - len(shown)} more frames of your code" if len(frames) > len(shown) else ""
    return "\nYour code:" + more + "".join(lines)


_PERMISSION_HINT = (" — the sandbox does not allow this (no signals to other processes, no network, no writing "
                    "outside the work directory, no process inspection)")


def _explain(d: dict[str, Any], exc: BaseException | None, user_file: str, limits: dict[str, Any]) -> dict[str, Any]:
    """Make a failed analysis say which limit was hit, and show the user's frames of the exception."""
    err = d.get("error")
    if d.get("ok") or not err:
        return d
    text = err.get("message", "")
    classified = _classify(exc, limits, text)
    if classified:
        err["kind"], err["message"] = classified
        return d
    if exc is not None and err.get("kind") in (ErrorKind.IMPORT, ErrorKind.BUILD, ErrorKind.RUN):
        text += _user_frames(exc, user_file, d.get("file") or "snippet.py")
    if "[Errno 1] Operation not permitted" in text or "[Errno 13] Permission denied" in text:
        text += _PERMISSION_HINT
    err["message"] = text
    return d


def _truncate(d: dict[str, Any], max_chars: int) -> dict[str, Any]:
    """Cut huge views (with a note, and their source_lines to match) so that the page stays usable."""
    from ..modes import REGISTRY

    cut = False
    for name, spec in REGISTRY.items():
        res = d.get(name)
        if not res:
            continue
        views, lines = res.get("views") or {}, res.get("source_lines") or {}
        for view, text in list(views.items()):
            text = text or ""
            if len(text) <= max_chars:
                continue
            head = text[:max_chars]
            head = head[: head.rfind("\n") + 1] or head
            total = text.count("\n") + 1
            shown = head.count("\n")
            views[view] = head + (f"# … truncated by JIT Explorer: {shown} of {total} lines shown "
                                  f"({len(text) - len(head)} more characters)\n")
            if view in lines:
                lines[view] = list(lines[view][:shown]) + [None]
            cut = True
        for key, view in spec.legacy_keys().items():
            if key in res:
                res[key] = views.get(view, "")
    if cut:
        d["notes"] = list(d.get("notes") or []) + [
            f"The IR is very large; each view is cut at {max_chars} characters (truncated views end with a note)."
        ]
    return d
