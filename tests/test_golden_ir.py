"""Golden IR: the trace/script graph and code of the teaching modules and the GRU.

The IR is normalised before it is compared (see :func:`normalise`): TorchScript's
``___torch_mangle_N.`` class-name prefixes (they depend on what the process
compiled before) are removed, temp and install paths are replaced, and lines of
``jit_explorer/zoo.py`` are written relative to the class they are in (so that
editing another model in the zoo does not change these files). Value numbering
(``%4``, ``%x.1``) is kept: it is deterministic.

Regenerate after an intended change with::

    UPDATE_GOLDEN=1 PYTHONPATH=. JIT_EXPLORER_OFFLINE=1 .venv/bin/python -m pytest -q tests/test_golden_ir.py

and review the diff of ``tests/golden/`` before committing it.
"""

from __future__ import annotations

import difflib
import inspect
import os
import re
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from jit_explorer import zoo
from jit_explorer.convert import Conversion, convert

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
REPO_ROOT = Path(__file__).resolve().parent.parent
MODELS = ("sign_branch", "running_loop", "gru")
VIEWS = (("trace", "graph"), ("trace", "code"), ("script", "graph"), ("script", "code"))
UPDATE = os.environ.get("UPDATE_GOLDEN", "") not in ("", "0")

_MANGLE_RE = re.compile(r"___torch_mangle_\d+\.")
_SITE_RE = re.compile(r"(?:/[^\s\"',:()]+)?/(?:site|dist)-packages/")
_ZOO_LINE_RE = re.compile(r"jit_explorer/zoo\.py:(\d+)")


def _zoo_classes() -> list[tuple[str, int, int]]:
    """``(name, first line, last line)`` of every class defined in ``jit_explorer/zoo.py``."""
    spans = []
    for name, obj in vars(zoo).items():
        if inspect.isclass(obj) and obj.__module__ == zoo.__name__:
            lines, start = inspect.getsourcelines(obj)
            spans.append((name, start, start + len(lines) - 1))
    return spans


def _relative_zoo_line(match: re.Match[str], spans: list[tuple[str, int, int]]) -> str:
    line = int(match.group(1))
    for name, start, end in spans:
        if start <= line <= end:
            return f"jit_explorer/zoo.py:<{name}+{line - start}>"
    return match.group(0)


def normalise(text: str) -> str:
    """Make IR comparable across processes, machines and checkouts (see the module docstring)."""
    text = _MANGLE_RE.sub("", text)
    text = text.replace(str(REPO_ROOT) + os.sep, "")
    for tmp in {tempfile.gettempdir(), "/tmp", "/var/tmp"}:
        text = re.sub(re.escape(tmp) + r"/(?:[^\s:\"'/]+/)*", "<tmp>/", text)
    text = _SITE_RE.sub("", text)
    stdlib = sysconfig.get_paths()["stdlib"]
    text = text.replace(stdlib + os.sep, "<stdlib>/").replace(sys.prefix + os.sep, "<prefix>/")
    spans = _zoo_classes()
    text = _ZOO_LINE_RE.sub(lambda m: _relative_zoo_line(m, spans), text)
    return text.rstrip("\n") + "\n"


@pytest.fixture(scope="module")
def conversions() -> Iterator[dict[str, Conversion]]:
    """Each golden model converted once (trace and script)."""
    done = {}
    for name in MODELS:
        loaded = zoo.load(name, allow_download=False)
        done[name] = convert(loaded.module, loaded.inputs(), mode="both")
    yield done


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize(("mode", "view"), VIEWS)
def test_golden_ir(conversions: dict[str, Conversion], model: str, mode: str, view: str) -> None:
    result = getattr(conversions[model], mode)
    assert result is not None and result.ok, f"{model} {mode} failed: {result.error if result else None}"
    actual = normalise(getattr(result, view))
    path = GOLDEN_DIR / f"{model}.{mode}.{view}.txt"
    if UPDATE:
        GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"{path} is missing: regenerate with UPDATE_GOLDEN=1 (see {Path(__file__).name})"
    expected = path.read_text(encoding="utf-8")
    if actual != expected:
        diff = "".join(difflib.unified_diff(
            expected.splitlines(keepends=True), actual.splitlines(keepends=True),
            fromfile=f"golden/{path.name}", tofile="actual",
        ))
        pytest.fail(f"IR differs from {path.name} (UPDATE_GOLDEN=1 regenerates it if intended):\n{diff}")


def test_normalise_removes_mangles_and_paths() -> None:
    raw = (
        "graph(%self : __torch__.jit_explorer.zoo.___torch_mangle_648.SignBranch):\n"
        f"  %1 : int = prim::Constant[value=1]() # {tempfile.gettempdir()}/jx_abc123/snippet.py:3:8\n"
        "  %2 : int = prim::Constant[value=2]() # /opt/venv/lib/python3.12/site-packages/torch/nn/functional.py:12:0\n"
    )
    out = normalise(raw)
    assert "___torch_mangle" not in out
    assert "__torch__.jit_explorer.zoo.SignBranch" in out
    assert "# <tmp>/snippet.py:3:8" in out
    assert "# torch/nn/functional.py:12:0" in out


def test_zoo_lines_are_relative_to_their_class() -> None:
    start = inspect.getsourcelines(zoo.SignBranch)[1]
    out = normalise(f"  %5 : int = prim::Constant[value=0]() # jit_explorer/zoo.py:{start + 4}:21\n")
    assert "# jit_explorer/zoo.py:<SignBranch+4>:21" in out
