"""``analyze --format sarif``: one SARIF 2.1.0 log, valid against the OASIS schema, pointing at the right lines."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from jit_explorer import report, sarif
from jit_explorer.cli import main
from jit_explorer.report import Analysis, Pitfall

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((Path(__file__).resolve().parent / "sarif-schema-2.1.0.json").read_text())

BAD = ("import torch\n"
       "\n"
       "\n"
       "def f(x):\n"
       "    if x.sum() > 0:\n"           # line 5: tensor-to-bool, `x.sum() > 0` at column 8
       "        return x + x.max().item()\n"  # line 6: tensor-to-number, `x.max().item()` at column 20
       "    return x\n"
       "\n"
       "\n"
       "def example_inputs():\n"
       "    return (torch.ones(3),)\n")


def validate(log: dict[str, Any]) -> None:
    jsonschema.Draft4Validator.check_schema(SCHEMA)
    jsonschema.Draft4Validator(SCHEMA).validate(log)


def results_by_line(log: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {r["locations"][0]["physicalLocation"]["region"]["startLine"]: r for r in log["runs"][0]["results"]}


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "bad.py").write_text(BAD)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_static_sarif_is_valid_and_points_at_the_lines(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["analyze", "pkg/bad.py", "--static-only", "--format", "sarif"], capsys)
    assert code == 0
    log = json.loads(out)
    validate(log)
    assert log["version"] == "2.1.0" and len(log["runs"]) == 1
    run = log["runs"][0]
    assert run["invocations"][0]["executionSuccessful"] is True
    rules = run["tool"]["driver"]["rules"]
    by_line = results_by_line(log)
    assert set(by_line) == {5, 6}
    expected = ((5, "tensor-to-bool", 8, "x.sum() > 0"), (6, "tensor-to-number", 20, "x.max().item()"))
    for line, kind, col, code_text in expected:
        r = by_line[line]
        loc = r["locations"][0]
        assert r["ruleId"] == kind and rules[r["ruleIndex"]]["id"] == kind and r["level"] == "warning"
        assert loc["physicalLocation"]["artifactLocation"]["uri"] == "pkg/bad.py"  # relative to the working directory
        region = loc["physicalLocation"]["region"]
        assert (region["startColumn"], region["endColumn"]) == (col, col + len(code_text))
        assert BAD.splitlines()[line - 1][col - 1: col - 1 + len(code_text)] == code_text
        assert loc["logicalLocations"] == [{"name": "f"}]
        assert "Fix: " in r["message"]["text"] and r["properties"]["evidence"] == "static"


def test_a_rule_per_registered_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report, "PITFALL_KINDS", (*report.PITFALL_KINDS, "made-up-kind"))  # read when the log is made
    log = sarif.to_sarif([])
    validate(log)
    rules = {r["id"]: r for r in log["runs"][0]["tool"]["driver"]["rules"]}
    assert list(rules) == list(report.PITFALL_KINDS)
    for kind, r in rules.items():
        assert r["name"] and r["shortDescription"]["text"] and r["fullDescription"]["text"]
        assert "Fix:" in r["help"]["text"] and r["helpUri"].endswith(f"#pitfall-{kind}")
    generic = rules["made-up-kind"]
    assert generic["name"] == "MadeUpKind" and "made up kind" in generic["shortDescription"]["text"]
    assert rules["tensor-to-bool"]["shortDescription"] != generic["shortDescription"]


def test_the_readme_has_an_anchor_for_each_kind() -> None:
    readme = (ROOT / "README.md").read_text()
    anchors = set(re.findall(r'<a id="pitfall-([a-z0-9-]+)"></a>', readme))
    missing = set(report.PITFALL_KINDS) - anchors
    assert not missing, f"README.md has no `<a id=\"pitfall-KIND\"></a>` for {sorted(missing)}"


def test_levels_unknown_kinds_and_failed_analyses(tmp_path: Path) -> None:
    pits = tuple(Pitfall(kind=k, mode="trace", severity=s, line=n, message="`y` here", fix="", evidence="static")
                 for k, s, n in (("tensor-to-bool", "error", 1), ("brand-new-kind", "info", 2),
                                 ("nondeterministic", "warning", None)))
    analyses = [Analysis(file="a.py", entry="f", ok=True, torch_version="x", pitfalls=pits),
                Analysis(file="sub/b.py", entry="", ok=False, torch_version="x",
                         error=report.AnalysisError(kind="syntax", message="syntax error on line 3", line=3))]
    log = sarif.to_sarif(analyses, sources={"a.py": "x = 1\ny = 2\n"}, cwd=tmp_path, docs_url="https://example.org/docs#x")
    validate(log)
    run = log["runs"][0]
    assert [r["level"] for r in run["results"]] == ["error", "note", "warning"]
    rules = run["tool"]["driver"]["rules"]
    new = run["results"][1]
    assert rules[new["ruleIndex"]]["id"] == "brand-new-kind" and rules[new["ruleIndex"]]["helpUri"] == (
        "https://example.org/docs#pitfall-brand-new-kind")
    assert new["locations"][0]["physicalLocation"]["region"] == {"startLine": 2, "startColumn": 1, "endColumn": 2,
                                                                 "snippet": {"text": "y = 2"}}
    assert "region" not in run["results"][2]["locations"][0]["physicalLocation"]  # no line known: the file
    inv = run["invocations"][0]
    assert inv["executionSuccessful"] is False
    [note] = inv["toolExecutionNotifications"]
    assert note["level"] == "error" and "syntax error" in note["message"]["text"]
    assert note["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "sub/b.py"
    assert note["locations"][0]["physicalLocation"]["region"] == {"startLine": 3}


def test_paths_outside_the_working_directory_are_file_uris(tmp_path: Path) -> None:
    (tmp_path / "w").mkdir()
    a = Analysis(file=str(tmp_path / "m y.py"), entry="f", ok=True, torch_version="x",
                 pitfalls=(Pitfall("tensor-to-bool", "trace", "warning", 1, "m", "", "static"),))
    uri = sarif.to_sarif([a], cwd=tmp_path / "w")["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert uri["artifactLocation"] == {"uri": (tmp_path / "m y.py").as_uri()}  # absolute: no base id
    rel = sarif.to_sarif([a.with_changes(file="m y.py")], cwd=tmp_path, sources={"m y.py": ""})
    assert rel["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "m%20y.py"


def test_format_json_is_json_and_disagreeing_flags_are_usage_errors(project: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    _, a, _ = run_cli(["analyze", "pkg/bad.py", "--static-only", "--json"], capsys)
    _, b, _ = run_cli(["analyze", "pkg/bad.py", "--static-only", "--format", "json"], capsys)
    assert a == b and json.loads(a)["file"] == "pkg/bad.py"
    code, out, err = run_cli(["analyze", "pkg/bad.py", "--json", "--format", "sarif"], capsys)
    assert code == 2 and not out and len(err.strip().splitlines()) == 1 and "disagree" in err
    code, _, err = run_cli(["analyze", "pkg/bad.py", "--format", "xml"], capsys)
    assert code == 2 and "invalid choice" in err


def test_sarif_with_strict_and_a_broken_file(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["analyze", "pkg/bad.py", "--static-only", "--format", "sarif", "--strict"], capsys)[0] == 1
    Path("broken.py").write_text("import torch\ndef f(x:\n")
    code, out, err = run_cli(["analyze", "broken.py", "--static-only", "--format", "sarif"], capsys)
    assert code == 2 and "syntax error" in err
    log = json.loads(out)
    validate(log)
    assert log["runs"][0]["invocations"][0]["executionSuccessful"] is False and log["runs"][0]["results"] == []


def test_sandboxed_analysis_as_sarif(project: Path) -> None:
    """The full analysis (code run in the sandbox) through a real process: valid SARIF on the same line."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JIT_EXPLORER_OFFLINE": "1"}
    p = subprocess.run([sys.executable, "-m", "jit_explorer", "analyze", "pkg/bad.py", "--format", "sarif"],
                       capture_output=True, text=True, timeout=300, env=env, cwd=project, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr
    log = json.loads(p.stdout)
    validate(log)
    r = results_by_line(log)[5]
    assert r["ruleId"] == "tensor-to-bool" and r["level"] == "error"  # proven by divergence when the code runs
    assert r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "pkg/bad.py"
