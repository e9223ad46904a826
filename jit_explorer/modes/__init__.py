"""The capture-mode registry: one module per way PyTorch turns Python into a program.

Each mode module (:mod:`.trace`, :mod:`.script`, :mod:`.export`, :mod:`.compile`) declares a
:class:`CaptureMode`: its name, its title, its views (the tabs of its pane), the pitfall kinds
it can report, and ``convert(job) -> Outcome``. Everything else — the CLI's ``--mode``, the JSON
(:class:`~jit_explorer.report.Analysis`), the sandbox worker's truncation, the app's mode
selector, panes and summary, share links — iterates :data:`REGISTRY`. Adding a mode is one
module that calls :func:`register`, an import line at the end of this file, and its tests.

Example::

    >>> from jit_explorer.modes import REGISTRY, parse_modes
    >>> list(REGISTRY)
    ['trace', 'script', 'export', 'compile']
    >>> parse_modes("both"), parse_modes("export,compile")
    (('trace', 'script'), ('export', 'compile'))
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import InputError
from ..report import ModeError, ModeResult, Pitfall

__all__ = [
    "View", "Job", "Outcome", "CaptureMode", "REGISTRY", "register", "get", "names", "parse_modes",
    "ALIASES", "DEFAULT", "mode_choices", "failure",
]


@dataclass(frozen=True)
class View:
    """One tab of a mode's pane.

    Attributes:
        name: the key in ``views`` / ``source_lines`` (``graph``, ``breaks``…).
        label: the tab's title.
        lexer: how to highlight it: ``ir`` (TorchScript IR), ``python`` (code, FX graphs) or ``text``.
        legacy: the older JSON key that mirrors it (``inlined_graph``), if any.
        on_request: produced only when asked (slow), e.g. Inductor's generated code.
        doc: one sentence on what the view shows.
    """

    name: str
    label: str
    lexer: str = "python"
    legacy: str | None = None
    on_request: bool = False
    doc: str = ""


@dataclass(frozen=True)
class Job:
    """What a mode converts: the entry, its example inputs, and where the user's source is.

    Attributes:
        obj: the function or ``nn.Module`` (already on ``device``).
        inputs: positional example inputs (already on ``device``).
        user_files: paths of the user's source; lines are located in them.
        user_file: the main one (its path is replaced by ``label`` in every text), or ``None``.
        label: the file name people see.
        device: ``cpu`` or ``cuda``.
        entry_line: where the entry is defined, when known.
        options: mode options (``check_trace``, ``inductor``…).
    """

    obj: Any
    inputs: tuple[Any, ...]
    user_files: frozenset[str]
    user_file: str | None = None
    label: str = "snippet.py"
    device: str = "cpu"
    entry_line: int | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    def clean(self, text: str) -> str:
        """``text`` with the user's path replaced by ``label`` and machine paths removed."""
        from .common import clean_paths

        return clean_paths(text, user_file=self.user_file, label=self.label)


@dataclass
class Outcome:
    """What :attr:`CaptureMode.convert` returns.

    Attributes:
        result: the :class:`ModeResult` (views, source_lines, error, seconds).
        compiled: the compiled object (a ScriptModule, an ExportedProgram…), for later checks.
        exception: the exception that made the mode fail, if any.
        problems: pitfalls the mode itself found (export failures, graph breaks…).
    """

    result: ModeResult
    compiled: Any = None
    exception: BaseException | None = None
    problems: list[Pitfall] = field(default_factory=list)


@dataclass(frozen=True)
class CaptureMode:
    """A capture mode: declared once, iterated everywhere.

    Attributes:
        name: the CLI/JSON name (``export``).
        title: how people call it (``torch.export``).
        summary: one sentence on what it does.
        views: its tabs, in order.
        detects: the pitfall kinds it can report itself.
        convert: ``convert(job) -> Outcome``; never raises for a conversion failure.
        torchscript: part of TorchScript (deprecated; its deprecation notice is expected).
    """

    name: str
    title: str
    summary: str
    views: tuple[View, ...]
    detects: tuple[str, ...]
    convert: Callable[[Job], Outcome]
    torchscript: bool = False

    def view(self, name: str) -> View:
        """The view called ``name`` (``KeyError`` when the mode has none)."""
        for v in self.views:
            if v.name == name:
                return v
        raise KeyError(name)

    def view_names(self, *, with_on_request: bool = True) -> tuple[str, ...]:
        """The names of the views, optionally without the ones produced only on request."""
        return tuple(v.name for v in self.views if with_on_request or not v.on_request)

    def legacy_keys(self) -> dict[str, str]:
        """Older JSON key -> view name (the TorchScript modes' ``inlined_graph``…)."""
        return {v.legacy: v.name for v in self.views if v.legacy}


#: name -> mode, in the order they are shown; filled at import by the mode modules
REGISTRY: dict[str, CaptureMode] = {}

#: the default selection, and the named groups ``--mode`` accepts besides the names themselves
DEFAULT = "both"
ALIASES: dict[str, tuple[str, ...]] = {}


def register(mode: CaptureMode) -> CaptureMode:
    """Add ``mode`` to :data:`REGISTRY` (at import time of its module)."""
    REGISTRY[mode.name] = mode
    ALIASES["all"] = tuple(REGISTRY)
    return mode


def get(name: str) -> CaptureMode:
    """The mode called ``name``; :class:`InputError` for an unknown one."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise InputError(f"unknown mode {name!r}: use one of {', '.join(mode_choices())}") from None


def names() -> tuple[str, ...]:
    """Every registered mode, in order."""
    return tuple(REGISTRY)


def mode_choices() -> tuple[str, ...]:
    """What ``--mode`` accepts as one word: each mode, ``both`` and ``all``."""
    return (*REGISTRY, *ALIASES)


def parse_modes(spec: str | Collection[str] | None) -> tuple[str, ...]:
    """Turn a mode selection into mode names, in registry order.

    Accepts a name (``export``), a comma list (``export,compile``), ``both`` (= trace,script),
    ``all``, a list of those, or ``None``/empty (the default, ``both``). Raises
    :class:`InputError` with one sentence for anything else.
    """
    if spec is None or spec == "" or (isinstance(spec, (list, tuple)) and len(spec) == 0):
        spec = DEFAULT
    if isinstance(spec, str):
        parts = [p.strip() for p in spec.split(",")]
    elif isinstance(spec, (list, tuple)) and all(isinstance(p, str) for p in spec):
        parts = [p.strip() for p in spec]
    else:
        raise InputError(f"mode must be a text such as 'both', 'all' or 'export,compile', got {type(spec).__name__}")
    chosen: set[str] = set()
    for part in parts:
        if len(part) > 40:
            raise InputError(f"unknown mode {part[:40]!r}…: use one of {', '.join(mode_choices())}")
        if not part:
            continue
        if part in ALIASES:
            chosen.update(ALIASES[part])
        elif part in REGISTRY:
            chosen.add(part)
        else:
            raise InputError(f"unknown mode {part!r}: use one of {', '.join(mode_choices())} (or a comma list)")
    if not chosen:
        raise InputError(f"no mode chosen: use one of {', '.join(mode_choices())}")
    return tuple(n for n in REGISTRY if n in chosen)


def failure(message: str, line: int | None = None, *, seconds: float = 0.0, legacy: Mapping[str, str] | None = None,
            extra: Mapping[str, Any] | None = None) -> ModeResult:
    """A failed :class:`ModeResult` (the one failure factory every mode uses)."""
    return ModeResult(ok=False, error=ModeError(message=message, line=line), seconds=round(seconds, 4),
                      legacy=dict(legacy or {}), extra=dict(extra or {}))


# the modes register themselves when imported, in display order (which is why these imports are not sorted)
from . import trace  # noqa: E402, F401, I001
from . import script  # noqa: E402, F401
from . import export  # noqa: E402, F401
from . import compile  # noqa: E402, F401

ALIASES["both"] = ("trace", "script")
