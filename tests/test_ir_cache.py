"""Instant IR: zoo conversions cached by (model, mode, device, torch version); pre-warming at start-up."""

from __future__ import annotations

import threading
import time

import pytest

from jit_explorer import analysis, ir_cache
from jit_explorer.report import Analysis


@pytest.fixture(autouse=True)
def empty_cache() -> None:
    ir_cache.clear()
    yield
    ir_cache.clear()


def _analysis(ok: bool = True) -> Analysis:
    return Analysis(file="m.py", entry="M", ok=ok, torch_version="t", model="m", weights="random", notes=("first",))


def test_key_normalises_the_mode_and_carries_the_torch_version() -> None:
    import torch

    k = ir_cache.key_for("resnet18", mode="trace,script", device="cpu")
    assert k == ir_cache.key_for("resnet18", mode="Script, trace", device="cpu")
    assert k.mode == "both" and k.torch_version == torch.__version__
    assert k != ir_cache.key_for("resnet18", mode="trace", device="cpu")
    assert k != ir_cache.key_for("resnet18", mode="both", device="cuda")
    assert k != ir_cache.key_for("resnet18", mode="both", device="cpu", inductor=True)


def test_get_or_convert_converts_once_and_says_when_an_answer_is_cached() -> None:
    calls: list[int] = []

    def convert() -> Analysis:
        calls.append(1)
        return _analysis()

    first = ir_cache.get_or_convert("m", mode="both", device="cpu", convert=convert)
    again = ir_cache.get_or_convert("m", mode="trace,script", device="cpu", convert=convert)
    assert len(calls) == 1
    assert first.notes == ("first",)
    assert again.notes[0] == "first" and again.notes[-1].startswith("Cached:")
    assert again.with_changes(notes=first.notes) == first


def test_failed_conversions_are_not_cached() -> None:
    calls: list[int] = []

    def convert() -> Analysis:
        calls.append(1)
        return _analysis(ok=False)

    ir_cache.get_or_convert("m", mode="both", device="cpu", convert=convert)
    ir_cache.get_or_convert("m", mode="both", device="cpu", convert=convert)
    assert len(calls) == 2


def test_concurrent_requests_for_one_key_convert_once() -> None:
    calls: list[int] = []

    def convert() -> Analysis:
        calls.append(1)
        time.sleep(0.2)
        return _analysis()

    out: list[Analysis] = []
    threads = [threading.Thread(target=lambda: out.append(
        ir_cache.get_or_convert("m", mode="both", device="cpu", convert=convert))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(out) == 4


def test_analyze_model_answers_repeats_from_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    first = analysis.analyze_model("sign_branch", mode="trace")
    assert not any(n.startswith("Cached:") for n in first.notes)

    def no_reload(name: str) -> None:
        raise AssertionError("a cached model was loaded again")

    monkeypatch.setattr(analysis.zoo, "load", no_reload)
    again = analysis.analyze_model("sign_branch", mode="trace")
    assert again.notes[-1].startswith("Cached:")
    assert again.to_dict()["trace"] == first.to_dict()["trace"]


def test_prewarm_runs_in_the_background_and_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JX_PREWARM", "1")  # the suite's server runs without it (tests/conftest.py)
    seen: list[tuple[str, str, str]] = []
    t = ir_cache.prewarm(("a", "b"), convert=lambda m, mode, dev: seen.append((m, mode, dev)) or _analysis())
    assert t is not None and t.daemon
    t.join(timeout=10)
    assert seen == [("a", "both", "cpu"), ("b", "both", "cpu")]

    def boom(m: str, mode: str, dev: str) -> Analysis:
        raise RuntimeError("no such model")

    t = ir_cache.prewarm(("x",), convert=boom)  # logged, never raised
    assert t is not None
    t.join(timeout=10)
    monkeypatch.setenv("JX_PREWARM", "0")
    assert ir_cache.prewarm(("a",), convert=lambda m, mode, dev: _analysis()) is None
    assert ir_cache.PREWARM_MODELS == ("resnet18", "bert-base-uncased")
