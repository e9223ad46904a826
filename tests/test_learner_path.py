"""Issue 17, the learner's path: the CLI and library halves of its fourteen points.

The browser halves are in tests/test_learner_browser.py. Each test names its point.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: the PyTorch tutorial's RNN: the helper cell comes first, the model that example_inputs() fits second
RNN_TUTORIAL = '''import torch


class MyCell(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(4, 4)

    def forward(self, x, h):
        new_h = torch.tanh(self.linear(x) + h)
        return new_h, new_h


class MyRNNLoop(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.cell = MyCell()

    def forward(self, xs):
        h, y = torch.zeros(3, 4), torch.zeros(3, 4)
        for i in range(xs.size(0)):
            y, h = self.cell(xs[i], h)
        return y, h


def example_inputs():
    return (torch.rand(10, 3, 4),)
'''

#: a class that needs constructor arguments, then two functions with a real `if x.sum() > 0` pitfall each
ONE_BAD_ENTRY = '''import torch


class NeedsArgs(torch.nn.Module):
    def __init__(self, width):
        super().__init__()
        self.width = width

    def forward(self, x):
        return x * self.width


def first(x):
    if x.sum() > 0:
        return x + 1
    return x - 1


def second(x):
    if x.sum() > 0:
        return x * 2
    return x
'''


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JIT_EXPLORER_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "jit_explorer", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=ROOT, stdin=subprocess.DEVNULL)


# ------------------------------------------------------------------ 1. entry choice


def test_point1_the_entry_example_inputs_fits_is_chosen_and_the_reason_given() -> None:
    from jit_explorer.entry_choice import choose_entry

    choice = choose_entry(RNN_TUTORIAL)
    assert choice is not None and choice.entry.name == "MyRNNLoop"
    assert "example_inputs()" in choice.reason and "MyCell" in choice.reason


def test_point1_without_example_inputs_the_top_level_module_is_chosen() -> None:
    from jit_explorer.entry_choice import choose_entry

    source = RNN_TUTORIAL.rsplit("def example_inputs", 1)[0]
    choice = choose_entry(source)
    assert choice is not None and choice.entry.name == "MyRNNLoop"
    assert "top-level module" in choice.reason


def test_point1_the_paste_api_analyses_the_chosen_entry_and_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JX_ALLOW_PASTE", "1")
    from app import handlers

    report = handlers.analyze_code(RNN_TUTORIAL, entry="", inputs="", mode="trace")
    assert report["ok"], report["error"]
    assert report["entry"] == "MyRNNLoop"
    assert any("MyRNNLoop was chosen" in n for n in report["notes"])
    update = handlers.ui_entries(RNN_TUTORIAL, "clamp_sign")
    assert update["value"] == "MyRNNLoop" and "example_inputs()" in update["info"]


# ------------------------------------------------------------------ 2. one bad entry does not sink the file


def test_point2_cli_analyses_the_other_entries_and_reports_the_bad_one_as_skipped(tmp_path: Path) -> None:
    f = tmp_path / "mixed.py"
    f.write_text(ONE_BAD_ENTRY)
    p = cli("analyze", str(f), "--inputs", "torch.randn(3, 4)", "--mode", "trace")
    assert p.returncode == 0, p.stderr
    assert p.stdout.count("tensor-to-bool") == 2
    assert f"{f}:4: skipped NeedsArgs (constructor)" in p.stdout
    assert "2 entries analysed, 2 pitfalls, 1 skipped" in p.stderr
    strict = cli("analyze", str(f), "--inputs", "torch.randn(3, 4)", "--mode", "trace", "--strict")
    assert strict.returncode == 1  # the pitfalls found, not the skipped entry, decide


def test_point2_exit_2_stays_for_bad_usage_and_for_a_file_nothing_could_be_analysed_in(tmp_path: Path) -> None:
    f = tmp_path / "mixed.py"
    f.write_text(ONE_BAD_ENTRY)
    assert cli("analyze", str(tmp_path / "missing.py")).returncode == 2
    only_bad = cli("analyze", str(f), "--inputs", "torch.randn(3, 4)", "--entry", "NeedsArgs", "--mode", "trace")
    assert only_bad.returncode == 2 and "constructor arguments (width)" in only_bad.stderr
    js = cli("analyze", str(f), "--inputs", "torch.randn(3, 4)", "--mode", "trace", "--json")
    assert js.returncode == 0, js.stderr
    objs = json.loads(js.stdout)
    assert [o["entry"] for o in objs] == ["NeedsArgs", "first", "second"]
    assert [o["ok"] for o in objs] == [False, True, True]
