from __future__ import annotations

from pathlib import Path

import pytest
import torch

from jit_explorer import snippet
from jit_explorer.errors import SnippetError

SRC = '''import torch
from torch import nn
from torch.nn import Linear


class Base(nn.Module):
    def forward(self, x):
        return x


class Child(Base):
    pass


class NeedsArgs(nn.Module):
    def __init__(self, width):
        super().__init__()


class NotAModule:
    pass


def f(x):
    return x + 1


def _private(x):
    return x


def example_inputs():
    return torch.ones(2)
'''


def test_entries_are_top_level_functions_and_module_subclasses() -> None:
    info = snippet.parse_source(SRC)
    assert info.names() == ["Base", "Child", "NeedsArgs", "f"]
    assert info.has_example_inputs
    assert [e.kind for e in info.entries] == ["module", "module", "module", "function"]
    assert info.entries[-1].line == 24


@pytest.mark.parametrize(
    ("source", "match", "line"),
    [
        ("", "empty", None),
        ("   \n\n", "empty", None),
        ("x = 1\x00", "NUL", None),
        ("def f(:\n    pass\n", "syntax error on line 1", 1),
        ("import torch\n\n\ndef f(x)\n    return x\n", "syntax error on line 4", 4),
        ("x" * (snippet.MAX_SOURCE_BYTES + 1), "limit is 256 KB", None),
    ],
)
def test_bad_sources_get_specific_messages(source: str, match: str, line: int | None) -> None:
    with pytest.raises(SnippetError, match=match) as info:
        snippet.parse_source(source)
    assert info.value.line == line


def test_select_entries() -> None:
    info = snippet.parse_source(SRC)
    assert [e.name for e in snippet.select_entries(info, "f")] == ["f"]
    assert len(snippet.select_entries(info, "")) == 4
    with pytest.raises(SnippetError, match="not found; the source defines: Base, Child, NeedsArgs, f"):
        snippet.select_entries(info, "g")
    with pytest.raises(SnippetError, match="no entry found"):
        snippet.select_entries(snippet.parse_source("x = 1\n"), "")


def test_load_build_and_inputs(tmp_path: Path) -> None:
    module, path = snippet.load_module(SRC, tmp_path)
    assert path.read_text() == SRC
    info = snippet.parse_source(SRC)
    by_name = {e.name: e for e in info.entries}
    base = snippet.build_entry(module, by_name["Base"])
    assert isinstance(base, torch.nn.Module) and not base.training
    assert snippet.build_entry(module, by_name["f"])(torch.ones(1)).item() == 2
    with pytest.raises(SnippetError, match=r"needs constructor arguments \(width\)") as e:
        snippet.build_entry(module, by_name["NeedsArgs"])
    assert e.value.line == 15
    assert snippet.eval_inputs("", module)[0].shape == (2,)
    assert len(snippet.eval_inputs("torch.ones(2), torch.zeros(3)", module)) == 2
    with pytest.raises(SnippetError, match="not valid Python"):
        snippet.eval_inputs("torch.ones(", module)
    with pytest.raises(SnippetError, match="inputs expression failed: NameError"):
        snippet.eval_inputs("undefined_name", module)


def test_missing_example_inputs_says_what_to_do(tmp_path: Path) -> None:
    module, _ = snippet.load_module("def f(x):\n    return x\n", tmp_path)
    with pytest.raises(SnippetError, match="example_inputs"):
        snippet.eval_inputs("", module)


def test_failing_example_inputs_has_its_line(tmp_path: Path) -> None:
    module, _ = snippet.load_module("def example_inputs():\n    return 1 / 0\n", tmp_path)
    with pytest.raises(SnippetError, match="ZeroDivisionError") as e:
        snippet.eval_inputs("", module)
    assert e.value.line == 2
