"""``analyze --static-only``: the source checks alone, without running the code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jit_explorer import static_only
from jit_explorer.cli import main
from jit_explorer.pitfalls import REGISTRY

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def kinds_at(source: str, **kw: str) -> set[tuple[str, int | None]]:
    return {(p.kind, p.line) for a in static_only.analyze_source(source, **kw) for p in a.pitfalls}


def test_static_checks_are_registered_checks() -> None:
    assert static_only.STATIC_CHECKS and set(static_only.STATIC_CHECKS) <= set(REGISTRY)


@pytest.mark.parametrize(("fixture", "expected"), [
    ("pitfalls/p01_sign_branch.py", ("tensor-to-bool", 7)),
    ("pitfalls/p02_item_normalize.py", ("tensor-to-number", 6)),
    ("pitfalls/p15_python_random.py", ("nondeterministic", 8)),
    ("pitfalls/p19_dict_output.py", ("container-output", 8)),
    ("pitfalls/p25_submodule_branch.py", ("tensor-to-bool", 8)),  # an nn.Module entry and its submodule
])
def test_finds_the_pitfall_on_its_line(fixture: str, expected: tuple[str, int]) -> None:
    found = kinds_at((FIXTURES / fixture).read_text())
    assert expected in found


@pytest.mark.parametrize("fixture", ["clean/c05_torch_where.py", "clean/c03_view_batch.py", "clean/c08_module_list.py"])
def test_clean_code_stays_clean(fixture: str) -> None:
    assert kinds_at((FIXTURES / fixture).read_text()) == set()


def test_nothing_is_executed(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    source = (f"import torch\nopen({str(marker)!r}, 'w').write('x')\nraise SystemExit(3)\n\n\n"
              "def f(x):\n    return x.item() + 1\n")
    [a] = static_only.analyze_source(source, filename="m.py")
    assert a.ok and [(p.kind, p.line) for p in a.pitfalls] == [("tensor-to-number", 7)]
    assert a.trace is None and a.script is None and static_only.STATIC_NOTE in a.notes
    assert not marker.exists()


def test_modes_without_trace_have_no_trace_pitfalls() -> None:
    source = (FIXTURES / "pitfalls/p01_sign_branch.py").read_text()
    assert kinds_at(source, mode="script") == set()
    assert kinds_at(source, mode="trace") == kinds_at(source, mode="both") != set()


def test_unreadable_source_is_a_failed_analysis() -> None:
    [a] = static_only.analyze_source("import torch\ndef f(x:\n", filename="m.py")
    assert not a.ok and a.error is not None and a.error.kind == "syntax" and a.error.line == 2
    [b] = static_only.analyze_source("import torch\ndef f(x):\n    return x\n", entry="g", filename="m.py")
    assert not b.ok and b.error is not None and b.error.kind == "no-entry"


def test_imports_torch() -> None:
    assert static_only.imports_torch("import torch\n")
    assert static_only.imports_torch("import numpy as np\nfrom torch import nn\n")
    assert static_only.imports_torch("def f():\n    import torch.nn.functional as F\n")
    assert not static_only.imports_torch("import torchvision_like\nimport numpy\n")
    assert not static_only.imports_torch("from .torch import x\n")
    assert not static_only.imports_torch("def broken(:\n")


def test_cli_static_only_and_torch_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    Path("m.py").write_text("import torch\n\n\ndef f(x):\n    if x.sum() > 0:\n        return x\n    return -x\n")
    Path("plain.py").write_text("def g(x):\n    if x > 0:\n        return 1\n    return 0\n")
    assert main(["analyze", "m.py", "plain.py", "--static-only", "--only-torch-files", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["file"] == "m.py" and [(p["kind"], p["line"], p["evidence"]) for p in d["pitfalls"]] == [
        ("tensor-to-bool", 5, "static")]
    assert main(["analyze", "m.py", "plain.py", "--static-only", "--only-torch-files", "--strict"]) == 1
    out = capsys.readouterr().out
    assert "m.py:5: warning tensor-to-bool" in out and "plain.py" not in out
    assert main(["analyze", "plain.py", "--static-only", "--only-torch-files", "--strict"]) == 0
