from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

from jit_explorer import zoo
from jit_explorer.convert import PROFILING_RUNS, clean_paths, convert, script_error_line
from jit_explorer.errors import InputError

SRC = '''import torch


def branchy(x):
    if x.sum() > 0:
        return x * 2
    return x - 1


def lam(x):
    f = lambda t: t + 1
    return f(x)


def clean(x):
    return torch.relu(x) + 1
'''


@pytest.fixture(scope="module")
def user_module(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    path = tmp_path_factory.mktemp("user") / "snippet.py"
    path.write_text(SRC)
    spec = importlib.util.spec_from_file_location("jx_test_user_mod", path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_all_four_views_for_trace_and_script(user_module: ModuleType) -> None:
    c = convert(user_module.clean, (torch.randn(4),), user_file=user_module.__file__)
    for res in (c.trace, c.script):
        assert res is not None and res.ok
        assert "aten::relu" in res.graph and "aten::relu" in res.inlined_graph
        assert "torch.relu" in res.code
        assert res.optimized_graph.startswith("graph(")
        assert res.seconds > 0
    # the JIT output equals eager
    x = torch.randn(4)
    assert torch.equal(c.traced(x), user_module.clean(x))
    assert torch.equal(c.scripted(x), user_module.clean(x))


def test_tracer_warning_keeps_the_users_line_and_deprecation_is_apart(user_module: ModuleType) -> None:
    c = convert(user_module.branchy, (torch.ones(3),), mode="trace", user_file=user_module.__file__)
    tracer = [w for w in c.warnings if w.category == "TracerWarning"]
    assert tracer and all(w.line == 5 for w in tracer)
    assert all(w.where == "snippet.py:5" for w in tracer)
    assert c.deprecation and "deprecated" in c.deprecation
    assert not any("deprecated" in w.message and "jit" in w.message for w in c.warnings)
    assert c.script is None


def test_trace_freezes_the_branch_script_keeps_it(user_module: ModuleType) -> None:
    c = convert(user_module.branchy, (torch.ones(3),), user_file=user_module.__file__)
    neg = torch.full((3,), -2.0)  # eager: x - 1 = -3; the trace took the `if`: x * 2 = -4
    assert not torch.equal(c.traced(neg), user_module.branchy(neg))
    assert torch.equal(c.scripted(neg), user_module.branchy(neg))
    assert "prim::If" in c.script.graph and "prim::If" not in c.trace.graph


def test_script_error_is_located_and_paths_are_clean(user_module: ModuleType) -> None:
    c = convert(user_module.lam, (torch.ones(2),), mode="script", user_file=user_module.__file__)
    assert c.script is not None and not c.script.ok and c.script.error is not None
    assert c.script.error.line == 11
    assert "Lambda" in c.script.error.message
    assert str(Path(user_module.__file__).parent) not in c.script.error.message
    assert "snippet.py" in c.script.error.message


def test_ir_never_shows_temp_paths(user_module: ModuleType) -> None:
    c = convert(user_module.branchy, (torch.ones(3),), user_file=user_module.__file__)
    folder = str(Path(user_module.__file__).parent)
    for res in (c.trace, c.script):
        for text in (res.graph, res.inlined_graph, res.optimized_graph):
            assert folder not in text
    assert "# snippet.py:5:" in c.script.graph


def test_optimized_graph_comes_after_profiling_runs() -> None:
    calls = []

    class Counting(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * 2

    m = Counting()
    m.register_forward_hook(lambda *a: calls.append(1))
    c = convert(m, (torch.ones(2),), mode="trace")
    assert c.trace.ok and len(calls) >= 1  # the trace itself
    assert PROFILING_RUNS >= 3


def test_bad_options_raise_input_error() -> None:
    with pytest.raises(InputError, match="mode"):
        convert(lambda x: x, (torch.ones(1),), mode="jit")
    with pytest.raises(InputError, match="device"):
        convert(lambda x: x, (torch.ones(1),), device="tpu")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="CUDA is not available"):
            convert(lambda x: x, (torch.ones(1),), device="cuda")


def test_script_error_line_parser() -> None:
    msg = 'oops:\n  File "/tmp/a/snippet.py", line 7\n    x\n  File "/other.py", line 2\n'
    assert script_error_line(msg, "/tmp/a/snippet.py") == 7
    assert script_error_line(msg, "/tmp/b/snippet.py") is None
    assert script_error_line(msg, None) is None


def test_clean_paths() -> None:
    text = 'File "/tmp/xyz/snippet.py", line 3 and /usr/lib/python3.11/site-packages/torch/nn/x.py'
    out = clean_paths(text, user_file="/tmp/xyz/snippet.py", label="snippet.py")
    assert "/tmp/xyz" not in out and "site-packages" not in out and "torch/nn/x.py" in out


@pytest.mark.slow
def test_bert_traces_and_script_fails_with_an_explanation() -> None:
    loaded = zoo.load("bert-base-uncased")
    c = convert(loaded.module, loaded.inputs())
    assert c.trace is not None and c.trace.ok
    assert "aten::embedding" in c.trace.inlined_graph
    assert c.script is not None and not c.script.ok
    assert "transformers" in c.script.error.message and "torch.jit.trace" in c.script.error.message
    with torch.inference_mode():
        eager = loaded.module(*loaded.inputs())[0]
        traced = c.traced(*loaded.inputs())[0]
    assert torch.allclose(eager, traced, atol=1e-4)


def test_warnings_from_torch_nn_internals_are_marked_internal() -> None:
    gru = zoo.load("gru")
    c = convert(gru.module, gru.inputs(), mode="trace")
    tracer = [w for w in c.warnings if w.category == "TracerWarning"]
    assert tracer and all(w.internal for w in tracer)  # nn.GRU's own input checks


def test_user_warnings_are_not_internal(user_module: ModuleType) -> None:
    c = convert(user_module.branchy, (torch.ones(3),), mode="trace", user_file=user_module.__file__)
    assert not any(w.internal for w in c.warnings if w.category == "TracerWarning")
