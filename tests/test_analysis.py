from __future__ import annotations

from pathlib import Path

from jit_explorer.analysis import analyze_model, analyze_source_here


def test_zoo_report_has_model_and_weights() -> None:
    r = analyze_model("sign_branch")
    d = r.to_dict()
    assert d["model"] == "sign_branch" and d["weights"] == "random"
    assert d["trace"]["ok"] and d["script"]["ok"]
    assert any(p["kind"] == "tensor-to-bool" and p["line"] for p in d["pitfalls"])
    assert any("Random weights" in n for n in d["notes"])
    assert d["file"] == "jit_explorer/zoo.py"  # the package-relative file, never a path of this machine


def test_source_analysis_in_process(tmp_path: Path) -> None:
    src = "import torch\n\ndef f(x):\n    return x.item() * x\n"
    (a,) = analyze_source_here(src, workdir=tmp_path, inputs="torch.ones(1)")
    assert a.ok and a.entry == "f"
    assert any(p.kind == "tensor-to-number" and p.line == 4 for p in a.pitfalls)


def test_source_errors_are_analyses_not_exceptions(tmp_path: Path) -> None:
    (a,) = analyze_source_here("import torch\nraise ValueError('boom')\ndef f(x):\n    return x\n", workdir=tmp_path,
                               inputs="torch.ones(1)")
    assert not a.ok and a.error.kind == "import" and a.error.line == 2 and "boom" in a.error.message
    (b,) = analyze_source_here("def f(x):\n    return x.nope()\n", workdir=tmp_path, inputs="torch.ones(1)")
    assert not b.ok and b.error.kind == "run" and b.error.line == 2
    assert str(tmp_path) not in b.error.message


def test_catalogue_models_skip_only_the_dynamic_checks() -> None:
    r = analyze_model("gru")
    assert any("dynamic" in n for n in r.notes)
    teaching = analyze_model("sign_branch")
    assert not any("dynamic eager-vs-trace" in n for n in teaching.notes)
    assert any(p.evidence.find("divergence") >= 0 for p in teaching.pitfalls)
