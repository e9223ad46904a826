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

The package is split by concern; every public name is re-exported here:

* :mod:`~jit_explorer.sandbox.api` — :func:`precheck`, :func:`analyze_source`, :func:`benchmark_source`,
  :func:`run_request`;
* :mod:`~jit_explorer.sandbox.limits` — :class:`Limits`, :func:`usable_cores`;
* :mod:`~jit_explorer.sandbox.policy` — whether pasting is allowed (:func:`paste_refusal`, the
  :data:`~jit_explorer.sandbox.policy.POLICY` object) and the server's protections (:func:`harden_server`);
* :mod:`~jit_explorer.sandbox.pool` — the zygote, the supervisors, :class:`WorkerPool`, the ``/proc`` sweep;
* :mod:`~jit_explorer.sandbox.protocol` — the typed requests and the answer's shape;
* :mod:`~jit_explorer.sandbox.confinement` (Landlock, seccomp, prctl) and
  :mod:`~jit_explorer.sandbox.worker` (the child processes) — never used by the server directly.

Example::

    >>> from jit_explorer import sandbox
    >>> [a.ok for a in sandbox.analyze_source("import torch\\ndef f(x):\\n    return x + 1\\n", inputs="torch.ones(2)")]
    [True]
"""

from __future__ import annotations

from .api import (
    MAX_INPUTS_CHARS,
    PASTE_BENCH_MODES,
    analyze_source,
    benchmark_source,
    precheck,
    run_request,
    save_source,
)
from .limits import Limits, usable_cores
from .policy import (
    REQUIRED_LANDLOCK_ABI,
    WEAK_OVERRIDE_ENV,
    harden_server,
    mark_public_share,
    missing_protections,
    paste_refusal,
    protections,
)
from .pool import Worker, WorkerPool, default_pool, remove_stale_dirs, shutdown
from .protocol import AnalyzeRequest, BenchRequest, InspectRequest, SaveRequest

__all__ = [
    "Limits",
    "analyze_source",
    "benchmark_source",
    "save_source",
    "precheck",
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
    "AnalyzeRequest",
    "BenchRequest",
    "InspectRequest",
    "SaveRequest",
    "REQUIRED_LANDLOCK_ABI",
    "WEAK_OVERRIDE_ENV",
    "MAX_INPUTS_CHARS",
    "PASTE_BENCH_MODES",
]
