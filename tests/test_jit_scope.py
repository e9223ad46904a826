"""Conversions do not pile up in the process: TorchScript's global compilation unit stays empty, RSS stays flat.

Before the private compilation unit (jit_explorer/jit_scope.py), every trace of ResNet-18 left its 76
submodule functions, types and executor plans in ``torch.jit._state._python_cu``: +5.7 MB per
``analyze_model("resnet18", mode="trace")``, ~85 MB over 15 calls.
"""

from __future__ import annotations

import gc
import os
import sys

import pytest
import torch

from jit_explorer import ir_cache
from jit_explorer.analysis import analyze_model
from jit_explorer.convert import convert
from jit_explorer.jit_scope import global_function_count, private_compilation_unit

CALLS = 30
#: MB the last 15 of 30 conversions may add (noise of the allocator); the old code added ~85 MB
GROWTH_BOUND_MB = 30.0


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads RSS from /proc/self/statm")
def test_repeated_zoo_trace_keeps_rss_flat() -> None:
    functions = global_function_count()
    series = []
    for _ in range(CALLS):
        ir_cache.clear()  # a cache hit converts nothing: force the conversion every time
        report = analyze_model("resnet18", mode="trace")
        assert report.ok and report.modes["trace"].ok
        gc.collect()
        series.append(_rss_mb())
    ir_cache.clear()
    growth = series[-1] - series[CALLS // 2 - 1]
    assert growth < GROWTH_BOUND_MB, f"RSS grew {growth:.1f} MB over the last {CALLS // 2} conversions: {series}"
    assert global_function_count() == functions, "conversions left functions in torch's global compilation unit"


def test_private_unit_is_restored_and_results_outlive_it() -> None:
    before = torch.jit._state._python_cu
    store = torch.jit._recursive.concrete_type_store
    with private_compilation_unit() as unit:
        assert torch.jit._state._python_cu is unit is not before
        traced = torch.jit.trace(torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU()), (torch.ones(1, 3),))
        scripted = torch.jit.script(torch.nn.Sequential(torch.nn.Linear(3, 2)))
        assert global_function_count() > 0  # compiled into the private unit
    assert torch.jit._state._python_cu is before
    assert torch.jit._recursive.concrete_type_store is store
    del unit
    gc.collect()
    # the modules keep their unit alive: they still run and print their graphs
    assert traced(torch.ones(2, 3)).shape == (2, 2)
    assert scripted(torch.ones(2, 3)).shape == (2, 2)
    assert "aten::linear" in str(traced.inlined_graph)


def test_private_unit_is_restored_after_a_failure() -> None:
    before = torch.jit._state._python_cu
    with pytest.raises(RuntimeError), private_compilation_unit():
        raise RuntimeError("boom")
    assert torch.jit._state._python_cu is before


def test_conversions_leave_no_function_behind() -> None:
    functions = global_function_count()

    class Block(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = torch.nn.Linear(4, 4)
            self.b = torch.nn.Linear(4, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.b(torch.relu(self.a(x)))

    counts = []
    for _ in range(3):
        conv = convert(Block().eval(), (torch.ones(2, 4),), mode="both")
        assert conv.trace.ok and conv.script.ok
        assert conv.traced(torch.ones(2, 4)).shape == (2, 4)
        counts.append(global_function_count())
    # traces leave nothing; script compiles a class once into torch's unit and reuses it (no growth per call)
    assert counts[0] == counts[1] == counts[2] <= functions + 2
    for _ in range(3):
        assert convert(Block().eval(), (torch.ones(2, 4),), mode="trace").trace.ok
    assert global_function_count() == counts[-1]


def test_a_model_with_scripted_library_functions_converts_twice() -> None:
    """SSDlite's transform scripts torchvision functions: a second conversion in the same process must work too."""
    from jit_explorer import zoo

    loaded = zoo.load("ssdlite")
    for _ in range(2):
        conv = convert(loaded.module, loaded.inputs(), mode="script")
        assert conv.script.ok, conv.script.error
