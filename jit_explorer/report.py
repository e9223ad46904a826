"""Frozen result records and their JSON form (the schema in DESIGN.md).

Every result the library produces is one of these dataclasses; ``to_dict()``
gives exactly the JSON objects the CLI prints with ``--json`` and the app's API
endpoints return, and ``from_dict()`` rebuilds them (the sandbox sends results
across a process boundary as JSON).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

__all__ = [
    "AnalysisError",
    "ModeError",
    "ModeResult",
    "Pitfall",
    "Analysis",
    "BenchResult",
    "BenchReport",
    "PITFALL_KINDS",
    "SEVERITIES",
]

PITFALL_KINDS: tuple[str, ...] = (
    "tensor-to-bool",
    "tensor-to-number",
    "tensor-iteration",
    "shape-specialization",
    "constant-tensor",
    "python-side-effect",
    "nondeterministic",
    "container-output",
    "script-error",
    "graph-break",
    "export-error",
)
SEVERITIES: tuple[str, ...] = ("error", "warning", "info")


@dataclass(frozen=True)
class AnalysisError:
    """Why an entry could not be loaded or run at all."""

    kind: str
    message: str
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON object ``{"kind", "message", "line"}``."""
        return asdict(self)


@dataclass(frozen=True)
class ModeError:
    """Why one conversion mode (trace or script) failed."""

    message: str
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON object ``{"message", "line"}``."""
        return asdict(self)


@dataclass(frozen=True)
class ModeResult:
    """The outcome of one capture mode (trace, script, export, compile) on one entry.

    ``views`` holds the texts shown in the mode's view tabs; ``source_lines[view]`` has one entry
    per line of that view: the 1-based line of the user's source it came from, or ``None``.
    ``legacy`` maps the older JSON keys of the TorchScript modes (``inlined_graph``…) to views:
    they are written beside ``views`` and readable as attributes (``result.inlined_graph``).
    ``extra`` holds mode-specific JSON keys (e.g. ``graph_count`` for compile).
    """

    ok: bool
    views: Mapping[str, str] = field(default_factory=dict)
    source_lines: Mapping[str, list[int | None]] = field(default_factory=dict)
    error: ModeError | None = None
    seconds: float = 0.0
    legacy: Mapping[str, str] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> str:
        # only called for names that are not fields: the legacy keys and the view names
        if name.startswith("_"):
            raise AttributeError(name)
        legacy = self.__dict__.get("legacy") or {}
        views = self.__dict__.get("views") or {}
        if name in legacy:
            return str(views.get(legacy[name], ""))
        if name in views:
            return str(views[name])
        raise AttributeError(name)

    def view(self, name: str) -> str:
        """The text of view ``name`` (empty when the mode has no such view or it was not produced)."""
        return str(self.views.get(name, ""))

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON object of one mode (DESIGN.md schema), legacy keys and extras included."""
        d: dict[str, Any] = {
            "ok": self.ok,
            "error": self.error.to_dict() if self.error else None,
            "seconds": self.seconds,
            "views": dict(self.views),
            "source_lines": {k: list(v) for k, v in self.source_lines.items()},
        }
        for key, view in self.legacy.items():
            d[key] = self.views.get(view, "")
        for key, value in self.extra.items():
            d.setdefault(key, value)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, legacy: Mapping[str, str] | None = None) -> ModeResult:
        """Rebuild from :meth:`to_dict` output (``legacy``: the mode's legacy keys, which are not extras)."""
        err = d.get("error")
        legacy = dict(legacy or {})
        views = dict(d.get("views") or {})
        if "views" not in d:  # an older object: its views are under the legacy keys
            views = {view: d[key] for key, view in legacy.items() if key in d}
        base = {"ok", "error", "seconds", "views", "source_lines"}
        extra = {k: v for k, v in d.items() if k not in base and k not in legacy}
        return cls(
            ok=bool(d["ok"]),
            views=views,
            source_lines={k: list(v) for k, v in (d.get("source_lines") or {}).items()},
            error=ModeError(**err) if err else None,
            seconds=float(d.get("seconds", 0.0)),
            legacy=legacy,
            extra=extra,
        )


@dataclass(frozen=True)
class Pitfall:
    """One way the converted program can silently differ from eager PyTorch."""

    kind: str
    mode: str
    severity: str
    line: int | None
    message: str
    fix: str
    evidence: str

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON object of one pitfall."""
        return asdict(self)


@dataclass(frozen=True)
class Analysis:
    """Analysis of one entry (a function or ``nn.Module``) in one file.

    ``modes`` maps each capture mode that was requested to its :class:`ModeResult` (the JSON
    has one key per registered mode, ``null`` when it was not requested); ``analysis.trace``,
    ``analysis.export``… read it. For a zoo model (a *conversion report*) ``model`` and
    ``weights`` are set and appear in the JSON; for pasted code they are ``None`` and omitted.
    ``deprecation`` holds TorchScript's own deprecation notice, recorded once and kept apart
    from ``warnings`` and ``pitfalls``.
    """

    file: str
    entry: str
    ok: bool
    torch_version: str
    error: AnalysisError | None = None
    modes: Mapping[str, ModeResult] = field(default_factory=dict)
    pitfalls: tuple[Pitfall, ...] = ()
    warnings: tuple[str, ...] = ()
    deprecation: str | None = None
    model: str | None = None
    weights: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def failure(cls, file: str, entry: str, kind: str, message: str, line: int | None = None) -> Analysis:
        """An analysis with ``ok=False``: the code could not be read, loaded or run at all.

        The one factory for failed analyses (the server's pre-check, the worker, the static-only path):
        ``kind`` is one of :class:`jit_explorer.errors.ErrorKind`.
        """
        import torch

        return cls(file=file, entry=entry, ok=False, torch_version=torch.__version__,
                   error=AnalysisError(kind=str(kind), message=message, line=line))

    def __getattr__(self, name: str) -> ModeResult | None:
        # ``analysis.trace`` / ``analysis.compile``: a registered mode's result, None when not requested
        if name.startswith("_"):
            raise AttributeError(name)
        from .modes import REGISTRY

        if name in REGISTRY:
            return (self.__dict__.get("modes") or {}).get(name)
        raise AttributeError(name)

    def to_dict(self) -> dict[str, Any]:
        """Return the analysis object of DESIGN.md (plus ``model``/``weights`` when set)."""
        from .modes import REGISTRY

        d: dict[str, Any] = {
            "file": self.file,
            "entry": self.entry,
            "ok": self.ok,
            "error": self.error.to_dict() if self.error else None,
            "torch_version": self.torch_version,
        }
        for name in REGISTRY:
            res = self.modes.get(name)
            d[name] = res.to_dict() if res is not None else None
        d.update({
            "pitfalls": [p.to_dict() for p in self.pitfalls],
            "warnings": list(self.warnings),
            "deprecation": self.deprecation,
            "notes": list(self.notes),
        })
        if self.model is not None:
            d["model"] = self.model
            d["weights"] = self.weights
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Analysis:
        """Rebuild from :meth:`to_dict` output."""
        from .modes import REGISTRY

        err = d.get("error")
        modes = {name: ModeResult.from_dict(d[name], legacy=spec.legacy_keys())
                 for name, spec in REGISTRY.items() if d.get(name)}
        return cls(
            file=d["file"],
            entry=d["entry"],
            ok=bool(d["ok"]),
            torch_version=d.get("torch_version", ""),
            error=AnalysisError(**err) if err else None,
            modes=modes,
            pitfalls=tuple(Pitfall(**p) for p in d.get("pitfalls", [])),
            warnings=tuple(d.get("warnings", [])),
            deprecation=d.get("deprecation"),
            model=d.get("model"),
            weights=d.get("weights"),
            notes=tuple(d.get("notes", [])),
        )

    def with_changes(self, **changes: Any) -> Analysis:
        """Return a copy with some fields replaced."""
        return replace(self, **changes)


@dataclass(frozen=True)
class BenchResult:
    """Timing of one mode of one model (a row of DESIGN.md's benchmark schema).

    Verdicts are data: ``correct`` (output within tolerance of eager), ``same_as_eager``
    (the speedup's 95% interval contains 1.0); the report's ``fastest`` names the mode.
    """

    mode: str
    ok: bool
    error: str | None = None
    median_ms: float = 0.0
    p90_ms: float = 0.0
    iqr_ms: float = 0.0
    ci95_ms: tuple[float, float] | None = None
    runs: int = 0
    first_call_ms: float = 0.0
    max_abs_diff: float = 0.0
    correct: bool = False
    speedup_vs_eager: float = 0.0
    speedup_ci95: tuple[float, float] | None = None
    same_as_eager: bool = False
    peak_mem_mb: float | None = None
    gflops: float = 0.0
    pct_of_peak: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON object of one benchmark row (intervals as ``[lo, hi]`` lists)."""
        d = asdict(self)
        for key in ("ci95_ms", "speedup_ci95"):
            d[key] = list(d[key]) if d[key] is not None else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BenchResult:
        """Rebuild from :meth:`to_dict` output (older rows without the new keys get their defaults)."""
        known = {f: d[f] for f in cls.__dataclass_fields__ if f in d}
        for key in ("ci95_ms", "speedup_ci95"):
            if known.get(key) is not None:
                lo, hi = known[key]
                known[key] = (float(lo), float(hi))
        return cls(**known)


@dataclass(frozen=True)
class BenchReport:
    """A benchmark of one model on one device (DESIGN.md schema).

    ``peak_gflops`` is the measured attainable peak (a dense GEMM on this device and
    thread count); ``peak_estimate_gflops`` the clock x FLOPs/cycle estimate beside it;
    ``fastest`` the fastest mode whose output is correct (None when fewer than two are).
    """

    model: str
    device: str
    device_name: str
    threads: int
    torch_version: str
    batch: int
    input: str
    peak_gflops: float | None
    notes: tuple[str, ...]
    results: tuple[BenchResult, ...]
    peak_estimate_gflops: float | None = None
    fastest: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the benchmark object of DESIGN.md."""
        return {
            "model": self.model,
            "device": self.device,
            "device_name": self.device_name,
            "threads": self.threads,
            "torch_version": self.torch_version,
            "batch": self.batch,
            "input": self.input,
            "peak_gflops": self.peak_gflops,
            "peak_estimate_gflops": self.peak_estimate_gflops,
            "notes": list(self.notes),
            "fastest": self.fastest,
            "results": [r.to_dict() for r in self.results],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BenchReport:
        """Rebuild from :meth:`to_dict` output."""
        return cls(
            model=d["model"],
            device=d["device"],
            device_name=d["device_name"],
            threads=int(d["threads"]),
            torch_version=d["torch_version"],
            batch=int(d["batch"]),
            input=d["input"],
            peak_gflops=d.get("peak_gflops"),
            notes=tuple(d.get("notes", [])),
            results=tuple(BenchResult.from_dict(r) for r in d.get("results", [])),
            peak_estimate_gflops=d.get("peak_estimate_gflops"),
            fastest=d.get("fastest"),
        )
