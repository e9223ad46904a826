"""Fair admission to the sandbox: a quick paste does not wait behind another client's long runs.

The sandbox runs ``max_running`` requests at once (memory bound: three on a 16 GB Space). First come,
first served, two clients looping 30-second runs held both slots and a one-second paste waited
behind them (p95 10.7 s). :class:`FairGate` admits requests by client instead:

* a client runs at most ``per_client`` requests at once (its others wait; other clients go first);
* a client whose last run was long (``heavy_s`` or more, e.g. a run stopped by the time limit) is
  *heavy* for ``heavy_for_s`` seconds, and heavy clients together hold at most ``heavy_slots``
  slots (``slots - 1``): one slot stays free for everyone else;
* among the admissible waiting requests, light clients go before heavy ones, then the client with
  the fewest running requests, then the oldest request.

A client is whatever key the caller gives (the app uses Gradio's session hash or the client's
address). Nothing is refused: a request waits until it is admitted. Per-client state is the live
count and the time a client stops being heavy, kept while it is fresh and dropped afterwards.

Example::

    >>> gate = FairGate(slots=2)
    >>> gate.run("client-a", lambda: 1 + 1)
    2
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

__all__ = ["FairGate", "sandbox_gate", "HEAVY_S", "HEAVY_FOR_S"]

T = TypeVar("T")

HEAVY_S = 8.0
"""A run this long (seconds) makes its client heavy (``JX_FAIR_HEAVY_S``); a benign analysis takes 1-3 s."""
HEAVY_FOR_S = 120.0
"""How long a client stays heavy after a long run (``JX_FAIR_HEAVY_FOR_S``)."""


@dataclass
class _Ticket:
    client: str
    seq: int
    heavy: bool


class FairGate:
    """Admit at most ``slots`` calls at once, fairly between clients (see the module docstring).

    Args:
        slots: calls running at once (the sandbox's ``max_running``).
        per_client: calls one client may run at once.
        heavy_s: a call at least this long makes its client heavy.
        heavy_for_s: how long the client stays heavy.
        heavy_slots: slots heavy clients may hold together; default ``slots - 1`` (at least 1).
        clock: the time source (tests pass a fake one).
    """

    def __init__(self, slots: int, *, per_client: int = 1, heavy_s: float = HEAVY_S, heavy_for_s: float = HEAVY_FOR_S,
                 heavy_slots: int | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.slots = max(1, int(slots))
        self.per_client = max(1, int(per_client))
        self.heavy_s = heavy_s
        self.heavy_for_s = heavy_for_s
        self.heavy_slots = max(1, self.slots - 1 if heavy_slots is None else int(heavy_slots))
        self._clock = clock
        self._cond = threading.Condition()
        self._running: dict[str, int] = {}
        self._heavy_until: dict[str, float] = {}
        self._heavy_running = 0
        self._waiting: list[_Ticket] = []
        self._seq = itertools.count()

    # ------------------------------------------------------------------ state (under self._cond)
    def _is_heavy(self, client: str) -> bool:
        until = self._heavy_until.get(client)
        if until is None:
            return False
        if until <= self._clock():
            del self._heavy_until[client]
            return False
        return True

    def _admissible(self, t: _Ticket) -> bool:
        if sum(self._running.values()) >= self.slots or self._running.get(t.client, 0) >= self.per_client:
            return False
        return not (t.heavy and self._heavy_running >= self.heavy_slots)

    def _next(self) -> _Ticket | None:
        ok = [t for t in self._waiting if self._admissible(t)]
        if not ok:
            return None
        return min(ok, key=lambda t: (t.heavy, self._running.get(t.client, 0), t.seq))

    # ------------------------------------------------------------------ public
    def run(self, client: str, fn: Callable[[], T]) -> T:
        """Wait until ``client``'s call is admitted, run ``fn()`` and return what it returns."""
        heavy = self._enter(client)
        start = self._clock()
        try:
            return fn()
        finally:
            self._leave(client, heavy, self._clock() - start)

    def _enter(self, client: str) -> bool:
        with self._cond:
            ticket = _Ticket(client, next(self._seq), self._is_heavy(client))
            self._waiting.append(ticket)
            try:
                while self._next() is not ticket:
                    self._cond.wait(timeout=1.0)  # heaviness expires with time, not only on notify
                    ticket.heavy = self._is_heavy(client)
            except BaseException:
                self._waiting.remove(ticket)
                self._cond.notify_all()
                raise
            self._waiting.remove(ticket)
            self._running[client] = self._running.get(client, 0) + 1
            self._heavy_running += ticket.heavy
            self._cond.notify_all()  # the next ticket may be admissible too
            return ticket.heavy

    def _leave(self, client: str, heavy: bool, seconds: float) -> None:
        with self._cond:
            left = self._running.get(client, 0) - 1
            if left > 0:
                self._running[client] = left
            else:
                self._running.pop(client, None)
            self._heavy_running -= heavy
            if seconds >= self.heavy_s:
                self._heavy_until[client] = self._clock() + self.heavy_for_s
            self._cond.notify_all()

    def snapshot(self) -> dict[str, int]:
        """Counts for logs and tests: running, heavy running, waiting, heavy clients."""
        with self._cond:
            heavy = sum(1 for c in list(self._heavy_until) if self._is_heavy(c))
            return {"running": sum(self._running.values()), "heavy_running": self._heavy_running,
                    "waiting": len(self._waiting), "heavy_clients": heavy}


_GATE: FairGate | None = None
_GATE_LOCK = threading.Lock()


def _env_float(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        return default
    return value if value > 0 else default


def sandbox_gate() -> FairGate:
    """The process's gate in front of the sandbox (a shared resource like a lock), sized by the sandbox's
    ``max_running`` (``JX_SANDBOX_MAX_RUNNING``); ``JX_FAIR_HEAVY_S`` / ``JX_FAIR_HEAVY_FOR_S`` tune it."""
    global _GATE
    with _GATE_LOCK:
        if _GATE is None:
            from .sandbox import Limits

            _GATE = FairGate(Limits.from_env().max_running, heavy_s=_env_float("JX_FAIR_HEAVY_S", HEAVY_S),
                             heavy_for_s=_env_float("JX_FAIR_HEAVY_FOR_S", HEAVY_FOR_S))
        return _GATE
