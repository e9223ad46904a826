"""Tests of the benchmark engine (the jit_explorer/bench package).

No real time is ever asserted: the scheduling and statistics are checked with a
fake timer, and the real modes only have to run and agree with eager.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from torch import nn

from jit_explorer import bench
from jit_explorer.bench.util import short_error
from jit_explorer.errors import InputError, UnknownModelError
from jit_explorer.report import BenchReport, BenchResult

# --------------------------------------------------------------------------- helpers


class TinyMLP(nn.Module):
    """The smallest model that still has weights, a nonlinearity and two layers."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(8, 16)
        self.fc2 = nn.Linear(16, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.relu(self.fc1(x)))


class VarArgs(nn.Module):
    """Traces fine, but torch.jit.script rejects ``*args``."""

    def forward(self, x: torch.Tensor, *args: torch.Tensor) -> torch.Tensor:
        return x * 2


def tiny() -> tuple[nn.Module, tuple[torch.Tensor]]:
    torch.manual_seed(0)
    return TinyMLP().eval(), (torch.randn(2, 8),)


class FakeTimer:
    """Returns preset per-call times; records every call in a shared log."""

    def __init__(self, stmt: Callable[[], object], label: str, num_threads: int,
                 times: dict[str, list[float]], log: list[tuple[str, float]]) -> None:
        self.stmt, self.label, self.num_threads = stmt, label, num_threads
        self._times, self._log = times, log

    def blocked_autorange(self, min_run_time: float = 0.2) -> Any:
        self._log.append((self.label, min_run_time))
        self.stmt()  # the statement must be callable; its real duration is ignored
        return SimpleNamespace(times=list(self._times[self.label]), number_per_run=1)


def fake_factory(times: dict[str, list[float]], log: list[tuple[str, float]],
                 made: list[FakeTimer] | None = None) -> Callable[..., FakeTimer]:
    def factory(stmt: Callable[[], object], *, num_threads: int, label: str) -> FakeTimer:
        t = FakeTimer(stmt, label, num_threads, times, log)
        if made is not None:
            made.append(t)
        return t

    return factory


FAKE_PEAK = 1000.0


@pytest.fixture(autouse=True)
def fake_peak(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fixed measured peak (the tests of the measurement itself, ``test_*measured_peak*``, opt out)."""
    if "measured_peak" in request.node.name:
        return
    monkeypatch.setattr(bench.machine, "measure_peak_gflops", lambda device, threads, **kw: bench.PeakMeasurement(
        FAKE_PEAK, "measured: fake GEMM", device, threads, 1024, 0.0))


class FakeProbe:
    """A memory probe that reports preset numbers: ``current`` before a mode is built, ``peak`` after a call."""

    method = "peak_mem_mb: fake probe"

    def __init__(self, current: float = 100.0, peak: float = 130.0, can_reset: bool = True) -> None:
        self.current, self.peak, self.can_reset = current, peak, can_reset
        self.calls: list[str] = []

    def settle(self) -> None:
        self.calls.append("settle")

    def current_mb(self) -> float | None:
        self.calls.append("current")
        return self.current

    def reset_peak(self) -> bool:
        self.calls.append("reset")
        return self.can_reset

    def peak_mb(self) -> float | None:
        self.calls.append("peak")
        return self.peak


# --------------------------------------------------------------------------- statistics


def test_percentile_matches_linear_interpolation() -> None:
    xs = [5.0, 1.0, 4.0, 2.0, 3.0]
    assert bench.percentile(xs, 0) == 1.0
    assert bench.percentile(xs, 100) == 5.0
    assert bench.percentile(xs, 50) == 3.0
    assert bench.percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert bench.percentile([1.0, 2.0, 3.0, 4.0], 90) == pytest.approx(3.7)
    assert bench.percentile([7.0], 90) == 7.0
    with pytest.raises(ValueError):
        bench.percentile([], 50)


def test_summarize_gives_median_p90_iqr_in_ms() -> None:
    med, p90, iqr = bench.summarize([0.001, 0.002, 0.003, 0.004, 0.005])
    assert (med, p90, iqr) == pytest.approx((3.0, 4.6, 2.0))
    # robust to one huge outlier, unlike a mean
    med, _, _ = bench.summarize([0.001] * 9 + [10.0])
    assert med == pytest.approx(1.0)


# --------------------------------------------------------------------------- interleaving with a fake timer


def test_rounds_are_interleaved_round_robin_with_rotating_start() -> None:
    model, inputs = tiny()
    log: list[tuple[str, float]] = []
    made: list[FakeTimer] = []
    times = {"eager": [0.004, 0.002, 0.003], "trace": [0.001, 0.001, 0.003], "script": [0.008, 0.008, 0.008]}
    rep = bench.benchmark_module(model, inputs, name="tiny", modes=["eager", "trace", "script"], threads=1,
                                 budget_s=1.0, timer_factory=fake_factory(times, log, made))
    labels = [label for label, _ in log]
    # the fake blocks are far below the budget, so every round runs
    assert len(labels) == 3 * bench.MAX_ROUNDS
    modes = ["eager", "trace", "script"]
    for r in range(bench.MAX_ROUNDS):
        k = r % 3
        assert labels[3 * r: 3 * r + 3] == modes[k:] + modes[:k]
    # each block asks the timer for budget / MAX_ROUNDS seconds, with explicit threads
    assert all(mrt == pytest.approx(1.0 / bench.MAX_ROUNDS) for _, mrt in log)
    assert {t.num_threads for t in made} == {1}
    assert rep.threads == 1

    rows = {r.mode: r for r in rep.results}
    assert rows["eager"].median_ms == pytest.approx(3.0)
    assert rows["eager"].p90_ms == pytest.approx(4.0)  # 3 distinct values repeated: p90 of [2,3,4]*10
    assert rows["eager"].runs == 3 * bench.MAX_ROUNDS
    assert rows["trace"].median_ms == pytest.approx(1.0)
    assert rows["trace"].speedup_vs_eager == pytest.approx(3.0)
    assert rows["script"].iqr_ms == pytest.approx(0.0)
    assert rows["script"].speedup_vs_eager == pytest.approx(3.0 / 8.0)
    assert any("fastest correct mode: trace" in n for n in rep.notes)
    assert rep.fastest == "trace"


def test_slow_modes_stop_after_min_rounds_once_budget_is_spent() -> None:
    model, inputs = tiny()
    log: list[tuple[str, float]] = []
    times = {"eager": [0.5], "trace": [0.5]}  # each block alone exceeds budget / MAX_ROUNDS
    rep = bench.benchmark_module(model, inputs, name="tiny", modes=["eager", "trace"], threads=1,
                                 budget_s=1.0, timer_factory=fake_factory(times, log))
    assert len(log) == 2 * bench.MIN_ROUNDS
    assert all(r.runs == bench.MIN_ROUNDS for r in rep.results)


def test_progress_and_notes_agree_on_the_number_of_rounds() -> None:
    """A run that stops after 5 rounds never says "round x/10" and ends with the count the notes give."""
    model, inputs = tiny()
    log: list[tuple[str, float]] = []
    progress: list[tuple[str, float]] = []
    times = {"eager": [0.5], "trace": [0.5]}  # the budget is spent in MIN_ROUNDS rounds
    rep = bench.benchmark_module(model, inputs, name="tiny", modes=["eager", "trace"], threads=1, budget_s=1.0,
                                 timer_factory=fake_factory(times, log), progress=lambda m, f: progress.append((m, f)))
    rounds = bench.MIN_ROUNDS
    messages = [m for m, _ in progress]
    assert not any(f"/{bench.MAX_ROUNDS}" in m for m in messages), messages
    timing = [m for m in messages if m.startswith("timing round")]
    assert timing[-1].startswith(f"timing round {rounds} of at most {bench.MAX_ROUNDS}")
    assert messages[-1] == f"done: {rounds} interleaved rounds"
    method = next(n for n in rep.notes if n.startswith("method:"))
    assert f"{rounds} interleaved rounds" in method and f"at most {bench.MAX_ROUNDS}" in method
    # the bar follows the rounds that will run: after the first round it expects 5, not 10
    fractions = [f for m, f in progress if m.startswith("timing round")]
    assert fractions == sorted(fractions)
    assert fractions[-1] > 0.5 + 0.5 * (2 * rounds - 2) / (2 * bench.MAX_ROUNDS) + 0.1


def test_number_per_run_counts_calls() -> None:
    model, inputs = tiny()
    log: list[tuple[str, float]] = []

    def factory(stmt: Callable[[], object], *, num_threads: int, label: str) -> Any:
        class T:
            def blocked_autorange(self, min_run_time: float = 0.2) -> Any:
                log.append((label, min_run_time))
                return SimpleNamespace(times=[1e-5, 2e-5], number_per_run=100)

        return T()

    rep = bench.benchmark_module(model, inputs, name="tiny", modes=["eager"], threads=1, budget_s=1.0,
                                 timer_factory=factory)
    assert rep.results[0].runs == 2 * 100 * bench.MAX_ROUNDS
    assert rep.results[0].median_ms == pytest.approx(0.015)


def test_flops_gflops_and_pct_of_peak() -> None:
    model, inputs = tiny()
    times = {"eager": [0.001]}
    rep = bench.benchmark_module(model, inputs, name="tiny", modes=["eager"], threads=1, budget_s=1.0,
                                 timer_factory=fake_factory(times, []))
    flops = 2 * 2 * 8 * 16 + 2 * 2 * 16 * 4  # two matmuls, batch 2
    row = rep.results[0]
    assert row.gflops == pytest.approx(flops / 1e-3 / 1e9, rel=1e-3)
    if rep.peak_gflops:
        assert row.pct_of_peak == pytest.approx(row.gflops / rep.peak_gflops * 100, rel=1e-2)
    else:
        assert row.pct_of_peak is None


def test_wrong_output_is_flagged_and_never_praised(monkeypatch: pytest.MonkeyPatch) -> None:
    model, inputs = tiny()

    def wrong_trace(c: Any) -> Callable[[], Any]:
        return lambda: model(*inputs) + 1.0

    monkeypatch.setitem(bench.modes.BUILDERS, "trace", wrong_trace)
    times = {"eager": [0.002], "trace": [0.001], "script": [0.0015]}
    rep = bench.benchmark_module(model, inputs, name="tiny", modes=["eager", "trace", "script"], threads=1,
                                 budget_s=1.0, timer_factory=fake_factory(times, []))
    rows = {r.mode: r for r in rep.results}
    assert rows["trace"].ok and rows["trace"].max_abs_diff == pytest.approx(1.0)
    assert rows["trace"].speedup_vs_eager == pytest.approx(2.0)
    assert any(n.startswith("trace is fast but WRONG: max_abs_diff=1") for n in rep.notes)
    assert any("fastest correct mode: script" in n for n in rep.notes)
    assert not any("fastest correct mode: trace" in n for n in rep.notes)
    assert not rows["trace"].correct and rows["script"].correct and rows["eager"].correct
    assert rep.fastest == "script"
    assert "(WRONG output)" in bench.to_markdown([rep])


# --------------------------------------------------------------------------- every real CPU mode


REAL_CPU_MODES = [m for m in bench.CPU_MODES if m != "aot-inductor"]  # AOTInductor: tested with fakes


@pytest.fixture(scope="module")
def all_cpu_modes() -> tuple[BenchReport, nn.Module, dict[str, torch.Tensor], list[tuple[str, float]]]:
    model, inputs = tiny()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    progress: list[tuple[str, float]] = []
    rep = bench.benchmark_module(model, inputs, name="tiny", modes=REAL_CPU_MODES, threads=1,
                                 budget_s=0.05, progress=lambda msg, f: progress.append((msg, f)))
    return rep, model, before, progress


def test_every_cpu_mode_runs_and_matches_eager(all_cpu_modes: Any) -> None:
    rep, _, _, _ = all_cpu_modes
    assert [r.mode for r in rep.results] == REAL_CPU_MODES
    for r in rep.results:
        assert r.ok, (r.mode, r.error)
        assert r.error is None
        assert r.max_abs_diff < 1e-5, r.mode
        assert r.correct, r.mode
        assert r.ci95_ms is not None and r.ci95_ms[0] <= r.median_ms <= r.ci95_ms[1], r.mode
        assert r.speedup_ci95 is not None and r.speedup_ci95[0] <= r.speedup_ci95[1], r.mode
        assert r.peak_mem_mb is None or r.peak_mem_mb >= 0
        assert r.pct_of_peak is not None and 0 <= r.pct_of_peak <= 100
        assert r.runs > 0 and r.median_ms > 0 and r.p90_ms >= r.median_ms and r.iqr_ms >= 0
        assert r.first_call_ms > 0
        assert r.speedup_vs_eager > 0
    assert rep.threads == 1
    assert any(n.startswith("threads: 1") for n in rep.notes)
    assert not any("WRONG" in n for n in rep.notes)
    assert not any(n.startswith("failed:") for n in rep.notes)
    assert rep.fastest in REAL_CPU_MODES


def test_export_is_a_real_row_whose_first_call_includes_the_export(all_cpu_modes: Any) -> None:
    rep, _, _, _ = all_cpu_modes
    rows = {r.mode: r for r in rep.results}
    assert rows["export"].ok and rows["export"].correct
    # torch.export.export itself is paid in first_call_ms: far more than one call of a 2x8 MLP
    assert rows["export"].first_call_ms > 20 * rows["export"].median_ms
    assert any(n.startswith("export: torch.export.export took") for n in rep.notes)


def test_benchmark_leaves_module_and_threads_alone(all_cpu_modes: Any) -> None:
    _, model, before, _ = all_cpu_modes
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert not model.training
    threads = torch.get_num_threads()
    m, x = tiny()
    bench.benchmark_module(m, x, name="tiny", modes=["eager"], threads=1, budget_s=1.0,
                           timer_factory=fake_factory({"eager": [0.001]}, []))
    assert torch.get_num_threads() == threads


def test_progress_reports_fractions_up_to_one(all_cpu_modes: Any) -> None:
    _, _, _, progress = all_cpu_modes
    fractions = [f for _, f in progress]
    assert fractions and all(0.0 <= f <= 1.0 for f in fractions)
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0
    assert any("compile" in msg for msg, _ in progress)


def test_json_schema_of_to_dict(all_cpu_modes: Any) -> None:
    rep, _, _, _ = all_cpu_modes
    d = json.loads(json.dumps(rep.to_dict()))
    top = {"model": str, "device": str, "device_name": str, "threads": int, "torch_version": str,
           "batch": int, "input": str, "notes": list, "results": list}
    assert set(d) == set(top) | {"peak_gflops", "peak_estimate_gflops", "fastest"}
    for key, typ in top.items():
        assert isinstance(d[key], typ), key
    assert isinstance(d["peak_gflops"], float)
    assert d["peak_estimate_gflops"] is None or isinstance(d["peak_estimate_gflops"], float)
    assert d["fastest"] in REAL_CPU_MODES
    assert all(isinstance(n, str) for n in d["notes"])
    row_types = {"mode": str, "ok": bool, "median_ms": float, "p90_ms": float, "iqr_ms": float, "runs": int,
                 "first_call_ms": float, "max_abs_diff": float, "speedup_vs_eager": float, "gflops": float,
                 "correct": bool, "same_as_eager": bool, "ci95_ms": list, "speedup_ci95": list}
    for row in d["results"]:
        assert set(row) == set(row_types) | {"error", "pct_of_peak", "peak_mem_mb"}
        for key, typ in row_types.items():
            assert isinstance(row[key], typ), (row["mode"], key, row[key])
        assert len(row["ci95_ms"]) == 2 and len(row["speedup_ci95"]) == 2
        assert row["error"] is None or isinstance(row["error"], str)
        assert row["pct_of_peak"] is None or isinstance(row["pct_of_peak"], float)
        assert row["peak_mem_mb"] is None or isinstance(row["peak_mem_mb"], float)
    assert d["device"] == "cpu" and d["batch"] == 2 and d["input"] == "2x8 float32"
    assert BenchReport.from_dict(d) == rep


# --------------------------------------------------------------------------- failure rows


def test_a_mode_that_raises_is_a_failed_row_and_the_others_go_on(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(c: Any) -> Callable[[], Any]:
        raise RuntimeError("boom: the converter broke\n  File \"x.py\", line 3\nmore detail")

    monkeypatch.setitem(bench.modes.BUILDERS, "trace", broken)
    model, inputs = tiny()
    times = {"eager": [0.002], "script": [0.001]}
    rep = bench.benchmark_module(model, inputs, name="tiny", modes=["eager", "trace", "script"], threads=1,
                                 budget_s=1.0, timer_factory=fake_factory(times, []))
    rows = {r.mode: r for r in rep.results}
    assert not rows["trace"].ok
    assert rows["trace"].error == "RuntimeError: boom: the converter broke"
    assert rows["trace"].runs == 0 and rows["trace"].pct_of_peak is None
    assert rows["eager"].ok and rows["script"].ok
    assert any(n.startswith("failed: trace (RuntimeError: boom") for n in rep.notes)
    md = bench.to_markdown([rep])
    assert "| trace | failed: RuntimeError: boom: the converter broke |" in md


def test_script_failure_is_a_short_one_line_row() -> None:
    times = {"eager": [0.002], "trace": [0.001]}
    rep = bench.benchmark_module(VarArgs().eval(), (torch.ones(3),), name="varargs",
                                 modes=["eager", "trace", "script"], threads=1, budget_s=1.0,
                                 timer_factory=fake_factory(times, []))
    rows = {r.mode: r for r in rep.results}
    assert rows["eager"].ok and rows["trace"].ok
    assert not rows["script"].ok
    assert rows["script"].error and "\n" not in rows["script"].error
    assert "Traceback" not in rows["script"].error and len(rows["script"].error) <= 240


def test_cudagraphs_on_cpu_does_not_apply() -> None:
    model, inputs = tiny()
    rep = bench.benchmark_module(model, inputs, name="tiny", modes=["eager", "compile+cudagraphs"], threads=1,
                                 budget_s=1.0, timer_factory=fake_factory({"eager": [0.001]}, []))
    row = rep.results[1]
    assert not row.ok and row.error is not None and row.error.startswith("does not apply: needs CUDA")


def test_eager_is_always_the_baseline() -> None:
    model, inputs = tiny()
    rep = bench.benchmark_module(model, inputs, name="tiny", modes=["trace"], threads=1, budget_s=1.0,
                                 timer_factory=fake_factory({"eager": [0.002], "trace": [0.001]}, []))
    assert [r.mode for r in rep.results] == ["eager", "trace"]
    assert any("eager was added" in n for n in rep.notes)


# --------------------------------------------------------------------------- validation


def test_unknown_mode_lists_the_valid_ones() -> None:
    model, inputs = tiny()
    with pytest.raises(InputError) as e:
        bench.benchmark_module(model, inputs, name="tiny", modes=["eager", "jit-magic"])
    assert "jit-magic" in str(e.value)
    for m in bench.CPU_MODES:
        assert m in str(e.value)
    with pytest.raises(InputError):
        bench.benchmark_module(model, inputs, name="tiny", modes=[])


def test_cuda_unavailable_is_an_input_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    model, inputs = tiny()
    with pytest.raises(InputError, match="CUDA is not available"):
        bench.benchmark_module(model, inputs, name="tiny", device="cuda")
    with pytest.raises(InputError, match="CUDA is not available"):
        bench.benchmark("resnet18", device="cuda")


@pytest.mark.parametrize("kwargs", [{"device": "tpu"}, {"device": "bogus:x"}, {"threads": -1},
                                    {"budget_s": 0}, {"budget_s": float("nan")}])
def test_bad_options_are_input_errors(kwargs: dict[str, Any]) -> None:
    model, inputs = tiny()
    with pytest.raises(InputError):
        bench.benchmark_module(model, inputs, name="tiny", **kwargs)


def test_model_failing_in_eager_is_an_input_error() -> None:
    model, _ = tiny()
    with pytest.raises(InputError, match="fails in eager mode"):
        bench.benchmark_module(model, (torch.randn(2, 3),), name="bad", modes=["eager"], budget_s=1.0,
                               timer_factory=fake_factory({"eager": [0.001]}, []))


def test_unknown_zoo_model() -> None:
    with pytest.raises(UnknownModelError):
        bench.benchmark("no-such-model")


def test_zoo_model_with_random_weights_says_so() -> None:
    rep = bench.benchmark("sign_branch", modes=["eager", "trace"], threads=1, budget_s=0.05)
    assert rep.model == "sign_branch" and rep.input == "vector 8 float32"
    assert rep.notes[0].startswith("weights: random")
    assert all(r.ok for r in rep.results)


# --------------------------------------------------------------------------- machine facts


def test_default_modes() -> None:
    assert bench.default_modes("cpu") == bench.CPU_MODES
    assert bench.default_modes("cuda:0") == bench.CUDA_MODES
    assert "compile+freeze" in bench.CPU_MODES and "compile+cudagraphs" in bench.CUDA_MODES
    assert bench.CPU_MODES == ("eager", "trace", "script", "trace+freeze", "export", "aot-inductor", "compile",
                               "compile+freeze", "onnxruntime")


def test_usable_cores_honours_cpu_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CPU_CORES", raising=False)
    n = bench.usable_cores()
    assert n >= 1
    monkeypatch.setenv("CPU_CORES", "1")
    assert bench.usable_cores() == 1
    monkeypatch.setenv("CPU_CORES", "not-a-number")
    assert bench.usable_cores() == n


def test_cpu_peak_estimate(monkeypatch: pytest.MonkeyPatch) -> None:
    m = bench.machine
    monkeypatch.setattr(m, "_cpuinfo", lambda: {"flags": "sse2 avx avx2 fma", "vendor_id": "GenuineIntel"})
    monkeypatch.setattr(m, "_cpu_clock_ghz", lambda info: (3.0, "test"))
    monkeypatch.setenv("CPU_CORES", "64")
    peak, how = bench.estimate_peak_gflops("cpu", 1)
    assert peak == pytest.approx(96.0)  # 1 core x 3 GHz x 32 FLOPs/cycle
    assert how.startswith("estimate") and "AVX2" in how
    monkeypatch.setattr(m, "_cpuinfo", lambda: {"flags": "avx512f avx2 fma", "vendor_id": "GenuineIntel"})
    assert bench.estimate_peak_gflops("cpu", 1)[0] == pytest.approx(192.0)
    monkeypatch.setattr(m, "_cpuinfo", lambda: {})
    monkeypatch.setattr(m, "_cpu_clock_ghz", lambda info: (None, ""))
    peak, how = bench.estimate_peak_gflops("cpu", 1)
    assert peak is None and "no peak" in how


def test_gpu_peak_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA H100 PCIe")
    peak, how = bench.estimate_peak_gflops("cuda", 0)
    assert peak == pytest.approx(51200.0) and "estimate" in how
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA A10G")
    assert bench.estimate_peak_gflops("cuda", 0)[0] == pytest.approx(31200.0)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Mystery GPU 9000")
    peak, how = bench.estimate_peak_gflops("cuda", 0)
    assert peak is None and "not in the table" in how


def test_measured_peak_is_the_best_gemm_and_is_cached_per_device_and_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench.machine, "_PEAK_CACHE", {})
    calls: list[float] = []

    def fake_gemm_timer(stmt: Callable[[], object], seconds: float) -> float:
        stmt()  # a real (small) matmul runs; its time is ignored
        calls.append(seconds)
        return {0: 1e-5, 1: 2e-5, 2: 4e-4}[(len(calls) - 1) % 3]  # sizes 64, 128, 256

    monkeypatch.setattr(bench.machine, "CPU_GEMM_SIZES", (64, 128, 256))
    peak = bench.measure_peak_gflops("cpu", 1, gemm_timer=fake_gemm_timer)
    n_calls = 3 * bench.machine.GEMM_PASSES  # every size, every pass
    assert len(calls) == n_calls
    best = 2 * 128**3 / 2e-5 / 1e9  # 209.7 GFLOP/s, better than 64 (52.4) and 256 (83.9)
    assert peak.gflops == pytest.approx(best, abs=0.05) and peak.size == 128
    assert peak.method.startswith("measured") and "1 thread" in peak.method
    # cached: no second measurement for the same device and threads, a new one for other threads
    assert bench.measure_peak_gflops("cpu", 1, gemm_timer=fake_gemm_timer) is peak and len(calls) == n_calls
    calls.clear()
    bench.measure_peak_gflops("cpu", 2, gemm_timer=fake_gemm_timer)
    assert len(calls) == n_calls
    calls.clear()
    peak = bench.measure_peak_gflops("cpu", 1, refresh=True, gemm_timer=fake_gemm_timer)
    assert peak.gflops == pytest.approx(best, abs=0.05)


def test_measured_peak_of_a_failing_gemm_is_none_with_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench.machine, "_PEAK_CACHE", {})

    def broken(stmt: Callable[[], object], seconds: float) -> float:
        raise RuntimeError("out of memory")

    peak = bench.measure_peak_gflops("cpu", 1, gemm_timer=broken)
    assert peak.gflops is None and "GEMM failed" in peak.method and "out of memory" in peak.method


def test_real_measured_peak_agrees_with_an_independent_matmul(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cached peak and a plain perf_counter matmul loop (its fastest call), same process: within a factor of 3."""
    import time

    monkeypatch.setattr(bench.machine, "_PEAK_CACHE", {})
    monkeypatch.setattr(bench.machine, "CPU_GEMM_SIZES", (256, 512))
    peak = bench.measure_peak_gflops("cpu", 1)
    assert peak.gflops is not None and peak.gflops > 0
    with bench.util.torch_threads(1):
        a, b = torch.randn(512, 512), torch.randn(512, 512)
        a @ b
        best = min(_timed(lambda: a @ b, time.perf_counter) for _ in range(100))
    independent = 2 * 512**3 / best / 1e9
    assert independent / 3 < peak.gflops < independent * 3


def _timed(fn: Callable[[], object], clock: Callable[[], float]) -> float:
    t0 = clock()
    fn()
    return clock() - t0


def test_pct_of_peak_is_against_the_measured_peak_and_never_above_100(monkeypatch: pytest.MonkeyPatch) -> None:
    model, inputs = tiny()
    flops = 2 * 2 * 8 * 16 + 2 * 2 * 16 * 4
    # 1 ms per call: eager does flops / 1e-3 / 1e9 GFLOP/s; a peak a quarter of that is exceeded
    tiny_peak = flops / 1e-3 / 1e9 / 4
    monkeypatch.setattr(bench.machine, "measure_peak_gflops", lambda device, threads, **kw: bench.PeakMeasurement(
        tiny_peak, "measured: fake", device, threads))
    times = {"eager": [0.001], "trace": [0.008]}
    rep = bench.benchmark_module(model, inputs, name="tiny", modes=["eager", "trace"], threads=1, budget_s=1.0,
                                 timer_factory=fake_factory(times, []))
    rows = {r.mode: r for r in rep.results}
    assert rep.peak_gflops == pytest.approx(tiny_peak)
    assert rows["eager"].pct_of_peak == 100.0  # capped, and the notes say why
    assert rows["trace"].pct_of_peak == pytest.approx(50.0, rel=1e-3)
    assert any(n.startswith("eager reached more counted GFLOP/s than the measured GEMM peak") for n in rep.notes)
    assert any(n.startswith("peak_gflops is measured") for n in rep.notes)
    assert any(n.startswith("peak_estimate_gflops is an estimate") or "no peak estimate" in n for n in rep.notes)


# --------------------------------------------------------------------------- intervals and verdicts


def test_bootstrap_interval_of_the_median_is_seeded_and_contains_it() -> None:
    xs = [0.001 * (1 + 0.01 * (i % 7)) for i in range(50)]
    lo, hi = bench.median_ci_ms(xs)
    med = bench.summarize(xs)[0]
    assert lo <= med <= hi and lo < hi
    assert bench.median_ci_ms(xs) == (lo, hi)  # same samples, same interval
    assert bench.median_ci_ms([0.002] * 9) == (2.0, 2.0)
    assert bench.stats.ratio_ci([4.0, 6.0], [2.0, 2.0]) == pytest.approx((2.025, 2.975))


def test_speedup_interval_and_same_as_eager() -> None:
    model, inputs = tiny()
    spread = [0.0018, 0.0020, 0.0022, 0.0019, 0.0021]
    times = {"eager": spread, "trace": [t * 1.01 for t in spread], "script": [t / 2 for t in spread]}
    rep = bench.benchmark_module(model, inputs, name="tiny", modes=["eager", "trace", "script"], threads=1,
                                 budget_s=1.0, timer_factory=fake_factory(times, []))
    rows = {r.mode: r for r in rep.results}
    assert rows["eager"].speedup_ci95 == (1.0, 1.0) and rows["eager"].same_as_eager
    lo, hi = rows["trace"].speedup_ci95 or (0, 0)
    assert lo <= rows["trace"].speedup_vs_eager <= hi and lo < 1.0 < hi
    assert rows["trace"].same_as_eager  # 1% slower with 10% spread: not distinguishable
    lo, hi = rows["script"].speedup_ci95 or (0, 0)
    assert 1.0 < lo <= 2.0 <= hi and not rows["script"].same_as_eager
    assert any(n.startswith("same as eager") and "trace" in n and "script" not in n for n in rep.notes)
    assert "[" in bench.to_markdown([rep]) and " same |" in bench.to_markdown([rep])


def test_renderers_read_the_verdict_fields_not_the_notes() -> None:
    """A note that says WRONG does not make a row wrong; a row with correct=False is wrong without any note."""
    rows = (
        BenchResult("eager", True, median_ms=2.0, p90_ms=2.0, runs=10, speedup_vs_eager=1.0, correct=True,
                    speedup_ci95=(1.0, 1.0), same_as_eager=True),
        BenchResult("trace", True, median_ms=1.0, p90_ms=1.0, runs=10, speedup_vs_eager=2.0, correct=True,
                    speedup_ci95=(1.9, 2.1)),
        BenchResult("compile", True, median_ms=0.5, p90_ms=0.5, runs=10, speedup_vs_eager=4.0, correct=False,
                    max_abs_diff=0.5, speedup_ci95=(3.9, 4.1)),
    )
    rep = BenchReport("m", "cpu", "CPU", 1, "t", 1, "in", 100.0, ("trace is fast but WRONG: a stale note",), rows,
                      peak_estimate_gflops=90.0, fastest="trace")
    md = bench.to_markdown([rep])
    assert "| **trace** |" in md and "2.00x [1.90-2.10] |" in md
    assert "4.00x [3.90-4.10] (WRONG output)" in md
    assert "peak 100 GFLOP/s measured (estimate 90)" in md and "fastest correct mode: **trace**" in md
    from app import render

    d = rep.to_dict()
    assert render.bench_wrong_modes(d) == {"compile"}
    assert "Fastest correct mode: <b>trace</b>" in render.bench_summary_html(d)
    assert "class='jx-bar-best'><title>trace" in render.bench_chart_html(d)
    assert "jx-row-wrong" in render.bench_table_html(d)
    assert BenchReport.from_dict(d) == rep


# --------------------------------------------------------------------------- memory


def test_peak_mem_is_the_call_peak_over_the_memory_before_the_mode_was_built() -> None:
    model, inputs = tiny()
    probe = FakeProbe(current=100.0, peak=130.5)
    rep = bench.benchmark_module(model, inputs, name="tiny", modes=["eager", "trace"], threads=1, budget_s=1.0,
                                 timer_factory=fake_factory({"eager": [0.001], "trace": [0.001]}, []),
                                 memory_probe=probe)
    assert [r.peak_mem_mb for r in rep.results] == [30.5, 30.5]
    # per mode: settle, baseline, (build, warm up), settle, reset the peak, one call, read the peak
    assert probe.calls == ["settle", "current", "settle", "reset", "peak"] * 2
    assert "fake probe" in " ".join(rep.notes)
    probe = FakeProbe(can_reset=False)
    rep = bench.benchmark_module(model, inputs, name="tiny", modes=["eager"], threads=1, budget_s=1.0,
                                 timer_factory=fake_factory({"eager": [0.001]}, []), memory_probe=probe)
    assert rep.results[0].peak_mem_mb is None  # a peak that cannot be reset is never reported


class Hungry(nn.Module):
    """Allocates and touches a 48 MiB temporary in every call."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        big = torch.ones(12 * 2**20)  # 12 Mi float32 = 48 MiB
        return x + big[:1]


def test_real_rss_probe_sees_a_call_s_working_memory() -> None:
    probe = bench.memory.RssProbe()
    if not probe.reset_peak():
        pytest.skip("/proc/self/clear_refs cannot be written here")
    rep = bench.benchmark_module(Hungry().eval(), (torch.ones(1),), name="hungry", modes=["eager"], threads=1,
                                 budget_s=1.0, timer_factory=fake_factory({"eager": [0.001]}, []))
    assert rep.results[0].peak_mem_mb is not None and rep.results[0].peak_mem_mb >= 40
    small = bench.benchmark_module(*tiny(), name="tiny", modes=["eager"], threads=1, budget_s=1.0,
                                   timer_factory=fake_factory({"eager": [0.001]}, []))
    assert (small.results[0].peak_mem_mb or 0) < rep.results[0].peak_mem_mb


# --------------------------------------------------------------------------- aot-inductor (faked) and CUDA (faked)


def test_aot_inductor_packages_a_pt2_and_pays_it_in_the_first_call(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from torch import _inductor

    seen: dict[str, Any] = {}

    def fake_compile(ep: Any, *args: Any, package_path: str, **kw: Any) -> str:
        seen["ep"] = ep
        time.sleep(0.2)  # packaging is slow; the fake's own delay must land in first_call_ms
        with open(package_path, "wb") as f:
            f.write(b"\0" * 2**20)
        return package_path

    def fake_load(path: str, *args: Any, **kw: Any) -> Callable[..., Any]:
        seen["path"] = path
        return seen["ep"].module()

    monkeypatch.setattr(_inductor, "aoti_compile_and_package", fake_compile)
    monkeypatch.setattr(_inductor, "aoti_load_package", fake_load)
    model, inputs = tiny()
    rep = bench.benchmark_module(model, inputs, name="tiny", modes=["eager", "aot-inductor"], threads=1,
                                 budget_s=1.0,
                                 timer_factory=fake_factory({"eager": [0.002], "aot-inductor": [0.001]}, []))
    row = rep.results[1]
    assert row.mode == "aot-inductor" and row.ok and row.correct, row.error
    assert row.first_call_ms >= 200
    assert seen["path"].endswith("model.pt2") and isinstance(seen["ep"], torch.export.ExportedProgram)
    note = next(n for n in rep.notes if n.startswith("aot-inductor:"))
    assert "1.0 MB .pt2" in note and "aoti_compile_and_package" in note
    assert rep.fastest == "aot-inductor"


def test_export_of_a_plain_function_does_not_apply() -> None:
    rep = bench.benchmark_module(lambda x: x * 2, (torch.ones(3),), name="f", modes=["eager", "export"], threads=1,
                                 budget_s=1.0, timer_factory=fake_factory({"eager": [0.001]}, []))
    assert not rep.results[1].ok and (rep.results[1].error or "").startswith("does not apply: torch.export needs")


@pytest.fixture
def fake_cuda(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A pretend GPU: validation passes, names and syncs are recorded; tensors stay on the CPU."""
    log: list[str] = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA A10G")
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: log.append("sync"))
    return log


def test_cuda_times_synchronised_calls_and_uses_the_allocator_peak(fake_cuda: list[str],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    allocated = {"now": 50 * 2**20, "peak": 80 * 2**20}
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: allocated["now"])
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda device=None: allocated["peak"])
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", lambda device=None: fake_cuda.append("reset"))
    model, inputs = tiny()
    made: list[FakeTimer] = []
    rep = bench.benchmark_module(model, inputs, name="tiny", device="cuda", modes=["eager", "trace", "onnxruntime"],
                                 threads=1, budget_s=1.0,
                                 timer_factory=fake_factory(
                                     {"eager": [0.002], "trace": [0.001], "onnxruntime": [0.001]}, [], made))
    assert rep.device == "cuda:0" or rep.device == "cuda"
    assert rep.device_name == "NVIDIA A10G" and rep.peak_estimate_gflops == pytest.approx(31200.0)
    rows = {r.mode: r for r in rep.results}
    assert rows["eager"].peak_mem_mb == pytest.approx(30.0) and rows["trace"].peak_mem_mb == pytest.approx(30.0)
    assert "reset" in fake_cuda
    # every timed statement ends with torch.cuda.synchronize
    for t in made:
        fake_cuda.clear()
        t.stmt()
        assert fake_cuda == ["sync"], t.label
    assert any(n.startswith("CUDA: NVIDIA A10G; every timed call ends with torch.cuda.synchronize()")
               for n in rep.notes)
    assert any("max_memory_allocated" in n for n in rep.notes)
    if rows["onnxruntime"].ok:  # only where an onnxruntime with a CUDA provider exists: outside torch's allocator
        assert rows["onnxruntime"].peak_mem_mb is None


def test_cuda_modes_and_cudagraphs() -> None:
    assert "compile+cudagraphs" in bench.CUDA_MODES and "compile+freeze" not in bench.CUDA_MODES
    assert {"export", "aot-inductor"} <= set(bench.CUDA_MODES)
    assert isinstance(bench.memory.probe_for("cuda:0"), bench.memory.CudaProbe)


# --------------------------------------------------------------------------- rendering


def test_to_markdown() -> None:
    rep = BenchReport(
        model="resnet18", device="cpu", device_name="Test CPU", threads=2, torch_version="2.14.1", batch=1,
        input="image batch 1x3x224x224 float32", peak_gflops=150.0, notes=("threads: 2", "failed: script (x)"),
        results=(
            BenchResult("eager", True, median_ms=40.0, p90_ms=42.0, iqr_ms=1.5, ci95_ms=(39.5, 40.5), runs=100,
                        first_call_ms=900.0, correct=True, speedup_vs_eager=1.0, speedup_ci95=(1.0, 1.0),
                        same_as_eager=True, peak_mem_mb=12.5, gflops=45.5, pct_of_peak=30.3),
            BenchResult("trace+freeze", True, median_ms=30.0, p90_ms=31.0, iqr_ms=0.5, ci95_ms=(29.8, 30.2), runs=120,
                        first_call_ms=2000.0, max_abs_diff=4.8e-6, correct=True, speedup_vs_eager=1.3333,
                        speedup_ci95=(1.3, 1.36), gflops=60.7, pct_of_peak=40.4),
            BenchResult("script", False, error="OSError: a | b"),
        ),
        peak_estimate_gflops=120.0, fastest="trace+freeze",
    )
    md = bench.to_markdown([rep, rep])
    assert md.count("### resnet18 on cpu (Test CPU), 2 threads") == 2
    assert ("| mode | median ms | 95% CI ms | p90 ms | IQR ms | runs | first call ms | speedup vs eager [95% CI] "
            "| peak mem MB |") in md
    assert "| eager | 40 | 39.5-40.5 | 42 | 1.5 | 100 | 900 | 1.00x | 12.5 | 45.5 | 30.3 | 0 |" in md
    assert ("| **trace+freeze** | 30 | 29.8-30.2 | 31 | 0.5 | 120 | 2000 | 1.33x [1.30-1.36] | n/a | 60.7 | 40.4 "
            "| 4.8e-06 |") in md
    assert "| script | failed: OSError: a \\| b |" in md
    assert "- threads: 2" in md and "peak 150 GFLOP/s measured (estimate 120)" in md


def test_busy_note_counts_other_processes_not_ourselves() -> None:
    start = bench.machine.CpuSample(busy_s=100.0, steal_s=0.0, own_s=10.0, wall_s=1000.0)
    # 10 s of wall time, 20 busy CPU seconds machine-wide, all of them ours: quiet
    quiet = bench.machine.CpuSample(busy_s=120.0, steal_s=0.0, own_s=30.0, wall_s=1010.0)
    assert bench.machine.busy_note(start, quiet, cores=2) is None
    # 15 of the 20 busy seconds belong to someone else: 1.5 cores on average
    busy = bench.machine.CpuSample(busy_s=120.0, steal_s=0.0, own_s=15.0, wall_s=1010.0)
    note = bench.machine.busy_note(start, busy, cores=2)
    assert note is not None and "other processes used 1.5 of 2 cores" in note
    stolen = bench.machine.CpuSample(busy_s=120.0, steal_s=5.0, own_s=30.0, wall_s=1010.0)
    assert "steal" in (bench.machine.busy_note(start, stolen, cores=2) or "")
    assert bench.machine.busy_note(None, quiet, cores=2) is None


def test_short_error_is_one_line_without_addresses() -> None:
    e = OSError("Failed to get source for <function f at 0x7fd8150d8360> using inspect.getsource\nmore")
    assert short_error(e) == "OSError: Failed to get source for <function f> using inspect.getsource"
    long = RuntimeError("x" * 1000)
    assert len(short_error(long)) <= 240
