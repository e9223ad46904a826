"""Fair admission to the sandbox (jit_explorer/fairness.py): order and slots, with a fake clock and events, no
timing."""

from __future__ import annotations

import threading
import time

from jit_explorer.fairness import FairGate


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _wait_until(cond, timeout: float = 10.0) -> None:  # noqa: ANN001 - a predicate
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "timed out waiting"
        time.sleep(0.005)


def _start(gate: FairGate, client: str, release: threading.Event, order: list[str], *, clock: Clock | None = None,
           seconds: float = 0.0) -> threading.Thread:
    def body() -> None:
        def work() -> None:
            order.append(client)
            release.wait(10)
            if clock is not None:
                clock.now += seconds

        gate.run(client, work)

    t = threading.Thread(target=body, daemon=True)
    t.start()
    return t


def test_one_run_per_client_and_others_go_first() -> None:
    gate = FairGate(slots=2)
    order: list[str] = []
    hold_a, hold_b = threading.Event(), threading.Event()
    a1 = _start(gate, "a", hold_a, order)
    _wait_until(lambda: order == ["a"])
    free = threading.Event()
    free.set()
    a2 = _start(gate, "a", free, order)  # a's second request waits although a slot is free
    _wait_until(lambda: gate.snapshot()["waiting"] == 1)
    assert order == ["a"]
    b = _start(gate, "b", hold_b, order)  # b is let in before a's second request
    _wait_until(lambda: order == ["a", "b"])
    hold_a.set()
    _wait_until(lambda: order == ["a", "b", "a"])
    hold_b.set()
    for t in (a1, a2, b):
        t.join(5)
    assert gate.snapshot() == {"running": 0, "heavy_running": 0, "waiting": 0, "heavy_clients": 0}


def test_heavy_clients_leave_a_slot_for_a_quick_paste() -> None:
    clock = Clock()
    gate = FairGate(slots=2, heavy_s=8, heavy_for_s=100, clock=clock)
    order: list[str] = []
    done = threading.Event()
    done.set()
    for client in ("h1", "h2"):  # each ran 30 s once: now heavy
        _start(gate, client, done, order, clock=clock, seconds=30).join(5)
    assert gate.snapshot()["heavy_clients"] == 2
    hold = threading.Event()
    h1 = _start(gate, "h1", hold, order)
    _wait_until(lambda: order[-1:] == ["h1"] and gate.snapshot()["heavy_running"] == 1)
    h2 = _start(gate, "h2", hold, order)  # heavy clients share one slot: h2 waits
    _wait_until(lambda: gate.snapshot()["waiting"] == 1)
    quick = threading.Event()
    quick.set()
    light = _start(gate, "light", quick, order)  # the light client gets the free slot at once
    light.join(5)
    assert not light.is_alive() and order[-1] == "light" and h2.is_alive()
    hold.set()
    h1.join(5)
    h2.join(5)
    assert order[-1] == "h2"


def test_heaviness_expires() -> None:
    clock = Clock()
    gate = FairGate(slots=2, heavy_s=8, heavy_for_s=100, clock=clock)
    gate.run("h", lambda: setattr(clock, "now", clock.now + 9))
    assert gate.snapshot()["heavy_clients"] == 1
    clock.now += 101
    assert gate.snapshot()["heavy_clients"] == 0


def test_an_exception_frees_the_slot() -> None:
    gate = FairGate(slots=1)

    def boom() -> None:
        raise ValueError("x")

    for _ in range(3):
        try:
            gate.run("a", boom)
        except ValueError:
            pass
    assert gate.run("a", lambda: 5) == 5 and gate.snapshot()["running"] == 0


def test_single_slot_still_admits_heavy_clients() -> None:
    clock = Clock()
    gate = FairGate(slots=1, heavy_s=1, clock=clock)
    gate.run("h", lambda: setattr(clock, "now", clock.now + 5))
    assert gate.heavy_slots == 1 and gate.run("h", lambda: "ran") == "ran"
