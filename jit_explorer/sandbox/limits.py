"""Resource limits of one sandboxed request (:class:`Limits`, ``JX_SANDBOX_*``) and the cores this server may use."""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass, fields
from typing import Any

__all__ = ["Limits", "usable_cores"]

log = logging.getLogger("jit_explorer.sandbox")


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
