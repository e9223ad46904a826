"""What the server and the sandbox worker say to each other: typed requests, and the shape of the answer.

One request crosses the pipe as one line of JSON: the request's own object (:meth:`AnalyzeRequest.to_json`
and its siblings, with ``"op"`` naming the kind) plus the envelope the pool adds, ``"limits"``
(:class:`~jit_explorer.sandbox.limits.Limits` as a dict) and ``"uid"`` (the private uid, or ``null``);
the supervisor adds ``"disk"`` (how the work dir is capped) before the user process reads it.
:func:`parse_request` turns the object back into a request, ignoring the envelope's keys.

The answer is one JSON object too, described by :class:`Response`.

Example::

    >>> r = AnalyzeRequest(source="def f(x):\\n    return x\\n", inputs="1")
    >>> parse_request(r.to_json()) == r
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar, TypedDict, TypeVar

__all__ = [
    "AnalyzeRequest",
    "BenchRequest",
    "InspectRequest",
    "SaveRequest",
    "Request",
    "REQUEST_TYPES",
    "ProtocolError",
    "parse_request",
    "ErrorInfo",
    "Response",
    "failure",
]


class ProtocolError(ValueError):
    """A request object that is not one of the known requests, or has fields of the wrong type."""


_R = TypeVar("_R", bound="_Request")


@dataclass(frozen=True)
class _Request:
    op: ClassVar[str] = ""

    def to_json(self) -> dict[str, Any]:
        """The JSON object of this request (``"op"`` first, then every field)."""
        out: dict[str, Any] = {"op": self.op}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_json(cls: type[_R], obj: Mapping[str, Any]) -> _R:
        """The request in ``obj`` (keys it does not know, such as the envelope's, are ignored).

        Raises:
            ProtocolError: ``obj`` names another op, or a field is missing or of the wrong type.
        """
        if not isinstance(obj, Mapping) or obj.get("op") != cls.op:
            raise ProtocolError(f"not a {cls.op!r} request")
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in obj and obj[f.name] is not None:
                values[f.name] = obj[f.name]
        try:
            req = cls(**values)
        except TypeError as e:
            raise ProtocolError(f"bad {cls.op!r} request: {e}") from None
        req._check()
        return req

    def _check(self) -> None:
        hints: dict[str, type | tuple[type, ...]] = {"str": str, "bool": bool, "int": int, "float": (int, float)}
        for f in fields(self):
            want = hints.get(str(f.type))
            value = getattr(self, f.name)
            if want is not None and (not isinstance(value, want) or (want is not bool and isinstance(value, bool))):
                raise ProtocolError(f"bad {self.op!r} request: {f.name} must be {f.type}")


@dataclass(frozen=True)
class AnalyzeRequest(_Request):
    """Analyse the entries of pasted ``source`` in the capture modes of ``mode`` (an already parsed selection)."""

    op: ClassVar[str] = "analyze"
    source: str
    entry: str = ""
    inputs: str = ""
    mode: str = "both"
    filename: str = "snippet.py"


@dataclass(frozen=True)
class BenchRequest(_Request):
    """Benchmark one entry of pasted ``source`` on the CPU (``modes``: benchmark modes; ``None``: the defaults)."""

    op: ClassVar[str] = "bench"
    source: str
    entry: str = ""
    inputs: str = ""
    modes: tuple[str, ...] | None = None
    threads: int = 1
    budget_s: float = 1.0
    filename: str = "snippet.py"

    def __post_init__(self) -> None:
        if self.modes is not None and not isinstance(self.modes, tuple):
            if not isinstance(self.modes, list) or not all(isinstance(m, str) for m in self.modes):
                raise ProtocolError("bad 'bench' request: modes must be a list of mode names")
            object.__setattr__(self, "modes", tuple(self.modes))


@dataclass(frozen=True)
class InspectRequest(_Request):
    """Open a TorchScript archive (its bytes base64-encoded) and migrate it (:mod:`jit_explorer.archive`)."""

    op: ClassVar[str] = "inspect"
    archive_b64: str
    filename: str = "archive.pt"
    inputs: str = ""
    migrate: bool = True
    pt2: bool = False
    aoti: bool = False


@dataclass(frozen=True)
class SaveRequest(_Request):
    """Trace or script one entry of pasted ``source`` and ``torch.jit.save`` it (:mod:`jit_explorer.pasted_save`)."""

    op: ClassVar[str] = "save"
    source: str
    entry: str = ""
    inputs: str = ""
    mode: str = "trace"
    filename: str = "snippet.py"


Request = AnalyzeRequest | BenchRequest | InspectRequest | SaveRequest

REQUEST_TYPES: tuple[type[_Request], ...] = (AnalyzeRequest, BenchRequest, InspectRequest, SaveRequest)
"""Every request kind; a new one is added here (and answered in the worker's ``_run``)."""

_BY_OP: dict[str, type[_Request]] = {c.op: c for c in REQUEST_TYPES}


def parse_request(obj: Mapping[str, Any]) -> Request:
    """The typed request in a request's JSON object.

    Raises:
        ProtocolError: an unknown ``"op"``, or a field missing or of the wrong type.
    """
    op = obj.get("op") if isinstance(obj, Mapping) else None
    cls = _BY_OP.get(op) if isinstance(op, str) else None
    if cls is None:
        raise ProtocolError(f"unknown request {op!r}")
    req: Request = cls.from_json(obj)  # type: ignore[assignment]
    return req


class ErrorInfo(TypedDict, total=False):
    """Why a request failed: an :class:`~jit_explorer.errors.ErrorKind`, one sentence, the user's line if known."""

    kind: str
    message: str
    line: int | None


class Response(TypedDict, total=False):
    """The worker's answer (one JSON object).

    ``ok`` is false only when the sandboxed process itself failed (time, CPU, memory, crash, exit,
    output flood...): then ``error`` says why. Otherwise it carries the answer of the request's kind:
    ``analyses`` (``analyze``: one :class:`~jit_explorer.report.Analysis` dict per entry, a failed
    analysis included), ``bench`` (``bench``: a :class:`~jit_explorer.report.BenchReport` dict),
    ``archive`` and ``artifacts`` (``inspect``), ``saved`` (``save``: a
    :class:`~jit_explorer.pasted_save.SavedModule` JSON object). The supervisor adds ``protections`` (what confined
    the user process), ``output_bytes`` and, when needed, ``notes``.
    """

    ok: bool
    error: ErrorInfo
    analyses: list[dict[str, Any]]
    bench: dict[str, Any]
    archive: dict[str, Any]
    artifacts: dict[str, str]
    saved: dict[str, Any]
    conversion_failed: bool
    protections: dict[str, Any]
    output_bytes: int
    notes: list[str]


def failure(kind: str, message: str) -> dict[str, Any]:
    """A :class:`Response` of a failed process: ``{"ok": false, "error": {kind, message, "line": null}}``."""
    return {"ok": False, "error": {"kind": kind, "message": message, "line": None}}
