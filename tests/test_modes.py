"""The capture-mode registry and its four modes: selection, views, source lines, problems on the user's line.

``tests/fixtures/modern/*.py`` is the corpus of the modern modes: the first line says
``# expect: kind/mode@line, ...`` (every one must be reported exactly there) or ``# expect: clean``
(the code exports cleanly and compiles in one graph: no warning or error at all). The corpus runs
through the sandbox, the path pasted code really takes, and through the CLI.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from jit_explorer import sandbox
from jit_explorer.analysis import analyze_callable
from jit_explorer.errors import InputError
from jit_explorer.modes import REGISTRY, parse_modes
from jit_explorer.modes.compile import parse_break_log
from jit_explorer.report import Analysis

ROOT = Path(__file__).resolve().parent.parent
MODERN = sorted((Path(__file__).parent / "fixtures" / "modern").glob("*.py"))
#: no machine path may reach a person: not the checkout, not a temp dir, not site-packages
_MACHINE = re.compile(r"/(?:tmp|root|home|work|usr)/|site-packages|" + re.escape(str(ROOT)))


def expectations(path: Path) -> list[tuple[str, str, int]]:
    """``[(kind, mode, line)]`` from the first line, ``[]`` for ``# expect: clean``."""
    m = re.fullmatch(r"# expect: (.+)", path.read_text(encoding="utf-8").splitlines()[0])
    assert m, f"{path.name}: first line must be '# expect: kind/mode@line, ...' or '# expect: clean'"
    if m.group(1).strip() == "clean":
        return []
    out = []
    for item in m.group(1).split(","):
        kind_mode, line = item.strip().split("@")
        kind, mode = kind_mode.split("/")
        out.append((kind, mode, int(line)))
    return out


# --------------------------------------------------------------------------- the registry


def test_registry_declares_four_modes_with_views() -> None:
    assert list(REGISTRY) == ["trace", "script", "export", "compile"]
    for name, mode in REGISTRY.items():
        assert mode.name == name and mode.title.startswith("torch.") and mode.views and mode.detects
        assert len({v.name for v in mode.views}) == len(mode.views)
    assert REGISTRY["trace"].legacy_keys() == {"graph": "graph", "code": "code", "inlined_graph": "inlined",
                                               "optimized_graph": "optimized"}
    assert REGISTRY["export"].view_names() == ("graph", "signature", "dynamic")
    assert REGISTRY["compile"].view_names(with_on_request=False) == ("graphs", "breaks", "guards")
    assert not REGISTRY["export"].legacy_keys()


@pytest.mark.parametrize(("spec", "expected"), [
    ("both", ("trace", "script")), ("", ("trace", "script")), (None, ("trace", "script")),
    ("all", ("trace", "script", "export", "compile")), ("compile,export", ("export", "compile")),
    (" export , trace ", ("trace", "export")), (["script", "compile"], ("script", "compile")),
    ("both,export", ("trace", "script", "export")),
])
def test_parse_modes(spec: object, expected: tuple[str, ...]) -> None:
    assert parse_modes(spec) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("spec", ["jit", "trace,nope", ",", 7, [None], "x" * 5000])
def test_parse_modes_refuses_with_one_sentence(spec: object) -> None:
    with pytest.raises(InputError) as e:
        parse_modes(spec)  # type: ignore[arg-type]
    msg = str(e.value)
    assert "\n" not in msg and len(msg) < 300 and ("mode" in msg)


# --------------------------------------------------------------------------- in this process (trusted code)

_SOURCE = textwrap.dedent('''\
    import torch


    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(4, 4)

        def forward(self, x):
            y = torch.relu(self.lin(x))
            z = y * 2
            return z + 1
''')


@pytest.fixture(scope="module")
def block_analysis(tmp_path_factory: pytest.TempPathFactory) -> Analysis:
    path = tmp_path_factory.mktemp("modes") / "block.py"
    path.write_text(_SOURCE)
    namespace: dict[str, object] = {}
    exec(compile(_SOURCE, str(path), "exec"), namespace)
    module = namespace["Block"]().eval()  # type: ignore[operator]
    return analyze_callable(module, (torch.randn(3, 4),), file="block.py", entry="Block", mode="all",
                            user_file=str(path), source=_SOURCE, entry_line=5, dynamic=False)


def _lines_of(result_dict: dict, view: str, needle: str) -> set[int | None]:
    text, lines = result_dict["views"][view], result_dict["source_lines"][view]
    return {ln for t, ln in zip(text.rstrip("\n").split("\n"), lines, strict=True) if needle in t}


def test_every_view_has_one_source_line_per_line(block_analysis: Analysis) -> None:
    d = block_analysis.to_dict()
    for name in REGISTRY:
        res = d[name]
        assert res and res["ok"], (name, res and res["error"])
        for view, text in res["views"].items():
            assert len(res["source_lines"][view]) == len(text.rstrip("\n").split("\n")), (name, view)
            assert all(ln is None or 1 <= ln <= 12 for ln in res["source_lines"][view])
            assert not _MACHINE.search(text), (name, view, _MACHINE.search(text))


def test_source_lines_point_at_the_users_lines(block_analysis: Analysis) -> None:
    d = block_analysis.to_dict()
    assert _lines_of(d["script"], "graph", "aten::mul") == {11}
    assert _lines_of(d["script"], "graph", "aten::add") == {12}
    assert _lines_of(d["trace"], "graph", "aten::relu") == {10}
    # the inlined graphs: Linear's aten::linear lives in torch's file; it is linked to the user's call (line 10),
    # through the trace's recorded Python stack and through the script's module hierarchy
    assert _lines_of(d["trace"], "inlined", "aten::linear") == {10}
    assert _lines_of(d["script"], "inlined", "aten::linear") == {10}
    assert _lines_of(d["script"], "inlined", "aten::mul") == {11}
    assert _lines_of(d["export"], "graph", "aten.mul") == {11}
    assert _lines_of(d["export"], "graph", "aten.add") == {12}
    # a library op (Linear's F.linear) is attributed to the user's line that called into the library
    assert _lines_of(d["export"], "graph", "aten.linear") == {10}
    assert 10 in _lines_of(d["compile"], "graphs", "linear")
    assert d["compile"]["graph_count"] == 1 and d["compile"]["graph_break_count"] == 0


def test_export_views_say_what_is_dynamic(block_analysis: Analysis) -> None:
    exp = block_analysis.modes["export"]
    assert "USER_INPUT" in exp.views["signature"] and "PARAMETER -> lin.weight" in exp.views["signature"]
    dynamic = exp.views["dynamic"]
    assert re.search(r"dim 0: symbolic s\d+", dynamic)
    assert "dim 1: specialised to 4" in dynamic
    info = [p for p in block_analysis.pitfalls if p.mode == "export"]
    assert [(p.kind, p.severity, p.line) for p in info] == [("shape-specialization", "info", 5)]


def test_a_mode_that_fails_does_not_hide_the_others(tmp_path: Path) -> None:
    source = "import torch\n\ndef f(x):\n    if x.sum() > 0:\n        return x * 2\n    return x\n"
    path = tmp_path / "f.py"
    path.write_text(source)
    ns: dict[str, object] = {"__name__": "user_f"}
    exec(compile(source, str(path), "exec"), ns)
    a = analyze_callable(ns["f"], (torch.ones(3),), file="f.py", entry="f", mode="export,compile,script",
                         user_file=str(path), source=source, entry_line=3, dynamic=False)
    assert a.export is not None and not a.export.ok and a.export.error is not None and a.export.error.line == 4
    assert a.compile is not None and a.compile.ok and a.compile.extra["graph_break_count"] == 1
    assert a.script is not None and a.script.ok and a.trace is None
    assert {(p.kind, p.mode, p.line) for p in a.pitfalls} >= {("tensor-to-bool", "export", 4),
                                                              ("graph-break", "compile", 4)}
    assert "f.py:4" in a.compile.views["breaks"] and "GB0170" in a.compile.views["breaks"]


def test_dynamo_caches_do_not_leak_between_requests(tmp_path: Path) -> None:
    """Two different functions with the same code object name: the second sees no state of the first."""
    for factor in (2, 3):
        source = f"import torch\n\ndef f(x):\n    return x * {factor}\n"
        path = tmp_path / f"f{factor}.py"
        path.write_text(source)
        ns: dict[str, object] = {}
        exec(compile(source, str(path), "exec"), ns)
        a = analyze_callable(ns["f"], (torch.ones(3),), file="f.py", entry="f", mode="compile", user_file=str(path),
                             source=source, dynamic=False)
        assert a.compile is not None and a.compile.extra["graph_count"] == 1
        assert f"* {factor}" in a.compile.views["graphs"] or f"mul(l_x_, {factor})" in a.compile.views["graphs"]
        # Dynamo's compiled code for this function is gone after the request
        entries = torch._C._dynamo.eval_frame._debug_get_cache_entry_list(ns["f"].__code__)  # type: ignore[attr-defined]
        assert entries == []


def test_parse_break_log_reads_reason_hints_id_and_frames() -> None:
    text = textwrap.dedent('''\
        Graph break in user code at lib/helpers.py:40
        Graph Break Reason: Encountered graph break when attempting to trace CALL: a function call, e.g. f(x, y):

        Unsupported Tensor.item() call with capture_scalar_outputs=False
          Explanation: Dynamo does not support tracing `Tensor.item()`.
          Hint: Set `torch._dynamo.config.capture_scalar_outputs = True`.

          Developer debug context: call_method TensorVariable() item () {}

         For more details about this graph break, please visit: https://example.org/gb/gb0124.html

        User code traceback:
          File "mine.py", line 7, in forward
            y = helper(x)
          File "lib/helpers.py", line 40, in helper
            return x.item()
    ''')
    gb = parse_break_log(text)
    assert gb.reason.startswith("Unsupported Tensor.item()")
    assert gb.explanation.startswith("Dynamo does not support") and len(gb.hints) == 1
    assert gb.gb_id == "GB0124" and gb.url and gb.url.endswith("gb0124.html")
    assert gb.frames == [("mine.py", 7), ("lib/helpers.py", 40)] and gb.at == ("lib/helpers.py", 40)


# --------------------------------------------------------------------------- the corpus, through the sandbox


@pytest.fixture(scope="module")
def modern_results() -> dict[str, list[Analysis]]:
    os.environ.setdefault("JX_SANDBOX_POOL", "2")
    out = {}
    for path in MODERN:
        out[path.name] = sandbox.analyze_source(path.read_text(), mode="export,compile", filename=path.name)
    return out


@pytest.mark.parametrize("path", MODERN, ids=[p.name for p in MODERN])
def test_modern_corpus(path: Path, modern_results: dict[str, list[Analysis]]) -> None:
    analyses = modern_results[path.name]
    assert analyses and all(a.ok for a in analyses), [a.error for a in analyses]
    expected = expectations(path)
    got = {(p.kind, p.mode, p.line) for a in analyses for p in a.pitfalls}
    if expected:
        missing = [e for e in expected if e not in got]
        assert not missing, f"missing {missing}; got {sorted(got, key=str)}"
    else:
        serious = [(p.kind, p.mode, p.line, p.message) for a in analyses for p in a.pitfalls
                   if p.severity in ("warning", "error")]
        assert not serious
        for a in analyses:
            assert a.export is not None and a.export.ok
            assert a.compile is not None and a.compile.ok and a.compile.extra["graph_count"] == 1
    for a in analyses:  # nothing on a line of torch or a library: every line is in the user's file
        n_lines = len(path.read_text().splitlines())
        assert all(p.line is None or 1 <= p.line <= n_lines for p in a.pitfalls)
        for res in (a.export, a.compile):
            assert res is not None
            for text in res.views.values():
                assert not _MACHINE.search(text)
            if res.error:
                assert not _MACHINE.search(res.error.message)


def test_cli_pins_export_and_compile_problems(tmp_path: Path) -> None:
    """``analyze FILE --mode export,compile --json`` (the Done-when of the capture-modes issue), strict and not."""
    branch = Path(__file__).parent / "fixtures" / "modern" / "m01_value_branch.py"
    clean = Path(__file__).parent / "fixtures" / "modern" / "c01_mlp.py"
    env = {**os.environ, "JIT_EXPLORER_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "jit_explorer", "analyze", str(branch), str(clean), "--mode",
                          "export,compile", "--json", "--strict"], capture_output=True, text=True, env=env,
                         cwd=tmp_path, timeout=600)
    assert out.returncode == 1, out.stderr[-2000:]
    docs = json.loads(out.stdout)
    by_file = {Path(d["file"]).name: d for d in docs}
    bad, good = by_file["m01_value_branch.py"], by_file["c01_mlp.py"]
    assert {(p["kind"], p["mode"], p["line"]) for p in bad["pitfalls"]} == {
        ("tensor-to-bool", "export", 9), ("graph-break", "compile", 9)}
    assert bad["trace"] is None and bad["script"] is None
    for d in docs:
        for name in ("export", "compile"):
            assert set(d[name]) >= {"ok", "error", "seconds", "views", "source_lines"}
    assert not [p for p in good["pitfalls"] if p["severity"] != "info"]
    bad_mode = subprocess.run([sys.executable, "-m", "jit_explorer", "analyze", str(clean), "--mode", "jit"],
                              capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert bad_mode.returncode == 2 and "unknown mode 'jit'" in bad_mode.stderr
    assert "Traceback" not in bad_mode.stderr and len(bad_mode.stderr.strip().splitlines()) == 1


def test_a_failure_inside_torch_is_labelled_as_torch_s_not_the_users() -> None:
    from jit_explorer.modes import Job
    from jit_explorer.modes.export import explain_export_error

    job = Job(obj=None, inputs=(), user_files=frozenset({"mine.py"}), user_file="mine.py", label="mine.py")
    pane, line, pitfall = explain_export_error(torch._dynamo.exc.InternalTorchDynamoError("boom in a pass"), job)
    assert line is None and torch.__version__ in pitfall.message and "not of your code" in pitfall.message
    assert pitfall.kind == "export-error" and "boom in a pass" in pane
    # the same kind of exception raised by the user's own line is the user's problem, not torch's
    try:
        exec(compile("raise ValueError('bad shape')", "mine.py", "exec"))
    except ValueError as e:
        _, line, pitfall = explain_export_error(e, job)
    assert line == 1 and "not of your code" not in pitfall.message
