"""The optimizer diff on real IR: a scripted MLP run three times, and trace vs script of a branch."""

from __future__ import annotations

import re
import warnings

import pytest
import torch

from jit_explorer import zoo
from jit_explorer.irdiff import CHANGE_KINDS, IRDiff, diff_ir, normalise_ir, optimizer_diff


class MLP(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = torch.nn.Linear(4, 8)
        self.fc2 = torch.nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.fc1(x))
        h = h * 2.0 + 1.0
        return torch.sigmoid(self.fc2(h))


class InferenceMLP(MLP):
    """Its own class: TorchScript shares one executor (and its plan) between instances of a class."""


def _scripted_views(*, grad: bool) -> dict[str, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = torch.jit.script((MLP() if grad else InferenceMLP()).eval())
    x = torch.randn(3, 4)
    ctx = torch.enable_grad() if grad else torch.inference_mode()
    with ctx:
        for _ in range(3):
            m(x)
    return {"graph": str(m.graph), "inlined": str(m.inlined_graph),
            "optimized": str(torch.jit.last_executed_optimized_graph())}


@pytest.fixture(scope="module")
def grad_views() -> dict[str, str]:
    return _scripted_views(grad=True)


def test_optimized_mlp_with_grad_shows_group_guard_and_fallback(grad_views: dict[str, str]) -> None:
    d = optimizer_diff(grad_views)
    assert isinstance(d, IRDiff) and (d.before_label, d.after_label) == ("inlined", "optimized")
    kinds = {(c.kind, c.op) for c in d.changes}
    assert ("fused", "prim::DifferentiableGraph") in kinds
    assert ("guard", "prim::RequiresGradCheck") in kinds
    fused = next(c for c in d.changes if c.op == "prim::DifferentiableGraph")
    assert "aten::linear ×2" in fused.explanation and "aten::relu" in fused.explanation
    assert fused.lines and "DifferentiableGraph" in grad_views["optimized"].splitlines()[fused.lines[0] - 1]
    assert any(c.kind == "specialized" for c in d.changes)  # Float(3, 4, strides=...) from profiling
    assert [c.kind for c in d.changes] == sorted((c.kind for c in d.changes), key=CHANGE_KINDS.index)
    assert d.added > 0 and not d.identical
    js = d.to_dict()
    assert js["changes"] and js["lines"][0]["tag"] in "=-+" and js["after_kinds"]["prim::DifferentiableGraph"] == 1


def test_values_are_renamed_consistently_and_comments_dropped(grad_views: dict[str, str]) -> None:
    d = diff_ir(grad_views["inlined"], grad_views["optimized"])
    text = "\n".join(line.text for line in d.lines)
    assert "# " not in text and "mangle" not in text
    assert not re.search(r"%(?!v\d+\b)[\w.]+", text), "every value is %vN"
    # the unchanged GetAttr lines keep one name on both sides: they are '=' lines, not -/+ pairs
    same = [line for line in d.lines if line.tag == "=" and "prim::GetAttr" in line.text]
    assert len(same) >= 2


def test_inference_mode_graph_is_nearly_unchanged() -> None:
    views = _scripted_views(grad=False)
    d = optimizer_diff(views)
    assert d is not None
    assert not any(c.kind in ("fused", "guard") for c in d.changes)
    # only constants move (pooled/hoisted) and types get specialised
    assert {c.kind for c in d.changes} <= {"folded-constant", "specialized", "removed"}


def test_identical_after_renaming() -> None:
    a = "graph(%x.1 : Tensor):\n  %y.3 : Tensor = aten::relu(%x.1) # a.py:2:4\n  return (%y.3)\n"
    b = "graph(%inp : Tensor):\n  %7 : Tensor = aten::relu(%inp)\n  return (%7)\n"
    d = diff_ir(a, b)
    assert d.identical and d.changes == ()
    assert normalise_ir(a) == normalise_ir(b)


def test_trace_vs_script_shows_the_frozen_branch() -> None:
    m = zoo.load("sign_branch", allow_download=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(m.module, m.inputs(), check_trace=False)
        scripted = torch.jit.script(m.module)
    d = diff_ir(str(traced.graph), str(scripted.graph), before_label="trace", after_label="script")
    added = {c.op for c in d.changes if c.kind == "added"}
    assert "prim::If" in added and "aten::Bool" in added
    if_change = next(c for c in d.changes if c.op == "prim::If")
    assert "script" in if_change.explanation
    back = diff_ir(str(scripted.graph), str(traced.graph), before_label="script", after_label="trace")
    removed_if = next(c for c in back.changes if c.op == "prim::If")
    assert removed_if.kind == "removed" and "path taken" in removed_if.explanation


def test_optimizer_diff_needs_both_views() -> None:
    assert optimizer_diff({"graph": "graph():\n  return ()\n"}) is None
    assert optimizer_diff({"graph_legacy": "x"}) is None
    d = optimizer_diff({"inlined_graph": "graph(%x : Tensor):\n  return (%x)\n",
                        "optimized_graph": "graph(%x : Tensor):\n  return (%x)\n"})
    assert d is not None and d.identical and d.before_label == "inlined"


def test_synthetic_profiling_bailout_and_inlining() -> None:
    before = ("graph(%self : __torch__.M, %x.1 : Tensor):\n"
              '  %fc : __torch__.L = prim::GetAttr[name="fc"](%self)\n'
              '  %3 : Tensor = prim::CallMethod[name="forward"](%fc, %x.1)\n'
              "  return (%3)\n")
    after = ("graph(%self : __torch__.M, %x.1 : Tensor):\n"
             "  %9 : Tensor = prim::profile[profiled_type=Float(2, strides=[1], requires_grad=0, device=cpu)](%x.1)\n"
             "  %10 : Tensor = prim::BailOut[index=0](%9)\n"
             "  %3 : Tensor = aten::relu(%10)\n"
             "  return (%3)\n")
    d = diff_ir(before, after, before_label="graph")
    kinds = {c.kind: c for c in d.changes}
    assert {"profiling", "bailout", "inlined", "added", "removed"} <= set(kinds)
    assert kinds["inlined"].op == "prim::CallMethod" and kinds["inlined"].lines == (3,)
    assert kinds["profiling"].lines == (2,)


# --- the app's diff view (app/irdiff_view.py): pure HTML from a mode result ------------------------


def test_optimizer_diff_html_from_a_mode_result(grad_views: dict[str, str]) -> None:
    from app.irdiff_view import optimizer_diff_html, trace_script_diff_html

    n_opt = grad_views["optimized"].count("\n") + 1
    n_inl = grad_views["inlined"].count("\n") + 1
    res = {"ok": True, "views": grad_views,
           "source_lines": {"optimized": [7] * n_opt, "inlined": [3] * n_inl}}
    out = optimizer_diff_html(res, mode="script")
    assert "data-change='fused'" in out and "prim::DifferentiableGraph" in out
    assert "jx-add" in out and 'data-src-line="7"' in out
    assert 'data-op="prim::RequiresGradCheck"' in out  # op docs in the diff too
    assert "jx-empty" in optimizer_diff_html(None) and "failed" in optimizer_diff_html({"ok": False})
    same = {"ok": True, "views": {"graph": "graph(%x : Tensor):\n  return (%x)\n",
                                  "optimized": "graph(%y : Tensor):\n  return (%y)\n"}}
    assert "No change" in optimizer_diff_html(same)
    report = {"trace": {"ok": True,
                        "views": {"graph": "graph(%x : Tensor):\n  %1 : Tensor = aten::relu(%x)\n  return (%1)\n"}},
              "script": {"ok": True,
                         "graph": "graph(%x : Tensor):\n  %1 : Tensor = aten::sigmoid(%x)\n  return (%1)\n"}}
    ts = trace_script_diff_html(report)
    assert "jx-del" in ts and "jx-add" in ts and "aten::sigmoid" in ts
