from __future__ import annotations

import json

from jit_explorer.modes import REGISTRY
from jit_explorer.report import Analysis, AnalysisError, BenchReport, BenchResult, ModeError, ModeResult, Pitfall

_TS_LEGACY = REGISTRY["trace"].legacy_keys()


def _analysis() -> Analysis:
    views = {"graph": "g\n", "code": "c", "inlined": "i", "optimized": "o"}
    lines = {"graph": [3], "code": [None], "inlined": [None], "optimized": [3]}
    return Analysis(
        file="snippet.py", entry="f", ok=True, torch_version="2.14.1",
        modes={
            "trace": ModeResult(ok=True, views=views, source_lines=lines, seconds=0.5, legacy=_TS_LEGACY),
            "script": ModeResult(ok=False, error=ModeError("bad", 3), legacy=_TS_LEGACY),
            "compile": ModeResult(ok=True, views={"graphs": "x", "breaks": "b", "guards": "g"}, seconds=0.1,
                                  source_lines={"graphs": [None], "breaks": [3], "guards": [None]},
                                  extra={"graph_count": 2, "graph_break_count": 1}),
        },
        pitfalls=(Pitfall("tensor-to-bool", "trace", "warning", 3, "m", "f", "tracer-warning"),),
        warnings=("w",),
    )


def test_analysis_json_has_the_design_keys() -> None:
    d = _analysis().to_dict()
    assert {"file", "entry", "ok", "error", "torch_version", *REGISTRY, "pitfalls", "warnings"} <= set(d)
    assert set(d["trace"]) == {"ok", "graph", "code", "inlined_graph", "optimized_graph", "error", "seconds",
                               "views", "source_lines"}
    assert d["trace"]["inlined_graph"] == "i" and d["trace"]["views"]["inlined"] == "i"
    assert d["script"]["error"] == {"message": "bad", "line": 3}
    assert d["export"] is None  # not requested
    assert d["compile"]["graph_count"] == 2 and d["compile"]["source_lines"]["breaks"] == [3]
    assert "inlined_graph" not in d["compile"]
    assert set(d["pitfalls"][0]) == {"kind", "mode", "severity", "line", "message", "fix", "evidence"}
    assert "model" not in d  # only conversion reports carry model/weights
    json.dumps(d)


def test_analysis_round_trip() -> None:
    a = _analysis().with_changes(model="resnet18", weights="random")
    d = a.to_dict()
    assert d["model"] == "resnet18" and d["weights"] == "random"
    assert Analysis.from_dict(json.loads(json.dumps(d))) == a


def test_failed_analysis_round_trip() -> None:
    a = Analysis(file="x.py", entry="", ok=False, torch_version="t", error=AnalysisError("syntax", "oops", 2))
    d = a.to_dict()
    assert d["trace"] is None and d["error"] == {"kind": "syntax", "message": "oops", "line": 2}
    assert Analysis.from_dict(d) == a


def test_bench_report_round_trip() -> None:
    r = BenchReport("m", "cpu", "cpu0", 2, "t", 1, "in", None, ("n",), (BenchResult("eager", True, median_ms=1.0),))
    d = r.to_dict()
    assert d["results"][0]["mode"] == "eager" and d["notes"] == ["n"]
    assert BenchReport.from_dict(d) == r
