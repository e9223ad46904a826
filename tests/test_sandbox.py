"""The sandbox's own logic: limits parsing, static input checks, the pool (one request per worker,
replacement), the result cap, IR truncation, failure reports, paste gating and the seccomp filter.

Hostile code through the real app API is in ``test_sandbox_hostile.py``.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from jit_explorer import sandbox
from jit_explorer.errors import ERROR_KINDS, SandboxError, SnippetError
from jit_explorer.sandbox import Limits
from jit_explorer.sandbox import confinement as seccomp_filter
from jit_explorer.sandbox import worker as _worker

ROOT = Path(__file__).resolve().parent.parent
SMALL = "import torch\n\ndef f(x):\n    return x * 2 + 1\n"


# --------------------------------------------------------------------------- limits


def test_limits_defaults_fit_a_small_space() -> None:
    lim = Limits.from_env({})
    assert lim == Limits()
    assert lim.spares >= 2 and lim.max_running >= 1
    assert lim.max_running * lim.memory_mb <= 8 * 1024  # leaves half of a 16 GB Space to the server


def test_limits_from_env_overrides_and_types() -> None:
    lim = Limits.from_env({"JX_SANDBOX_WALL_S": "2.5", "JX_SANDBOX_MEMORY_MB": "512", "JX_SANDBOX_CPU_S": "3.0",
                           "JX_SANDBOX_SPARES": "0"})
    assert lim.wall_s == 2.5 and lim.memory_mb == 512 and lim.cpu_s == 3 and lim.spares == 0
    assert isinstance(lim.cpu_s, int)


def test_limits_pool_is_an_alias_of_spares() -> None:
    assert Limits.from_env({"JX_SANDBOX_POOL": "5"}).spares == 5
    assert Limits.from_env({"JX_SANDBOX_POOL": "5", "JX_SANDBOX_SPARES": "3"}).spares == 3


@pytest.mark.parametrize("value", ["abc", "-1", "0", "nan", "inf", ""])
def test_limits_bad_values_are_logged_and_ignored(value: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="jit_explorer.sandbox"):
        lim = Limits.from_env({"JX_SANDBOX_MEMORY_MB": value})
    assert lim.memory_mb == Limits().memory_mb
    if value:
        assert "JX_SANDBOX_MEMORY_MB" in caplog.text


# --------------------------------------------------------------------------- static checks (nothing runs)


@pytest.mark.parametrize(
    ("source", "kwargs", "kind", "words"),
    [
        ("import torch\ndef f(x):\n    return x\n", {"inputs": "torch.ones(2"}, "inputs", "not valid Python"),
        ("import torch\ndef f(x):\n    return x\n", {"inputs": "x" * (sandbox.MAX_INPUTS_CHARS + 1)}, "inputs",
         "limit"),
        ("import torch\ndef f(x):\n    return x\n", {"inputs": "torch.ones(2)\x00"}, "inputs", "NUL"),
        ("import torch\ndef f(x):\n    return x\n", {}, "inputs", "example_inputs"),
        ("import torch\ndef f(x):\n    return x\n", {"inputs": "1", "mode": "jit"}, "mode", "unknown mode"),
        ("import torch\ndef f(x):\n    return x\n", {"inputs": "1", "entry": "g"}, "no-entry", "not found"),
        ("x = 1\n", {"inputs": "1"}, "no-entry", "no entry"),
        ("import torch\ndef f(x):\n    return x +\n", {"inputs": "1"}, "syntax", "line 3"),
        ("import torch\n\nclass M(torch.nn.Module):\n    def __init__(self, width, *, depth):\n"
         "        super().__init__()\n"
         "    def forward(self, x):\n        return x\n", {"inputs": "torch.ones(2)"}, "constructor", "width, depth"),
        ("import torch\ndef f(x):\n    return '\udc80'\n", {"inputs": "1"}, "source", "surrogates"),
    ],
)
def test_precheck_rejects_bad_requests_with_specific_messages(source: str, kwargs: dict, kind: str, words: str) -> None:
    with pytest.raises(SnippetError) as info:
        sandbox.precheck(source, **kwargs)
    assert info.value.kind == kind
    assert words in str(info.value)
    if kind == "constructor":
        assert info.value.line == 3


def test_precheck_failures_come_back_as_analyses_without_a_worker() -> None:
    pool = sandbox.WorkerPool(limits=Limits(spares=0))  # never started: any use would start a zygote
    [a] = sandbox.analyze_source("import torch\ndef f(x):\n    return x\n", inputs="(", pool=pool)
    assert not a.ok and a.error is not None and a.error.kind == "inputs"
    assert pool._zygote is None


@pytest.mark.parametrize("source", ["", "   \n", "a\x00b", "#" * (300 * 1024)])
def test_empty_binary_and_huge_sources_raise_before_anything_runs(source: str) -> None:
    with pytest.raises(SnippetError):
        sandbox.analyze_source(source, inputs="1", pool=sandbox.WorkerPool(limits=Limits(spares=0)))


# --------------------------------------------------------------------------- paste gating


def test_paste_gating(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JX_ALLOW_PASTE", raising=False)
    monkeypatch.setattr(sandbox.policy.POLICY, "public_share", False)
    assert sandbox.paste_refusal() is None  # local use: on
    assert "public share link" in (sandbox.paste_refusal(public_share=True) or "")
    sandbox.mark_public_share(True)
    assert sandbox.paste_refusal() is not None
    monkeypatch.setenv("JX_ALLOW_PASTE", "1")
    assert sandbox.paste_refusal(public_share=True) is None  # explicitly allowed
    monkeypatch.setenv("JX_ALLOW_PASTE", "0")
    sandbox.mark_public_share(False)
    assert "JX_ALLOW_PASTE=0" in (sandbox.paste_refusal() or "")


def test_analyze_code_refuses_when_pasting_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    from app import handlers

    monkeypatch.setenv("JX_ALLOW_PASTE", "0")
    d = handlers.analyze_code(SMALL, "", "torch.ones(2)")
    assert d["ok"] is False and d["error"]["kind"] == "disabled"


# --------------------------------------------------------------------------- reports, classification, truncation

LIM = Limits().__dict__ | {"wall_s": 5.0}


def test_reports_say_which_limit_was_hit() -> None:
    r = _worker._report("timeout", None, b"", LIM, out_bytes=0, elapsed=5)
    assert r["error"]["kind"] == "timeout" and "longer than 5 s" in r["error"]["message"]
    assert _worker._report("output", None, b"", LIM, out_bytes=10**6, elapsed=1)["error"]["kind"] == "output"
    assert _worker._report("disk", None, b"", LIM, out_bytes=0, elapsed=1)["error"]["kind"] == "disk"
    assert _worker._report("result", None, b"", LIM, out_bytes=0, elapsed=1)["error"]["kind"] == "result"
    segv = _worker._report(None, signal.SIGSEGV, b"", LIM, out_bytes=0, elapsed=1)  # raw wait status = signal
    assert segv["error"]["kind"] == "crash" and "SIGSEGV" in segv["error"]["message"]
    assert _worker._report(None, signal.SIGXCPU, b"", LIM, out_bytes=0, elapsed=1)["error"]["kind"] == "cpu"
    exited = _worker._report(None, 3 << 8, b"", LIM, out_bytes=0, elapsed=1)
    assert exited["error"]["kind"] == "exit" and "status 3" in exited["error"]["message"]
    bad = _worker._report(None, 0, b"{not json", LIM, out_bytes=0, elapsed=1)
    assert bad["error"]["kind"] == "crash" and "corrupted" in bad["error"]["message"]
    for r in (segv, exited, bad):  # every kind the worker reports is declared once, in errors.ErrorKind
        assert r["error"]["kind"] in ERROR_KINDS
    assert "killed" in ERROR_KINDS and "not-a-kind" not in ERROR_KINDS and len(set(ERROR_KINDS)) == len(ERROR_KINDS)
    good = _worker._report(None, 0, b'{"ok": true, "analyses": []}', LIM, out_bytes=7, elapsed=1)
    assert good == {"ok": True, "analyses": [], "output_bytes": 7}


def test_classify_turns_limit_exceptions_into_limit_messages() -> None:
    assert _worker._classify(MemoryError(), LIM)[0] == "memory"  # type: ignore[index]
    assert _worker._classify(None, LIM, "RuntimeError: DefaultCPUAllocator: not enough memory")[0] == "memory"  # type: ignore[index]
    assert _worker._classify(RecursionError(), LIM)[0] == "recursion"  # type: ignore[index]
    assert _worker._classify(OSError(27, "File too large"), LIM)[0] == "file-size"  # type: ignore[index]
    assert _worker._classify(RuntimeError("can't start new thread"), LIM)[0] == "processes"  # type: ignore[index]
    assert _worker._classify(ValueError("plain"), LIM) is None


def test_truncate_cuts_huge_ir_at_a_line_with_a_note() -> None:
    graph = "".join(f"  %{i} : Tensor = aten::add(%x, %y)\n" for i in range(5000))
    d = {"trace": {"views": {"graph": graph, "code": "short"}, "graph": graph, "code": "short"}, "script": None,
         "notes": []}
    out = _worker._truncate(d, 10_000)
    g = out["trace"]["views"]["graph"]
    assert out["trace"]["graph"] == g  # the legacy key mirrors the view
    assert len(g) < 10_300 and g.endswith("more characters)\n") and "truncated by JIT Explorer" in g
    assert "of 5001 lines shown" in g
    assert out["trace"]["code"] == "short"
    assert any("cut at 10000 characters" in n for n in out["notes"])


def test_user_frames_only() -> None:
    user = "/tmp/jx-worker-x/snippet.py"
    code = compile("def f():\n    return 1 / 0\n", user, "exec")
    ns: dict = {}
    exec(code, ns)  # noqa: S102 - a test of traceback filtering
    try:
        ns["f"]()
    except ZeroDivisionError as e:
        text = _worker._user_frames(e, user, "snippet.py")
    assert "snippet.py, line 2, in f" in text
    assert "test_sandbox" not in text and "/tmp/" not in text


# --------------------------------------------------------------------------- the pool, with real workers


@pytest.fixture(scope="module")
def pool() -> Iterator[sandbox.WorkerPool]:
    p = sandbox.WorkerPool(limits=Limits(wall_s=20, spares=2))
    p.start()
    try:
        yield p
    finally:
        p.close()


def _wait(pred, timeout: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


def test_pool_keeps_spares_and_serves_one_request_per_worker(pool: sandbox.WorkerPool) -> None:
    assert _wait(lambda: pool.spare_count() == 2, 120)
    w = pool.take()
    assert _wait(lambda: pool.spare_count() == 2)  # a replacement was forked in the background
    try:
        report = w.run({"op": "analyze", "source": SMALL, "entry": "", "inputs": "torch.ones(2)", "mode": "both",
                        "filename": "snippet.py"}, pool.limits)
        assert report["ok"] and report["analyses"][0]["ok"]
        prot = report["protections"]
        assert prot["subreaper"] is True and "rlimits" in prot
        with pytest.raises(SandboxError):
            w.run({"op": "analyze"}, pool.limits)  # a worker serves one request only
    finally:
        w.kill()
    assert _wait(lambda: not w.alive(), 5)
    assert not os.path.exists(w.workdir)


def test_every_request_gets_a_fresh_process(pool: sandbox.WorkerPool) -> None:
    src = "import os, torch\nSEEN = os.getpid()\ndef f(x):\n    raise RuntimeError(f'pid={SEEN}')\n"
    pids = set()
    for _ in range(3):
        [a] = sandbox.analyze_source(src, inputs="torch.ones(1)", pool=pool)
        assert a.error is not None
        pids.add(a.error.message.split("pid=")[1].split()[0])
    assert len(pids) == 3


def test_state_does_not_leak_between_requests(pool: sandbox.WorkerPool) -> None:
    first = "import torch, builtins\nbuiltins.JX_LEFT_BEHIND = 1\ndef f(x):\n    return x\n"
    assert sandbox.analyze_source(first, inputs="torch.ones(1)", pool=pool)[0].ok
    probe = "import torch, builtins\nassert not hasattr(builtins, 'JX_LEFT_BEHIND')\ndef f(x):\n    return x\n"
    assert sandbox.analyze_source(probe, inputs="torch.ones(1)", pool=pool)[0].ok


def test_result_cap_and_ir_truncation(pool: sandbox.WorkerPool) -> None:
    src = "import torch\n\ndef f(x):\n    for _ in range(400):\n        x = x + 1\n    return x\n"
    [a] = sandbox.analyze_source(src, inputs="torch.ones(2)", pool=pool, limits=replace(pool.limits, ir_chars=3000))
    assert a.ok and a.trace is not None
    assert "truncated by JIT Explorer" in a.trace.graph and len(a.trace.graph) < 3300
    assert any("cut at 3000" in n for n in a.notes)
    huge = src.replace("range(400)", "range(2500)")  # about 1.6 MB of IR in all views together
    [b] = sandbox.analyze_source(huge, inputs="torch.ones(2)", pool=pool,
                                 limits=replace(pool.limits, ir_chars=10**8, result_mb=1))
    assert not b.ok and b.error is not None and b.error.kind == "result"
    assert "larger than 1 MB" in b.error.message


def test_exception_messages_show_only_the_users_frames(pool: sandbox.WorkerPool) -> None:
    src = ("import torch\n\ndef helper(x):\n    return x / 0 if False else {}['missing']\n\n"
           "def f(x):\n    return helper(x)\n")
    [a] = sandbox.analyze_source(src, entry="f", inputs="torch.ones(2)", pool=pool)
    assert not a.ok and a.error is not None
    msg = a.error.message
    assert "KeyError" in msg and "snippet.py, line 7, in f" in msg and "snippet.py, line 4, in helper" in msg
    assert "site-packages" not in msg and "jit_explorer" not in msg and "/tmp/" not in msg
    assert a.error.line == 4


def test_memory_error_at_import_is_reported_as_the_memory_limit(pool: sandbox.WorkerPool) -> None:
    src = "import torch\nhog = bytearray(1 << 40)\ndef f(x):\n    return x\n"
    [a] = sandbox.analyze_source(src, inputs="torch.ones(1)", pool=pool)
    assert a.error is not None and a.error.kind == "memory" and "memory limit" in a.error.message
    assert a.error.line == 2


def test_pool_close_ends_the_zygote() -> None:
    p = sandbox.WorkerPool(limits=Limits(spares=1))
    [a] = sandbox.analyze_source(SMALL, inputs="torch.ones(2)", pool=p)
    assert a.ok
    z = p._zygote
    assert z is not None and z.alive()
    p.close()
    assert z.proc.poll() is not None


# --------------------------------------------------------------------------- the seccomp filter itself


def test_filter_program_is_well_formed() -> None:
    prog = seccomp_filter.build_filter(1234, arch="x86_64")
    assert len(prog) % 8 == 0 and 40 < len(prog) // 8 < 4096
    assert seccomp_filter.build_filter(1234, arch="aarch64") != prog


@pytest.mark.skipif(not seccomp_filter.seccomp_available()[0], reason="no seccomp on this kernel")
def test_seccomp_blocks_signals_ptrace_and_inet_but_torch_still_works(tmp_path: Path) -> None:
    script = textwrap.dedent("""
        import os, socket, ctypes, torch
        from jit_explorer.sandbox import confinement as S
        S.install_seccomp()
        out = []
        for fam in (socket.AF_INET, socket.AF_INET6):
            try:
                socket.socket(fam); out.append("inet-open")
            except PermissionError:
                out.append("inet-denied")
        socket.socket(socket.AF_UNIX).close(); out.append("unix-ok")
        try:
            os.kill(os.getppid(), 0); out.append("parent-signalled")
        except PermissionError:
            out.append("parent-denied")
        os.kill(os.getpid(), 0); out.append("self-ok")
        libc = ctypes.CDLL(None, use_errno=True)
        out.append("ptrace-denied" if libc.ptrace(16, os.getppid(), 0, 0) == -1 else "ptrace-ok")
        def f(x):
            if x.sum() > 0:
                return x * 2
            return x
        assert torch.jit.script(f)(torch.ones(2)).tolist() == [2.0, 2.0]
        assert torch.jit.trace(f, torch.ones(2))(torch.ones(2)).tolist() == [2.0, 2.0]
        out.append("torch-ok")
        print(" ".join(out))
    """)
    file = tmp_path / "confined.py"  # torch.jit.script needs a real source file
    file.write_text(script)
    p = subprocess.run([sys.executable, str(file)], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["inet-denied", "inet-denied", "unix-ok", "parent-denied", "self-ok", "ptrace-denied",
                                "torch-ok"]


@pytest.mark.skipif(not seccomp_filter.seccomp_available()[0], reason="no seccomp on this kernel")
def test_seccomp_covers_what_landlock_does_not(tmp_path: Path) -> None:
    """Modes and times: ignored; owners, xattrs, F_SETOWN/F_SETSIG/F_SETOWN_EX, FIOSETOWN/SIOCSPGRP: EPERM."""
    target = tmp_path / "victim"
    target.write_text("x")
    os.chmod(target, 0o600)
    before = target.stat()
    script = textwrap.dedent(f"""
        import errno, fcntl, os, socket
        from jit_explorer.sandbox import confinement as S
        S.install_seccomp()
        p = {str(target)!r}
        out = []
        def t(name, fn):
            try:
                fn(); out.append(name + "=ok")
            except OSError as e:
                out.append(name + "=" + errno.errorcode[e.errno])
        t("chmod", lambda: os.chmod(p, 0o777))
        t("utime", lambda: os.utime(p, (0, 0)))
        t("chown", lambda: os.chown(p, os.getuid(), os.getgid()))
        t("setxattr", lambda: os.setxattr(p, "user.jx", b"1"))
        a, b = socket.socketpair()
        t("getfl", lambda: fcntl.fcntl(a.fileno(), fcntl.F_GETFL))
        t("setown", lambda: fcntl.fcntl(a.fileno(), fcntl.F_SETOWN, os.getppid()))
        t("setsig", lambda: fcntl.fcntl(a.fileno(), 10, 9))
        t("setown_ex", lambda: fcntl.fcntl(a.fileno(), 15, bytes(8)))
        t("fiosetown", lambda: fcntl.ioctl(a.fileno(), 0x8901, bytes(4)))
        t("siocspgrp", lambda: fcntl.ioctl(a.fileno(), 0x8902, bytes(4)))
        t("fionread", lambda: fcntl.ioctl(a.fileno(), 0x541B, bytes(4)))
        print(" ".join(out))
    """)
    p = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["chmod=ok", "utime=ok", "chown=EPERM", "setxattr=EPERM", "getfl=ok", "setown=EPERM",
                                "setsig=EPERM", "setown_ex=EPERM", "fiosetown=EPERM", "siocspgrp=EPERM", "fionread=ok"]
    after = target.stat()
    assert (after.st_mode, after.st_mtime_ns, after.st_uid) == (before.st_mode, before.st_mtime_ns, before.st_uid)
    assert os.listxattr(target) == []


def test_missing_protections_refuse_pasting_unless_overridden(monkeypatch: pytest.MonkeyPatch,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("JX_ALLOW_PASTE", "1")
    monkeypatch.delenv(sandbox.WEAK_OVERRIDE_ENV, raising=False)
    monkeypatch.setattr(sandbox.policy.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(seccomp_filter, "landlock_abi", lambda: 2)
    missing = sandbox.missing_protections()
    assert len(missing) == 1 and "Landlock ABI 3+" in missing[0] and "ABI 2" in missing[0]
    refusal = sandbox.paste_refusal() or ""
    assert "lacks sandbox protection" in refusal and sandbox.WEAK_OVERRIDE_ENV in refusal
    with caplog.at_level(logging.ERROR, logger="jit_explorer.sandbox"):
        sandbox.harden_server()
    assert "Landlock ABI 3+" in caplog.text and "refused" in caplog.text
    monkeypatch.setenv(sandbox.WEAK_OVERRIDE_ENV, "1")
    assert sandbox.paste_refusal() is None
    monkeypatch.setattr(seccomp_filter, "landlock_abi", lambda: 5)
    monkeypatch.delenv(sandbox.WEAK_OVERRIDE_ENV)
    assert sandbox.missing_protections() == [] and sandbox.paste_refusal() is None
    monkeypatch.setattr(sandbox.policy.os, "geteuid", lambda: 0)
    monkeypatch.setattr(seccomp_filter, "seccomp_available", lambda: (False, "no seccomp"))
    assert sandbox.missing_protections() == ["seccomp (no seccomp)"]


def test_stale_temp_dirs_of_gone_servers_are_removed(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    gone = tmp_path / f"jx-worker-{dead.pid}-abc"
    mine = tmp_path / f"jx-zygote-{os.getpid()}-abc"
    other = tmp_path / "jx-unrelated-1-x"
    for d in (gone, mine, other):
        d.mkdir()
        (d / "f").write_text("x")
    assert sandbox.remove_stale_dirs(str(tmp_path)) == 1
    assert not gone.exists() and mine.exists() and other.exists()


def test_server_hardening_reports_every_protection() -> None:
    status = sandbox.protections()
    assert set(status) == {"seccomp", "landlock", "private_user", "subreaper", "non_dumpable"}
    for active, detail in status.values():
        assert isinstance(active, bool) and detail


def test_analyze_code_refuses_behind_a_public_share_link(monkeypatch: pytest.MonkeyPatch) -> None:
    import app
    from app import handlers

    monkeypatch.delenv("JX_ALLOW_PASTE", raising=False)
    monkeypatch.setattr(sandbox.policy.POLICY, "public_share", False)
    assert app.launch.__doc__ and "share" in app.launch.__doc__
    sandbox.mark_public_share(True)  # what app.launch(share=True) records
    d = handlers.analyze_code(SMALL, "", "torch.ones(2)")
    assert d["ok"] is False and d["error"]["kind"] == "disabled" and "JX_ALLOW_PASTE=1" in d["error"]["message"]
