"""The CLI through a real subprocess: output formats and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JIT_EXPLORER_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "jit_explorer", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=ROOT, stdin=subprocess.DEVNULL)


def test_zoo_json() -> None:
    p = run("zoo", "--json")
    assert p.returncode == 0
    names = [r["name"] for r in json.loads(p.stdout)]
    assert "resnet18" in names and "bert-base-uncased" in names


def test_convert_resnet18_json_offline() -> None:
    p = run("convert", "--model", "resnet18", "--mode", "both", "--json")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["model"] == "resnet18" and d["weights"] == "random"
    assert d["trace"]["ok"] and d["script"]["ok"]
    assert "aten::conv2d" in d["trace"]["inlined_graph"] or "aten::_convolution" in d["trace"]["inlined_graph"]
    assert d["script"]["optimized_graph"].startswith("graph(")


@pytest.mark.slow
def test_convert_bert_json_offline() -> None:
    p = run("convert", "--model", "bert-base-uncased", "--mode", "both", "--json")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["trace"]["ok"] and not d["script"]["ok"]
    assert "transformers" in d["script"]["error"]["message"]


def test_convert_human_output_shows_the_chosen_view() -> None:
    p = run("convert", "--model", "sign_branch", "--show", "code")
    assert p.returncode == 0
    assert "torch.jit.trace: ok" in p.stdout and "def forward" in p.stdout
    assert "tensor-to-bool" in p.stdout
    assert run("convert", "--model", "sign_branch", "--strict").returncode == 1


@pytest.mark.parametrize(
    "args",
    [("convert", "--model", "nope"), ("convert",), ("convert", "--model", "resnet18", "--mode", "x"), ("bogus",),
     ("analyze", "/no/such/file.py")],
)
def test_bad_usage_is_one_line_exit_2(args: tuple[str, ...]) -> None:
    p = run(*args)
    assert p.returncode == 2
    assert len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr


def test_analyze_lints_like_a_linter(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import torch\n\n\ndef f(x):\n    if x.sum() > 0:\n        return x + 1\n    return x\n\n\n"
                   "def example_inputs():\n    return (torch.ones(3),)\n")
    clean = tmp_path / "clean.py"
    clean.write_text("import torch\n\n\ndef g(x):\n    return torch.relu(x) * 2\n\n\n"
                     "def example_inputs():\n    return (torch.ones(3),)\n")
    p = run("analyze", str(bad), str(clean))
    assert p.returncode == 0
    assert f"{bad}:5: error tensor-to-bool [trace]:" in p.stdout  # proven by divergence: an error
    assert str(clean) not in p.stdout
    assert run("analyze", str(bad), "--strict").returncode == 1
    assert run("analyze", str(clean), "--strict").returncode == 0
    j = run("analyze", str(bad), "--json")
    d = json.loads(j.stdout)
    assert d["entry"] == "f" and d["file"] == str(bad)
    assert any(pf["line"] == 5 and pf["kind"] == "tensor-to-bool" for pf in d["pitfalls"])


def test_analyze_bad_file_exit_2(tmp_path: Path) -> None:
    f = tmp_path / "broken.py"
    f.write_text("def f(:\n")
    p = run("analyze", str(f))
    assert p.returncode == 2 and "syntax error on line 1" in p.stdout + p.stderr
    assert "Traceback" not in p.stderr


def test_bench_json_and_markdown() -> None:
    p = run("bench", "--model", "sign_branch", "--modes", "eager,trace", "--threads", "1", "--json")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert {"model", "device", "device_name", "threads", "torch_version", "batch", "input", "peak_gflops",
            "notes", "results"} <= set(d)
    assert d["threads"] == 1 and [r["mode"] for r in d["results"]] == ["eager", "trace"]
    assert all(r["ok"] and r["runs"] > 0 for r in d["results"])
    bad = run("bench", "--model", "sign_branch", "--modes", "eager,warp")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "warp" in bad.stderr
