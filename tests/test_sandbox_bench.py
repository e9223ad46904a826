"""Benchmarking pasted code: through the sandbox, with outputs checked against eager."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import pytest

from app import handlers
from jit_explorer import sandbox
from jit_explorer.errors import InputError, SnippetError

MLP = (Path(__file__).resolve().parent.parent / "assets" / "examples" / "clean_mlp.py").read_text()


def test_pasted_module_is_benchmarked_in_the_sandbox() -> None:
    report = sandbox.benchmark_source(MLP, modes=["eager", "trace", "trace+freeze"], budget_s=0.2)
    assert report.model == "MLP" and report.device == "cpu" and report.threads == 1
    rows = {r.mode: r for r in report.results}
    assert set(rows) == {"eager", "trace", "trace+freeze"}
    assert all(r.ok and r.runs > 0 and r.median_ms > 0 for r in rows.values())
    assert rows["trace"].max_abs_diff < 1e-5


def test_pasted_function_is_wrapped_and_benchmarked() -> None:
    src = "import torch\n\n\ndef f(x):\n    return torch.relu(x) * 2\n"
    report = sandbox.benchmark_source(src, inputs="torch.randn(4, 4)", modes=["eager", "script"], budget_s=0.1)
    assert [r.mode for r in report.results] == ["eager", "script"] and all(r.ok for r in report.results)


def test_pasted_bench_errors_are_specific() -> None:
    with pytest.raises(SnippetError, match="fails in eager mode"):
        sandbox.benchmark_source("import torch\ndef f(x):\n    return x.nope()\n", inputs="torch.ones(2)",
                                 modes=["eager"], budget_s=0.1)
    with pytest.raises(SnippetError, match="syntax error on line 1"):
        sandbox.benchmark_source("def f(:\n", modes=["eager"])
    with pytest.raises(InputError, match="unknown benchmark mode"):
        sandbox.benchmark_source(MLP, modes=["warp-speed"])


def test_benchmark_tab_routes_pasted_code_through_the_sandbox() -> None:
    out = handlers.ui_benchmark(handlers.PASTED_TARGET, "cpu", ["eager", "trace"], 0, 0.2, MLP, "MLP", "")
    report = out[-1]
    assert report["model"] == "MLP" and [r["mode"] for r in report["results"]] == ["eager", "trace"]
    assert "<svg" in out[1] or "svg" in out[1].lower()
    with pytest.raises(gr.Error, match="CPU only"):
        handlers.ui_benchmark(handlers.PASTED_TARGET, "cuda", ["eager"], 0, 0.2, MLP, "MLP", "")
