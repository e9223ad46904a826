"""Unit tests of the pitfall checks (in process, on snippets written to a temp module file)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import torch

from jit_explorer import pitfalls, snippet
from jit_explorer.analysis import analyze_callable, analyze_source_here
from jit_explorer.convert import convert
from jit_explorer.pitfalls import checks
from jit_explorer.pitfalls import dynamic as dyn
from jit_explorer.pitfalls.facts import collect_facts
from jit_explorer.pitfalls.index import SourceIndex
from jit_explorer.pitfalls.script_failure import locate_script_failure
from jit_explorer.pitfalls.taint import Cat
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


def context(
    tmp_path: Path, source: str, *, inputs: tuple[Any, ...], entry: str, mode: str = "both"
) -> pitfalls.Context:
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
    idx = SourceIndex(_src("""
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
    a = collect_facts(idx, entry="f")
    assert [(d.line, d.cat) for d in a.decisions] == [(8, Cat.S)]
    assert [(lp.line, lp.how) for lp in a.loops] == [(10, "range-shape")]


def test_facts_follow_their_arguments_on_one_index() -> None:
    """One parsed source, two entries: each call answers for its own entry (no first-call cache)."""
    idx = SourceIndex(_src("""
        import torch
        def f(x):
            if x.sum() > 0:
                return x
            return -x
        def g(x):
            for row in x:
                x = x + row
            return x
        """))
    f_facts, g_facts = collect_facts(idx, entry="f"), collect_facts(idx, entry="g")
    assert [d.line for d in f_facts.decisions] == [3] and not f_facts.loops
    assert [lp.line for lp in g_facts.loops] == [7] and not g_facts.decisions
    assert [f.qualname for f in f_facts.scope] == ["f"] and [f.qualname for f in g_facts.scope] == ["g"]
    ran_only_g = collect_facts(idx, executed={7, 8, 9}, entry="f")  # an eager run decides the scope, not the entry
    assert [f.qualname for f in ran_only_g.scope] == ["g"] and not ran_only_g.decisions


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
    monkeypatch.setattr(checks, "SLOW_CALL_S", -1.0)
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
    assert locate_script_failure("cannot create weak reference to 'numpy.ufunc' object", src, entry="f") == 4


# --------------------------------------------------------------------------- merging and robustness


def test_merge_keeps_the_most_severe_and_joins_evidence() -> None:
    a = Pitfall("tensor-to-bool", "trace", "warning", 3, "static words", "fix a", "static")
    b = Pitfall("tensor-to-bool", "trace", "error", 3, "proven", "fix b", "divergence")
    c = Pitfall("tensor-to-bool", "trace", "warning", 3, "warned", "fix c", "tracer-warning")
    (m,) = checks._merge([a, b, c])
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
    kinds = {p.kind for p in a.pitfalls}
    assert a.ok and "tensor-to-bool" in kinds and kinds <= set(PITFALL_KINDS)  # the tracer's warning, without a source
    assert all(p.message and p.fix for p in a.pitfalls)


# ------------------------------------------------------------------- inputs of any structure, escapes, grad mode


def test_pytree_inputs_are_cloned_varied_and_rebuilt_with_their_types() -> None:
    import dataclasses
    from collections import namedtuple

    Pair = namedtuple("Pair", ["signal", "noise"])

    @dataclasses.dataclass
    class Batch:
        x: torch.Tensor
        scale: float = 2.0

    args = (Pair(torch.ones(2), {"m": torch.zeros(1, 2)}), Batch(torch.ones(3)))
    cloned = dyn.clone_args(args)
    assert type(cloned[0]) is Pair and type(cloned[1]) is Batch and cloned[1].scale == 2.0
    assert cloned[0].signal is not args[0].signal and torch.equal(cloned[0].signal, args[0].signal)
    names = [n for n, _ in dyn.tensor_leaves(args, ["p", "b"])]
    assert names == ["p.signal", "p.noise['m']", "b.x"]
    swapped = dyn.replace_leaves(args, {1: torch.full((1, 2), 7.0)})
    assert type(swapped[0]) is Pair and float(swapped[0].noise["m"].sum()) == 14.0 and swapped[1].x is args[1].x
    vs = list(dyn.variants(args, ["p", "b"]))
    assert all(type(v.args[0]) is Pair and type(v.args[1]) is Batch for v in vs)
    assert any(v.label.startswith("p.noise['m'] with size") for v in vs)
    assert any(v.kind == "size" and v.args[1].x.shape == (4,) for v in vs)


def test_compare_treats_a_python_number_and_a_0_dim_tensor_as_the_trace_checker_does() -> None:
    assert dyn.compare(24, torch.tensor(24)) is None
    assert dyn.compare((torch.ones(2), 6), (torch.ones(2), torch.tensor(6))) is None
    assert dyn.compare(0.1, torch.tensor(0.1)) is None  # float32 of a Python float: within tolerance
    assert dyn.compare(True, torch.tensor(True)) is None
    assert "7" in (dyn.compare(6, torch.tensor(7)) or "")
    assert dyn.compare(6, torch.tensor([6])) is not None  # a 1-d tensor is not a number
    assert dyn.compare(2, 3) is not None and dyn.compare(float("nan"), float("nan")) is None


NAMEDTUPLE_BRANCH = """
    from collections import namedtuple
    from typing import Tuple
    import torch

    Reading = namedtuple("Reading", ["signal", "noise"])

    def denoise(r: Tuple[torch.Tensor, torch.Tensor]):
        signal, noise = r
        if signal.sum() > 0:
            return signal * 2
        return signal - noise
    """


def test_namedtuple_input_is_analysed_and_the_divergence_named(tmp_path: Path) -> None:
    from collections import namedtuple

    Reading = namedtuple("Reading", ["signal", "noise"])
    ctx = context(tmp_path, NAMEDTUPLE_BRANCH, inputs=(Reading(torch.ones(3), torch.ones(3)),), entry="denoise")
    assert ctx.conversion.trace is not None and ctx.conversion.trace.ok
    hits = [p for p in pitfalls.detect(ctx) if p.kind == "tensor-to-bool" and p.line == 9]
    assert hits and "divergence" in hits[0].evidence, [(p.kind, p.line, p.evidence) for p in ctx.found]
    assert "r.signal" in hits[0].message and "with autograd on" in hits[0].message


@pytest.mark.parametrize(("expr", "bad"), [("x.data", True), ("x.detach()", False)])
def test_dot_data_is_frozen_on_its_line_and_detach_is_not(tmp_path: Path, expr: str, bad: bool) -> None:
    src = f"""
        import torch
        def f(x):
            ref = {expr}
            return x + ref * 0.5
        """
    ctx = context(tmp_path, src, inputs=(torch.randn(3, 4),), entry="f")
    found_ = pitfalls.detect(ctx)
    serious_ = [(p.kind, p.line, p.evidence) for p in found_ if p.severity in ("warning", "error")]
    if bad:
        assert ("constant-tensor", 3) in {(k, n) for k, n, _ in serious_}, serious_
        assert all(n is not None for _, n, _ in serious_), serious_  # located, never line null
        assert any(p.kind == "constant-tensor" and "divergence" in p.evidence for p in found_)
    else:
        assert not serious_, serious_


@pytest.mark.parametrize(("body", "line", "owner"), [
    ('    if not hasattr(f, "scale"):\n        f.scale = x.abs().max()\n    return x / f.scale\n', 4, "function `f`"),
    ("    f.calls += 1\n    return x + f.calls\n", 3, "function `f`"),
    ('    setattr(f, "last", x.sum())\n    return x\n', 3, "function `f`"),
    ("    Counter.n += 1\n    return x * Counter.n\n", 3, "class `Counter`"),
    ("    STATE.last = x.mean()\n    return x\n", 3, "global"),
    ("    if 'k' not in MEMO:\n        MEMO['k'] = x.mean()\n    return x - MEMO['k']\n", 4, "global"),
])
def test_state_on_function_class_and_global_attributes(body: str, line: int, owner: str) -> None:
    src = ("import torch\nimport types\nSTATE = types.SimpleNamespace(last=None)\nMEMO = {}\n\n"
           "class Counter:\n    n = 0\n\ndef f(x):\n" + body + "f.calls = 0\n")
    offset = 8  # lines before `def f`
    # the memo branch did not run in the eager call (filled by an earlier call): still reported
    executed = {offset + 1, offset + 2} | ({offset + 4} if "if " in body else {offset + 3})
    facts = collect_facts(SourceIndex(src), executed=executed if "if " in body else None, entry="f")
    sites = list(facts.side_effects)
    assert [s.line for s in sites] == [offset + line - 1], [(s.line, s.what, s.text) for s in sites]
    assert owner in checks._owner(sites[0])


def test_reading_a_function_attribute_is_not_a_side_effect() -> None:
    src = ("import torch\ndef f(x):\n    if hasattr(f, 'scale'):\n        return x * f.scale\n    return x\n"
           "f.scale = 2.0\n")
    assert collect_facts(SourceIndex(src), entry="f").side_effects == ()


GRAD_BRANCH = """
    import torch
    from torch import nn

    class Clip(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(4, 4)

        def forward(self, x):
            h = self.lin(x)
            if h.requires_grad:
                h = h.clamp(-1.0, 1.0)
            return h
    """


def test_eager_reference_runs_in_the_grad_mode_of_the_trace(tmp_path: Path) -> None:
    inputs = (torch.randn(2, 4) * 10.0,)
    ctx = context(tmp_path, GRAD_BRANCH, inputs=inputs, entry="Clip")
    assert checks._grad(ctx) is True  # torch.jit.trace ran with autograd on (the default)
    assert not [p for p in pitfalls.detect(ctx) if p.severity in ("warning", "error")]
    # the old behaviour (eager under no_grad) sees a difference the trace does not have, and says so
    wrong = context(tmp_path, GRAD_BRANCH, inputs=inputs, entry="Clip")
    wrong.extra["grad_enabled"] = False
    alarms = [p for p in pitfalls.detect(wrong) if p.severity == "error"]
    assert alarms and all("under torch.no_grad()" in p.message for p in alarms if "divergence" in p.evidence)
