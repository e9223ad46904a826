"""Unit tests of the pitfall checks (in process, on snippets written to a temp module file)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import torch

from jit_explorer import pitfall_dynamic as dyn
from jit_explorer import pitfall_static as st
from jit_explorer import pitfalls, snippet
from jit_explorer.analysis import analyze_callable, analyze_source_here
from jit_explorer.convert import convert
from jit_explorer.report import PITFALL_KINDS, Analysis, Pitfall


@pytest.fixture(autouse=True)
def _checks_raise(monkeypatch: pytest.MonkeyPatch) -> None:
    """A crashing check fails the test here (in production it is skipped so the others still report)."""
    monkeypatch.setenv("JX_PITFALL_DEBUG", "1")


def _src(source: str) -> str:
    return textwrap.dedent(source).lstrip("\n")


def analyze(tmp_path: Path, source: str, *, inputs: str = "", mode: str = "both") -> Analysis:
    """Analyse the one entry of ``source`` in this process (the worker's code path, without the worker)."""
    results = analyze_source_here(_src(source), workdir=tmp_path, inputs=inputs, mode=mode)
    assert len(results) == 1 and results[0].ok, results
    return results[0]


def context(tmp_path: Path, source: str, *, inputs: tuple[Any, ...], entry: str, mode: str = "both") -> pitfalls.Context:
    """A pitfall :class:`Context` for ``entry`` of ``source``, loaded from a real file."""
    text = _src(source)
    module, path = snippet.load_module(text, tmp_path)
    obj = getattr(module, entry)
    if isinstance(obj, type):
        obj = obj().eval()
    conv = convert(obj, inputs, mode=mode, user_file=str(path))
    return pitfalls.Context(obj=obj, inputs=inputs, source=text, user_file=str(path), conversion=conv, entry=entry,
                            extra={"mode": mode, "device": "cpu"})


def found(a: Analysis, kind: str, line: int | None) -> Pitfall:
    hits = [p for p in a.pitfalls if p.kind == kind and p.line == line]
    assert hits, f"no {kind}@{line} in {[(p.kind, p.line, p.severity, p.evidence) for p in a.pitfalls]}"
    return hits[0]


def serious(a: Analysis) -> list[Pitfall]:
    return [p for p in a.pitfalls if p.severity in ("warning", "error")]


# --------------------------------------------------------------------------- tracer warnings


@pytest.mark.parametrize(("text", "kind"), [
    ("Converting a tensor to a Python boolean might cause the trace to be incorrect.", "tensor-to-bool"),
    ("Converting a tensor to a Python number might cause the trace to be incorrect.", "tensor-to-number"),
    ("Converting a tensor to a NumPy array might cause the trace to be incorrect.", "tensor-to-number"),
    ("Iterating over a tensor might cause the trace to be incorrect.", "tensor-iteration"),
    ("Using len to get tensor shape might cause the trace to be incorrect.", "tensor-iteration"),
    ("torch.tensor results are registered as constants in the trace.", "constant-tensor"),
    ("Encountering a list at the output of the tracer might cause the trace to be incorrect", "container-output"),
])
def test_tracer_warning_classification(text: str, kind: str) -> None:
    assert pitfalls.classify_tracer_warning(text)[0] == kind


def test_shape_condition_warning_is_shape_specialization(tmp_path: Path) -> None:
    a = analyze(tmp_path, """
        import torch
        def f(x):
            if x.size(0) > 2:
                return x.mean(0)
            return x.sum(0)
        """, inputs="torch.ones(2, 3)")
    p = found(a, "shape-specialization", 3)
    assert "tracer-warning" in p.evidence and not [q for q in a.pitfalls if q.kind == "tensor-to-bool"]


def test_warnings_from_library_code_and_guards_are_info(tmp_path: Path) -> None:
    a = analyze(tmp_path, """
        import torch
        def f(x):
            if x.shape[-1] != 4:
                raise ValueError("need 4 features")
            assert x.min() > -100
            return torch.tensor([1.0, 2.0, 3.0, 4.0]) * x
        """, inputs="torch.randn(2, 4)")
    assert not serious(a)
    assert found(a, "shape-specialization", 3).severity == "info"
    assert found(a, "tensor-to-bool", 5).severity == "info"
    assert found(a, "constant-tensor", 6).severity == "info"


# --------------------------------------------------------------------------- static checks


def test_categories_keep_config_and_sizes_quiet() -> None:
    idx = st.SourceIndex(_src("""
        import torch
        def f(x, mask=None):
            if mask is not None:
                x = x * mask
            y = x.view(x.size(0), -1)
            for _ in range(3):
                y = y + 1
            if x.dim() == 3:
                y = y * 2
            for i in range(x.shape[0]):
                y = y + i
            return y / x.shape[0]
        """))
    a = idx.analysis(entry="f")
    assert [(d.line, d.cat) for d in a.decisions] == [(8, st.Cat.S)]
    assert [(lp.line, lp.how) for lp in a.loops] == [(10, "range-shape")]


def test_static_decisions_without_any_tracer_warning(tmp_path: Path) -> None:
    a = analyze(tmp_path, """
        import torch
        def f(x):
            if x.dtype == torch.float64:
                x = x.float()
            if x.dim() == 1:
                x = x.unsqueeze(0)
            return x * 2
        """, inputs="torch.ones(3)")
    assert not [w for w in a.warnings if "TracerWarning" in w]
    p3 = found(a, "shape-specialization", 3)
    assert p3.evidence == "divergence+static" and "float64" in p3.message  # the dtype variant proves it
    p = found(a, "shape-specialization", 5)
    assert "condition was True" in p.message and "line 6" in p.message


def test_side_effects_self_and_globals(tmp_path: Path) -> None:
    a = analyze(tmp_path, """
        import torch
        from torch import nn
        SEEN = []
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.calls = 0
                self.register_buffer("steps", torch.zeros(()))
            def forward(self, x):
                self.calls += 1
                self.steps += 1
                SEEN.append(1)
                print("called")
                return x * 2
        """, inputs="torch.ones(2)")
    assert found(a, "python-side-effect", 10).severity == "warning"
    assert found(a, "python-side-effect", 12).severity == "warning"
    assert found(a, "python-side-effect", 13).severity == "info"
    assert not [p for p in a.pitfalls if p.line == 11]  # an in-place update of a buffer is traced


def test_randomness_and_functional_dropout(tmp_path: Path) -> None:
    a = analyze(tmp_path, """
        import random
        import torch
        import torch.nn.functional as F
        def f(x):
            y = F.dropout(x, 0.5)
            z = F.dropout(x, 0.5, training=False)
            return y + z * random.random()
        """, inputs="torch.ones(4)")
    assert found(a, "nondeterministic", 5).severity == "warning"
    assert not [p for p in a.pitfalls if p.line == 6]
    assert "nondeterministic" in found(a, "nondeterministic", 7).kind


def test_is_tracing_guard_and_training_branch_are_quiet(tmp_path: Path) -> None:
    a = analyze(tmp_path, """
        import torch
        from torch import nn
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.steps = 0
            def forward(self, x):
                if not torch.jit.is_tracing():
                    if (x < 0).any():
                        print("negative input")
                if self.training:
                    self.steps += 1
                return x.abs()
        """, inputs="torch.randn(3)")
    assert not serious(a)


def test_train_mode_module_called_from_a_function(tmp_path: Path) -> None:
    a = analyze(tmp_path, """
        import torch
        from torch import nn
        drop = nn.Dropout(0.5)
        def f(x):
            y = x + 1
            return drop(y)
        """, inputs="torch.ones(8)")
    p = found(a, "nondeterministic", 6)
    assert "Dropout" in p.message and "eval()" in p.fix


def test_container_outputs_on_the_return_line(tmp_path: Path) -> None:
    a = analyze(tmp_path, """
        import torch
        def f(x):
            out = {"a": x, "b": x * 2}
            return out
        """, inputs="torch.ones(2)")
    assert found(a, "container-output", 4).severity == "error"  # strict trace refuses a dict
    b = analyze(tmp_path, """
        import torch
        def g(x):
            return [x, x + 1]
        """, inputs="torch.ones(2)")
    assert found(b, "container-output", 3).severity == "warning"


# --------------------------------------------------------------------------- dynamic evidence


def test_divergence_names_the_input_and_the_deciding_line(tmp_path: Path) -> None:
    a = analyze(tmp_path, """
        import torch
        def f(x):
            y = x * 2
            if y.sum() > 0:
                return y + 1
            return y - 1
        """, inputs="torch.ones(3)")
    p = found(a, "tensor-to-bool", 4)
    assert p.severity == "error" and p.evidence.startswith("divergence")
    assert "sign flipped (-x)" in p.message and "line 6 `return y - 1`" in p.message and "line 5" in p.message


def test_divergence_on_other_sizes_for_a_shape_loop(tmp_path: Path) -> None:
    a = analyze(tmp_path, """
        import torch
        def f(x):
            acc = x[0] * 0
            for i in range(x.size(0)):
                acc = acc + x[i]
            return acc
        """, inputs="torch.ones(2, 3)")
    p = found(a, "shape-specialization", 4)
    assert p.severity == "error" and "divergence" in p.evidence and "size" in p.message


def test_divergence_without_a_parting_line_blames_the_frozen_value(tmp_path: Path) -> None:
    a = analyze(tmp_path, """
        import torch
        def f(x):
            peak = x.abs().max().item()
            return x / peak
        """, inputs="torch.tensor([1.0, -2.0, 0.5])")
    p = found(a, "tensor-to-number", 3)
    assert p.severity == "error" and "frozen into the trace at line 3" in p.message


def test_second_call_exposes_python_state(tmp_path: Path) -> None:
    a = analyze(tmp_path, """
        import torch
        from torch import nn
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.calls = 0
            def forward(self, x):
                self.calls += 1
                return x * self.calls
        """, inputs="torch.ones(2)")
    p = found(a, "python-side-effect", 8)
    assert p.severity == "error" and "second" not in p.fix and "twice" in p.message


def test_stateful_buffers_updated_in_place_are_not_flagged(tmp_path: Path) -> None:
    a = analyze(tmp_path, """
        import torch
        from torch import nn
        class Ema(nn.Module):
            def __init__(self):
                super().__init__()
                self.register_buffer("avg", torch.zeros(3))
            def forward(self, x):
                self.avg.mul_(0.9).add_(0.1 * x.mean(0))
                return x - self.avg
        """, inputs="torch.randn(4, 3)")
    assert not serious(a)


def test_dynamic_checks_skip_slow_calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pitfalls, "SLOW_CALL_S", -1.0)
    a = analyze(tmp_path, """
        import torch
        def f(x):
            if x.sum() > 0:
                return x + 1
            return x - 1
        """, inputs="torch.ones(3)")
    p = found(a, "tensor-to-bool", 3)
    assert "divergence" not in p.evidence and p.severity == "warning"


def test_variants_compare_and_parting() -> None:
    vs = list(dyn.variants((torch.ones(2, 3),), ["x"]))
    kinds = {v.kind for v in vs}
    assert {"value", "size", "dtype"} <= kinds
    assert any(v.args[0].shape == (3, 3) for v in vs) and any(v.args[0].shape == (2, 4) for v in vs)
    assert dyn.compare(torch.ones(2), torch.ones(2) + 1e-7) is None
    assert "shape" in (dyn.compare(torch.ones(2), torch.ones(3)) or "")
    assert "difference" in (dyn.compare((torch.ones(2),), (torch.zeros(2),)) or "")
    assert dyn.parting([1, 2, 3], [1, 2, 3]) == (None, None, None)
    assert dyn.parting([3, 4, 5], [3, 6]) == (3, 4, 6)
    assert dyn.parting([3, 4, 3, 4, 7], [3, 4, 3, 4, 3, 4, 7]) == (4, 7, 3)


def test_instrumented_call_records_lines_and_argument_types(tmp_path: Path) -> None:
    module, path = snippet.load_module(_src("""
        import torch
        def helper(t, k):
            return t * k
        def f(x):
            y = helper(x, 2)
            return y + 1
        """), tmp_path)
    run = dyn.instrumented_call(module.f, (torch.ones(2),), str(path))
    assert run.ok and run.lines == [5, 3, 6]
    assert run.params[2] == {"t": "T", "k": "C"} and run.params[4] == {"x": "T"}


# --------------------------------------------------------------------------- trace vs script


SIGN = """
    import torch
    from torch import nn
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.use_bias = True
        def forward(self, x):
            if self.use_bias:
                x = x + 1
            for i in range(x.size(0)):
                x = x * 2
            if x.sum() > 0:
                return x
            return -x
    """


def test_trace_vs_script_points_at_data_dependent_control_flow(tmp_path: Path) -> None:
    ctx = context(tmp_path, SIGN, inputs=(torch.ones(2),), entry="M")
    flows = dyn.script_control_flow(ctx.conversion.scripted, ctx.user_file)
    assert {(f.line, f.node, f.depends) for f in flows} == {
        (8, "prim::If", None), (10, "prim::Loop", "shape"), (12, "prim::If", "value")}
    got = pitfalls.detect(ctx, checks=["trace-vs-script"])
    assert [(p.kind, p.line) for p in got] == [("shape-specialization", 10), ("tensor-to-bool", 12)]
    assert all("torch.jit.script" in p.fix for p in got)


# --------------------------------------------------------------------------- script errors


@pytest.mark.parametrize(("body", "line", "words"), [
    ("def f(x):\n    y = x + 1\n    return torch.from_numpy(np.exp(y.numpy()))\n", 5, "numpy"),
    ("def f(x):\n    z = x * 2\n    return np.tanh(z)\n", 5, "numpy"),
    ("def f(x):\n    g = lambda t: t * 2\n    return g(x)\n", 4, "lambda"),
    ("def f(x):\n    try:\n        return x + 1\n    except Exception:\n        return x\n", 4, "try"),
    ("def f(*xs):\n    return xs[0]\n", 3, "*args"),
    ("CFG = {'a': 1}\ndef f(x):\n    return x * CFG['a']\n", 5, "global"),
])
def test_script_errors_are_located_and_explained(tmp_path: Path, body: str, line: int, words: str) -> None:
    a = analyze(tmp_path, "import numpy as np\nimport torch\n" + body, inputs="torch.ones(2)", mode="script")
    p = found(a, "script-error", line)
    assert p.mode == "script" and p.severity == "error" and words in (p.message + p.fix)
    assert a.script is not None and a.script.error is not None and a.script.error.line == line
    assert not [q for q in a.pitfalls if q.mode == "trace"]  # mode=script: no trace checks


def test_script_error_in_a_module_without_location(tmp_path: Path) -> None:
    a = analyze(tmp_path, """
        import numpy as np
        import torch
        from torch import nn
        class M(nn.Module):
            def forward(self, x):
                y = x * 2
                return torch.as_tensor(np.clip(y, -1.0, 1.0))
        """, inputs="torch.ones(3)")
    p = found(a, "script-error", 7)
    assert "torch equivalent" in p.fix and "torch.jit.trace works" in p.fix


def test_locate_script_failure_follows_helpers() -> None:
    src = _src("""
        import numpy as np
        import torch
        def _helper(t):
            return np.exp(t)
        def f(x):
            return _helper(x) + 1
        """)
    assert st.locate_script_failure("cannot create weak reference to 'numpy.ufunc' object", src, entry="f") == 4


# --------------------------------------------------------------------------- merging and robustness


def test_merge_keeps_the_most_severe_and_joins_evidence() -> None:
    a = Pitfall("tensor-to-bool", "trace", "warning", 3, "static words", "fix a", "static")
    b = Pitfall("tensor-to-bool", "trace", "error", 3, "proven", "fix b", "divergence")
    c = Pitfall("tensor-to-bool", "trace", "warning", 3, "warned", "fix c", "tracer-warning")
    (m,) = pitfalls._merge([a, b, c])
    assert (m.severity, m.message, m.evidence) == ("error", "proven", "divergence+tracer-warning+static")


def test_a_crashing_check_does_not_hide_the_others(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JX_PITFALL_DEBUG", raising=False)

    def broken(ctx: pitfalls.Context) -> list[Pitfall]:
        raise RuntimeError("bug in a heuristic")

    monkeypatch.setitem(pitfalls.REGISTRY, "broken-for-test", broken)
    ctx = context(tmp_path, SIGN, inputs=(torch.ones(2),), entry="M")
    got = pitfalls.detect(ctx)
    assert any(p.kind == "tensor-to-bool" and p.line == 12 for p in got)


def test_analyze_callable_in_process_without_source(tmp_path: Path) -> None:
    def f(x: torch.Tensor) -> torch.Tensor:
        return x * 2 if x.sum() > 0 else x

    a = analyze_callable(f, (torch.ones(2),), file="inline.py", entry="f")
    assert a.ok and all(p.kind in PITFALL_KINDS and p.message and p.fix for p in a.pitfalls)
