"""The pitfall corpus, through the path pasted code really takes (a sandbox worker per file) and through the CLI.

``tests/fixtures/pitfalls/*.py``: one entry each, ``example_inputs()``, and a first line
``# expect: kind@line, ...`` — every expected pitfall must be reported on exactly that line.
``tests/fixtures/clean/*.py`` (``# expect: clean``): code that looks suspicious but is fine —
no pitfall of severity warning or error may be reported.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from jit_explorer import sandbox, snippet
from jit_explorer.report import PITFALL_KINDS, SEVERITIES, Analysis

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures"
PITFALL_FILES = sorted((FIXTURES / "pitfalls").glob("*.py"))
CLEAN_FILES = sorted((FIXTURES / "clean").glob("*.py"))
ALL_FILES = PITFALL_FILES + CLEAN_FILES
EVIDENCE = {"tracer-warning", "static", "divergence"}
#: kinds only torch.export / torch.compile report: their fixtures are tests/fixtures/modern, not this corpus
OTHER_MODE_KINDS = {"export-error", "graph-break"}
#: the issue's bound: ``analyze`` over 30 small files in under a minute on this machine
SECONDS_PER_30_FILES = 60.0


def expectations(path: Path) -> list[tuple[str, int]]:
    """``[(kind, line)]`` from the file's first line (``# expect: kind@line, ...`` or ``# expect: clean``)."""
    first = path.read_text(encoding="utf-8").splitlines()[0]
    m = re.fullmatch(r"# expect: (.+)", first)
    assert m, f"{path.name}: the first line must be '# expect: kind@line, ...' or '# expect: clean'"
    if m.group(1).strip() == "clean":
        return []
    out = []
    for item in m.group(1).split(","):
        kind, line = item.strip().split("@")
        out.append((kind, int(line)))
    return out


def _missing(analyses: list[Analysis] | list[dict], expected: list[tuple[str, int]]) -> list[str]:
    got = set()
    for a in analyses:
        for p in (a["pitfalls"] if isinstance(a, dict) else [p.to_dict() for p in a.pitfalls]):
            got.add((p["kind"], p["line"]))
    return [f"{k}@{n}" for k, n in expected if (k, n) not in got]


def _serious(analyses: list[Analysis]) -> list[str]:
    return [f"{p.severity} {p.kind}@{p.line}: {p.message[:120]}" for a in analyses for p in a.pitfalls
            if p.severity in ("warning", "error")]


@pytest.fixture(scope="module")
def corpus() -> Iterator[tuple[dict[Path, list[Analysis]], float]]:
    """Every fixture analysed by ``sandbox.analyze_source`` (two at a time), and the wall time it took."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JX_SANDBOX_POOL", "2")
        sandbox.shutdown()  # a pool made earlier with another size is replaced
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=2) as ex:
            results = list(ex.map(lambda f: sandbox.analyze_source(f.read_text(encoding="utf-8"), filename=f.name),
                                  ALL_FILES))
        elapsed = time.perf_counter() - start
        sandbox.shutdown()
    yield dict(zip(ALL_FILES, results, strict=True)), elapsed


def test_corpus_shape() -> None:
    assert len(PITFALL_FILES) >= 25 and len(CLEAN_FILES) >= 15
    kinds = {k for f in PITFALL_FILES for k, _ in expectations(f)}
    wanted = set(PITFALL_KINDS) - OTHER_MODE_KINDS
    assert kinds == wanted, f"kinds without a fixture: {wanted - kinds}"
    for f in ALL_FILES:
        info = snippet.parse_source(f.read_text(encoding="utf-8"))
        assert len(info.entries) == 1 and info.has_example_inputs, f"{f.name}: one entry and example_inputs()"
        assert (f in CLEAN_FILES) == (not expectations(f))


@pytest.mark.parametrize("path", PITFALL_FILES, ids=[f.stem for f in PITFALL_FILES])
def test_pitfall_fixture(corpus: tuple[dict[Path, list[Analysis]], float], path: Path) -> None:
    analyses = corpus[0][path]
    assert analyses and all(a.ok for a in analyses), [a.error for a in analyses]
    missing = _missing(analyses, expectations(path))
    got = [(p.kind, p.line, p.severity, p.evidence) for a in analyses for p in a.pitfalls]
    assert not missing, f"{path.name}: missing {missing}; reported {got}"


@pytest.mark.parametrize("path", CLEAN_FILES, ids=[f.stem for f in CLEAN_FILES])
def test_clean_fixture(corpus: tuple[dict[Path, list[Analysis]], float], path: Path) -> None:
    analyses = corpus[0][path]
    assert analyses and all(a.ok for a in analyses), [a.error for a in analyses]
    assert all(a.trace and a.trace.ok and a.script and a.script.ok for a in analyses)
    assert not _serious(analyses), f"{path.name}: false alarms {_serious(analyses)}"


def test_pitfall_records_are_well_formed(corpus: tuple[dict[Path, list[Analysis]], float]) -> None:
    for path, analyses in corpus[0].items():
        for a in analyses:
            for p in a.pitfalls:
                where = f"{path.name}: {p}"
                assert p.kind in PITFALL_KINDS and p.severity in SEVERITIES, where
                assert set(p.evidence.split("+")) <= EVIDENCE, where
                assert p.mode == ("script" if p.kind == "script-error" else "trace"), where
                assert p.message.strip() and p.fix.strip(), where
                assert "/tmp" not in p.message and "jx-worker" not in p.message, where
                assert p.line is None or 1 <= p.line <= len(path.read_text().splitlines()), where


def test_several_pitfalls_are_found_without_any_tracer_warning(
    corpus: tuple[dict[Path, list[Analysis]], float],
) -> None:
    quiet = []
    for path in PITFALL_FILES:
        exp = set(expectations(path))
        evid = {p.evidence for a in corpus[0][path] for p in a.pitfalls if (p.kind, p.line) in exp}
        if evid and not any("tracer-warning" in e for e in evid):
            quiet.append(path.name)
    assert len(quiet) >= 8, quiet


def test_corpus_summary_and_time(corpus: tuple[dict[Path, list[Analysis]], float]) -> None:
    results, elapsed = corpus
    expected = sum(len(expectations(f)) for f in PITFALL_FILES)
    hits = expected - sum(len(_missing(results[f], expectations(f))) for f in PITFALL_FILES)
    false = sum(bool(_serious(results[f])) for f in CLEAN_FILES)
    proven = sum(1 for f in PITFALL_FILES for a in results[f] for p in a.pitfalls if "divergence" in p.evidence)
    per30 = elapsed / len(ALL_FILES) * 30
    print(f"\npitfall corpus: recall {hits}/{expected} on the exact line; {false}/{len(CLEAN_FILES)} clean files with "
          f"a warning/error; {proven} pitfalls proven by divergence; {len(ALL_FILES)} files in {elapsed:.1f} s "
          f"({per30:.1f} s per 30 files)")
    assert hits == expected and false == 0
    if not os.environ.get("JX_SKIP_TIMING"):
        assert per30 < SECONDS_PER_30_FILES, f"{per30:.1f} s per 30 files (limit {SECONDS_PER_30_FILES:g} s)"


# --------------------------------------------------------------------------- the same corpus through the CLI


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "JIT_EXPLORER_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "jit_explorer", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)


@pytest.mark.slow
@pytest.mark.skipif(not (ROOT / "jit_explorer" / "cli.py").exists(), reason="the CLI is not there yet")
def test_corpus_through_the_cli() -> None:
    proc = _cli("analyze", *[str(f.relative_to(ROOT)) for f in ALL_FILES], "--json", "--strict")
    assert proc.returncode == 1, proc.stderr[-2000:]  # --strict: warning/error pitfalls were found
    by_file: dict[str, list[dict]] = {}
    for d in json.loads(proc.stdout):
        by_file.setdefault(Path(d["file"]).name, []).append(d)
    for f in PITFALL_FILES:
        analyses = by_file[f.name]
        assert all(d["ok"] for d in analyses), analyses
        assert not _missing(analyses, expectations(f)), (f.name, _missing(analyses, expectations(f)))
    for f in CLEAN_FILES:
        serious = [p for d in by_file[f.name] for p in d["pitfalls"] if p["severity"] in ("warning", "error")]
        assert not serious, (f.name, serious)
    clean = _cli("analyze", *[str(f.relative_to(ROOT)) for f in CLEAN_FILES[:3]], "--strict")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    linted = _cli("analyze", str(PITFALL_FILES[0].relative_to(ROOT)))
    kind, line = expectations(PITFALL_FILES[0])[0]
    assert f"{PITFALL_FILES[0].name}:{line}:" in linted.stdout and kind in linted.stdout and linted.returncode == 0
