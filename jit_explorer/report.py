"""Frozen result records and their JSON form (the schema in DESIGN.md).

Every result the library produces is one of these dataclasses; ``to_dict()``
gives exactly the JSON objects the CLI prints with ``--json`` and the app's API
endpoints return, and ``from_dict()`` rebuilds them (the sandbox sends results
across a process boundary as JSON).
"""

from __future__ import annotations

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
    """The outcome of ``torch.jit.trace`` or ``torch.jit.script`` on one entry."""

    ok: bool
    graph: str = ""
    code: str = ""
    inlined_graph: str = ""
    optimized_graph: str = ""
    error: ModeError | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON object of one mode (DESIGN.md schema)."""
        d = asdict(self)
        d["error"] = self.error.to_dict() if self.error else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModeResult:
        """Rebuild from :meth:`to_dict` output."""
        err = d.get("error")
        return cls(
            ok=bool(d["ok"]),
            graph=d.get("graph", ""),
            code=d.get("code", ""),
            inlined_graph=d.get("inlined_graph", ""),
            optimized_graph=d.get("optimized_graph", ""),
            error=ModeError(**err) if err else None,
            seconds=float(d.get("seconds", 0.0)),
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

    For a zoo model (a *conversion report*) ``model`` and ``weights`` are set and
    appear in the JSON; for pasted code they are ``None`` and omitted.
    ``deprecation`` holds TorchScript's own deprecation notice, recorded once and
    kept apart from ``warnings`` and ``pitfalls``.
    """

    file: str
    entry: str
    ok: bool
    torch_version: str
    error: AnalysisError | None = None
    trace: ModeResult | None = None
    script: ModeResult | None = None
    pitfalls: tuple[Pitfall, ...] = ()
    warnings: tuple[str, ...] = ()
    deprecation: str | None = None
    model: str | None = None
    weights: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """Return the analysis object of DESIGN.md (plus ``model``/``weights`` when set)."""
        d: dict[str, Any] = {
            "file": self.file,
            "entry": self.entry,
            "ok": self.ok,
            "error": self.error.to_dict() if self.error else None,
            "torch_version": self.torch_version,
            "trace": self.trace.to_dict() if self.trace else None,
            "script": self.script.to_dict() if self.script else None,
            "pitfalls": [p.to_dict() for p in self.pitfalls],
            "warnings": list(self.warnings),
            "deprecation": self.deprecation,
            "notes": list(self.notes),
        }
        if self.model is not None:
            d["model"] = self.model
            d["weights"] = self.weights
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Analysis:
        """Rebuild from :meth:`to_dict` output."""
        err = d.get("error")
        return cls(
            file=d["file"],
            entry=d["entry"],
            ok=bool(d["ok"]),
            torch_version=d.get("torch_version", ""),
            error=AnalysisError(**err) if err else None,
            trace=ModeResult.from_dict(d["trace"]) if d.get("trace") else None,
            script=ModeResult.from_dict(d["script"]) if d.get("script") else None,
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
