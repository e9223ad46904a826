"""The package: pyproject.toml agrees with requirements.txt, and a wheel built from the checkout works elsewhere."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _pins(lines: list[str]) -> dict[str, str]:
    """``name -> version`` (names normalised, extras dropped) of ``name[extra]==version`` requirements."""
    pins = {}
    for line in lines:
        line = line.split("#")[0].strip()
        if not line or line.startswith("-"):
            continue
        m = re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[^\]]*\])?==([^\s;]+)", line)
        assert m, f"not pinned with ==: {line!r}"
        pins[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(3)
    return pins


def test_requirements_txt_pins_what_pyproject_pins() -> None:
    project = PYPROJECT["project"]
    extras = [r for extra in project["optional-dependencies"].values() for r in extra]
    declared = _pins(project["dependencies"] + extras)
    listed = _pins((ROOT / "requirements.txt").read_text().splitlines())
    assert declared == listed
    assert "gradio[mcp]==6.31.0" in project["optional-dependencies"]["app"]
    assert "gradio" not in _pins(project["dependencies"]), "the library never imports gradio: it is the [app] extra"
    assert project["scripts"]["jit-explorer"] == "jit_explorer.cli:main"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built from a copy of the files an sdist has (the checkout itself stays untouched)."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "jit_explorer", src / "jit_explorer", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("dist")
    p = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                        "--disable-pip-version-check", "-q", "-w", str(out), str(src)],
                       capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr[-3000:]
    [whl] = out.glob("jit_explorer-*.whl")
    return whl


def test_wheel_holds_the_library_and_its_data(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "jit_explorer/data/bert-base-uncased-vocab.txt" in names and "jit_explorer/cli.py" in names
    subpackages = {p.parent.name for p in (ROOT / "jit_explorer").glob("*/__init__.py")}
    assert all(f"jit_explorer/{s}/__init__.py" in names for s in subpackages)
    assert not [n for n in names if n.startswith(("app/", "tests/", "benchmarks/", "assets/"))]
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "jit-explorer = jit_explorer.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh venv with the wheel installed (``--no-deps``); its dependencies come from this interpreter's
    site-packages through a ``.pth`` line (plain paths: the checkout's editable install is not picked up)."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "zz_project_deps.pth").write_text("".join(f"{d}\n" for d in sorted(deps)))
    p = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index",
                        "--disable-pip-version-check", "-q", str(wheel)],
                       capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr[-3000:]
    yield venv


def _run(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(JIT_EXPLORER_OFFLINE="1", HF_HUB_OFFLINE="1", PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}")
    return subprocess.run(list(args), capture_output=True, text=True, timeout=300, cwd=cwd, env=env,
                          stdin=subprocess.DEVNULL)


@pytest.mark.slow
def test_installed_console_script_runs_outside_the_checkout(installed: Path, tmp_path: Path) -> None:
    where = _run(installed, "python", "-c", "import jit_explorer, jit_explorer.zoo as z; "
                 "print(jit_explorer.__file__); print(z.BERT_VOCAB.is_file())", cwd=tmp_path)
    assert where.returncode == 0, where.stderr
    module_file, vocab_ok = where.stdout.split()
    assert Path(module_file).is_relative_to(installed) and vocab_ok == "True"  # the wheel's copy, with its data

    zoo = _run(installed, "jit-explorer", "zoo", "--json", cwd=tmp_path)
    assert zoo.returncode == 0, zoo.stderr
    assert {"resnet18", "bert-base-uncased"} <= {r["name"] for r in json.loads(zoo.stdout)}

    (tmp_path / "m.py").write_text("import torch\n\n\ndef f(x):\n    if x.sum() > 0:\n        return x\n"
                                   "    return -x\n\n\ndef example_inputs():\n    return (torch.ones(3),)\n")
    lint = _run(installed, "jit-explorer", "analyze", "m.py", "--static-only", "--strict", cwd=tmp_path)
    assert lint.returncode == 1 and "m.py:5: warning tensor-to-bool" in lint.stdout, lint.stderr
    full = _run(installed, "jit-explorer", "analyze", "m.py", "--json", cwd=tmp_path)  # the sandbox, from the wheel
    assert full.returncode == 0, full.stderr
    assert ("tensor-to-bool", 5) in {(p["kind"], p["line"]) for p in json.loads(full.stdout)["pitfalls"]}
    conv = _run(installed, "jit-explorer", "convert", "--model", "sign_branch", "--mode", "trace", "--json",
                cwd=tmp_path)
    assert conv.returncode == 0, conv.stderr
    assert json.loads(conv.stdout)["trace"]["ok"]
    bad = _run(installed, "jit-explorer", "convert", "--model", "nope", cwd=tmp_path)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr

    made = _run(installed, "python", "-c", "import torch; torch.jit.save(torch.jit.trace(lambda x: x * 2 + 1, "
                "torch.ones(3)), 'double.pt')", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    archive = _run(installed, "jit-explorer", "inspect", "double.pt", "--json", cwd=tmp_path)  # sandboxed too
    assert archive.returncode == 0, archive.stderr
    assert json.loads(archive.stdout)["ok"] and "forward" in archive.stdout


def test_pre_commit_hook_runs_the_linter(tmp_path: Path) -> None:
    """The hook's entry, as pre-commit runs it (entry + args + the staged files), with the fast path."""
    import yaml

    [hook] = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "jit-explorer-analyze" and hook["types"] == ["python"] and hook["language"] == "python"
    command = hook["entry"].split()
    assert command[:2] == ["jit-explorer", "analyze"] and "--strict" in command
    (tmp_path / "model.py").write_text("import torch\n\n\ndef f(x):\n    return x.item() + 1\n")
    (tmp_path / "tool.py").write_text("def g(x):\n    if x > 0:\n        return x.item()\n    return 0\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JIT_EXPLORER_OFFLINE": "1"}
    argv = [sys.executable, "-m", "jit_explorer", *command[1:], "--static-only"]
    p = subprocess.run([*argv, "model.py", "tool.py"], capture_output=True, text=True, timeout=300, cwd=tmp_path,
                       env=env, stdin=subprocess.DEVNULL)
    assert p.returncode == 1, p.stderr  # a warning in model.py fails the commit
    assert "model.py:5: warning tensor-to-number" in p.stdout and "tool.py" not in p.stdout  # no torch: skipped
    p = subprocess.run([*argv, "tool.py"], capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env,
                       stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr
