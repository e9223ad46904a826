"""Open TorchScript (``.pt``) archives — only in the sandbox — and migrate them to ``torch.export``.

Thousands of teams hold files made with ``torch.jit.save`` and must move to ``torch.export`` /
AOTInductor. :func:`inspect_archive` tells what such a file holds, in TorchScript's own terms, and
whether (and how) it migrates:

* **methods** (``forward`` and every ``@torch.jit.export``-ed one) with their schemas, and the views
  ``graph``, ``code`` and ``inlined`` of each;
* the **submodule tree** with parameter and buffer counts and sizes; the **ops** used, with counts
  and a line of documentation;
* the **migration**: ``torch._export.converter.TS2EPConverter`` turns ``forward`` into an
  ``ExportedProgram`` on example inputs made from a shape/dtype spec (prefilled from what the
  archive tells about its inputs), both programs run on the same inputs (``max_abs_diff``), and
  the report says what changed (``prim::If`` -> ``torch.cond``, unrolled ``prim::Loop``\\ s, ops that
  have no node of the same name), what to do with the other methods, or, when the conversion
  fails, on which TorchScript node and what to try. On request the ``.pt2`` (``torch.export.save``)
  and an AOTInductor package come back as bytes.

Safety: an upload is untrusted, and opening a TorchScript archive unpickles its ``data.pkl`` and
``constants.pkl``. Outside the sandbox this module only reads the **zip directory** (names and
sizes, :func:`check_archive`): it refuses empty, truncated, huge, non-zip files, zip bombs, files
with thousands of entries, ``torch.save`` checkpoints and ``.pt2`` packages, each in one sentence,
and never unpickles anything. The bytes travel base64-encoded inside the sandbox request (no path
of the server is shown to the worker, which Landlock keeps out of the server's files anyway); only
the confined worker calls ``torch.jit.load`` (:func:`inspect_here`, never ``torch.load``).

Example::

    >>> from jit_explorer.archive import parse_input_spec, format_input_spec
    >>> format_input_spec(parse_input_spec("float32[1, 3, 224, 224], int64[2,8], 3"))
    'float32[1, 3, 224, 224], int64[2, 8], 3'
"""

from __future__ import annotations

import base64
import io
import re
import time
import types
import typing
import zipfile
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any

from .errors import InputError

__all__ = [
    "ArchiveError", "InputSpec", "ArgInfo", "MethodInfo", "SubmoduleInfo", "OpUse", "Change", "MethodAdvice",
    "AotiPackage", "Migration", "ArchiveReport", "ZipSummary", "MAX_ARCHIVE_BYTES", "MAX_ENTRIES",
    "parse_input_spec", "format_input_spec", "check_archive", "inspect_archive", "inspect_here", "format_text",
    "aoti_cpp_snippet", "warm_up",
]

_MB = 1024 * 1024
#: the largest archive accepted (the app's upload limit too)
MAX_ARCHIVE_BYTES = 200 * _MB
#: more entries than this is not a model archive (a ResNet-152 has about 500)
MAX_ENTRIES = 2000
#: all entries together may unpack to at most this much
MAX_UNPACKED_BYTES = 4 * MAX_ARCHIVE_BYTES
#: a compressed entry that unpacks more than this many times its size is a bomb (torch stores entries uncompressed)
MAX_RATIO = 50
MAX_SPEC_CHARS = 2000
MAX_SPEC_ELEMENTS = 50_000_000
_TOLERANCE = (1e-4, 1e-5)  # rtol, atol of the parity check

# =========================================================================== errors and records


class ArchiveError(InputError):
    """A file that is refused before it is opened (one sentence, ``kind`` says which check)."""

    def __init__(self, message: str, *, kind: str = "archive") -> None:
        super().__init__(message)
        self.kind = kind


def _from_dict(tp: Any, value: Any) -> Any:
    """Rebuild ``tp`` (a dataclass, ``X | None``, ``tuple[X, ...]``, ``dict[str, X]``) from JSON data."""
    if value is None:
        return None
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        real = [a for a in args if a is not type(None)]
        return _from_dict(real[0], value) if len(real) == 1 else value
    if origin is tuple:
        return tuple(_from_dict(args[0], v) for v in value)
    if origin is dict:
        return {k: _from_dict(args[1], v) for k, v in value.items()}
    if isinstance(tp, type) and is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        kwargs = {f.name: _from_dict(hints[f.name], value[f.name]) for f in fields(tp) if f.name in value}
        return tp(**kwargs)
    return value


class _Record:
    """Mixin: ``to_dict()`` (JSON-ready) and ``from_dict()`` for the frozen dataclasses below."""

    def to_dict(self) -> dict[str, Any]:
        """The record as plain JSON data."""
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Any:
        """Rebuild the record from :meth:`to_dict`'s output."""
        return _from_dict(cls, data)


@dataclass(frozen=True)
class InputSpec(_Record):
    """One example input: a tensor (``dtype`` and ``shape``) or a Python number/bool (``value``)."""

    dtype: str | None = None
    shape: tuple[int, ...] | None = None
    value: int | float | bool | None = None

    @property
    def is_tensor(self) -> bool:
        """Whether this input is a tensor."""
        return self.dtype is not None

    def text(self) -> str:
        """The spec as the user types it: ``float32[1, 3, 224, 224]`` or ``3``."""
        if self.dtype is None:
            return repr(self.value)
        dims = "?" if self.shape is None else ", ".join(str(d) for d in self.shape)
        return f"{self.dtype}[{dims}]"


@dataclass(frozen=True)
class ArgInfo(_Record):
    """One argument of a method: its name and TorchScript type."""

    name: str
    type: str


@dataclass(frozen=True)
class MethodInfo(_Record):
    """A method of the archive's top module (``forward`` or an ``@torch.jit.export``-ed one)."""

    name: str
    schema: str
    args: tuple[ArgInfo, ...]
    returns: str
    exported: bool  # True for the methods besides forward (they are in the archive because they were exported)
    nodes: int  # nodes of the inlined graph, sub-blocks included


@dataclass(frozen=True)
class SubmoduleInfo(_Record):
    """One module of the tree: its own parameters and buffers, and the totals of its subtree."""

    name: str  # qualified name as in named_modules(): "layer1.0.conv1"; "" for the top module
    type: str
    depth: int
    params: int
    param_bytes: int
    buffers: int
    buffer_bytes: int
    total_params: int
    total_bytes: int


@dataclass(frozen=True)
class OpUse(_Record):
    """A node kind of the inlined graphs (``aten::conv2d``, ``prim::If``), how often it occurs, what it does."""

    kind: str
    count: int
    doc: str


@dataclass(frozen=True)
class Change(_Record):
    """Something the migration changed: ``cond``, ``loop-unrolled``, ``renamed``, ``no-equivalent``."""

    kind: str
    message: str
    count: int = 0


@dataclass(frozen=True)
class MethodAdvice(_Record):
    """What to do with a method that the converter does not take (it converts ``forward`` only)."""

    name: str
    signature: str
    advice: str


@dataclass(frozen=True)
class AotiPackage(_Record):
    """The AOTInductor package made on request (its bytes travel in ``ArchiveReport.artifacts``)."""

    ok: bool
    error: str | None
    seconds: float
    size_bytes: int
    cpp: str


@dataclass(frozen=True)
class Migration(_Record):
    """``forward`` converted to an ``ExportedProgram`` and checked against the TorchScript module."""

    ok: bool
    error: dict[str, Any] | None  # {"kind", "message", "node": str|None, "hint": str}
    inputs: str  # the spec that was used
    inputs_source: str  # "user", "archive" (recorded types), "weights" (guessed from the first layer's weights)
    seconds: float
    max_abs_diff: float | None
    parity: bool | None
    checks: int  # how many input draws were compared
    graph: str  # the exported program (readable code, control-flow subgraphs included)
    signature: str  # inputs/outputs of the exported program and its dynamic dims
    changes: tuple[Change, ...]
    other_methods: tuple[MethodAdvice, ...]
    pt2_bytes: int | None = None
    aoti: AotiPackage | None = None


@dataclass(frozen=True)
class ArchiveReport(_Record):
    """What a TorchScript archive holds and how it migrates (the JSON of ``inspect --json``).

    ``artifacts`` (``"pt2"``, ``"aoti"`` -> bytes) is not part of :meth:`to_dict`.
    """

    file: str
    ok: bool
    error: dict[str, Any] | None  # {"kind", "message"}
    torch_version: str
    size_bytes: int
    entries: int
    methods: tuple[MethodInfo, ...] = ()
    submodules: tuple[SubmoduleInfo, ...] = ()
    ops: tuple[OpUse, ...] = ()
    views: dict[str, dict[str, str]] = field(default_factory=dict)
    input_spec: str = ""  # the prefilled spec of forward's inputs ("?" where unknown)
    migration: Migration | None = None
    warnings: tuple[str, ...] = ()
    seconds: float = 0.0
    artifacts: dict[str, bytes] = field(default_factory=dict, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of DESIGN.md (``ok``, ``error``, ``methods``, ``submodules``, ``ops``, ``views``,
        ``migration``...)."""
        data = asdict(replace(self, artifacts={}))
        data.pop("artifacts")
        return data

    @classmethod
    def failed(cls, file: str, kind: str, message: str, *, size_bytes: int = 0, entries: int = 0) -> ArchiveReport:
        """A report for a file that could not be inspected."""
        return cls(file=file, ok=False, error={"kind": kind, "message": message}, torch_version=_torch_version(),
                   size_bytes=size_bytes, entries=entries)


def _torch_version() -> str:
    try:
        from importlib.metadata import version

        return version("torch")
    except Exception:  # noqa: BLE001 - a version string is only informative
        return "unknown"


# =========================================================================== input specs

_DTYPES = {
    "float32": "float32", "float": "float32", "f32": "float32", "float64": "float64", "double": "float64",
    "float16": "float16", "half": "float16", "bfloat16": "bfloat16", "int64": "int64", "long": "int64",
    "int32": "int32", "int": "int32", "int16": "int16", "int8": "int8", "uint8": "uint8", "bool": "bool",
}
_ITEM = re.compile(r"\s*(?:(?P<dtype>[A-Za-z]\w*)?\s*\[(?P<dims>[^\]]*)\]"
                   r"|(?P<num>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
                   r"|(?P<word>True|False))\s*(?:,|$)")


def parse_input_spec(text: str) -> tuple[InputSpec, ...]:
    """Parse ``"float32[1, 3, 224, 224], int64[2, 8], 3"`` into input specs.

    A tensor is ``DTYPE[d0, d1, ...]`` (``[...]`` alone is float32; ``[]`` a 0-d tensor); a plain
    number or ``True``/``False`` is a Python scalar argument. Integer tensors get values 0 and 1 (valid
    indices of any embedding), floating ones standard normal values.

    Raises:
        InputError: a spec that cannot be read, a ``?`` left unfilled, an unknown dtype, too many elements.
    """
    if not isinstance(text, str) or len(text) > MAX_SPEC_CHARS:
        raise InputError(f"the input spec must be text of at most {MAX_SPEC_CHARS} characters")
    text = text.strip()
    if not text:
        return ()
    if "?" in text:
        raise InputError(f"the input spec `{text}` has unknown sizes (?): replace each ? with a number, "
                         "e.g. float32[1, 3, 224, 224]")
    specs: list[InputSpec] = []
    pos = 0
    total = 0
    while pos < len(text):
        m = _ITEM.match(text, pos)
        if not m or m.end() == pos:
            raise InputError(f"cannot read the input spec at `{text[pos:pos + 30]}`: write tensors as "
                             "float32[1, 3, 224, 224] and scalars as 3, 0.5 or True, separated by commas")
        pos = m.end()
        if m.group("num") is not None:
            num = m.group("num")
            specs.append(InputSpec(value=float(num) if any(c in num for c in ".eE") else int(num)))
        elif m.group("word") is not None:
            specs.append(InputSpec(value=m.group("word") == "True"))
        else:
            name = (m.group("dtype") or "float32").lower()
            if name not in _DTYPES:
                known = ", ".join(sorted(set(_DTYPES)))
                raise InputError(f"unknown dtype {name!r} in the input spec: use one of {known}")
            dims_text = m.group("dims").strip()
            try:
                dims = tuple(int(d) for d in dims_text.split(",") if d.strip()) if dims_text else ()
            except ValueError:
                raise InputError(f"the sizes `[{dims_text}]` of the input spec must be whole numbers") from None
            if any(d < 0 for d in dims) or len(dims) > 8:
                raise InputError(f"the sizes `[{dims_text}]` must be at most 8 numbers >= 0")
            n = 1
            for d in dims:
                n *= d
            total += n
            specs.append(InputSpec(dtype=_DTYPES[name], shape=dims))
    if total > MAX_SPEC_ELEMENTS:
        raise InputError(f"the example inputs would hold {total:,} elements; the limit is {MAX_SPEC_ELEMENTS:,}")
    if len(specs) > 32:
        raise InputError("at most 32 inputs can be given")
    return tuple(specs)


def format_input_spec(specs: Sequence[InputSpec]) -> str:
    """The text form of ``specs`` (what :func:`parse_input_spec` reads back)."""
    return ", ".join(s.text() for s in specs)


# =========================================================================== the zip directory (server side)


@dataclass(frozen=True)
class ZipSummary(_Record):
    """What the zip directory of a TorchScript archive says (nothing in it was unpacked)."""

    entries: int
    prefix: str
    unpacked_bytes: int
    code_files: int


def _looks_like_pickle(head: bytes) -> bool:
    return len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def check_archive(data: bytes, *, max_bytes: int = MAX_ARCHIVE_BYTES) -> ZipSummary:
    """Refuse what is not a TorchScript archive, reading only the zip directory (names and sizes).

    Nothing is unpickled or unpacked: this runs in the server, before the sandbox.

    Raises:
        ArchiveError: with ``kind`` ``empty``, ``too-large``, ``pickle``, ``not-zip``, ``truncated``,
            ``too-many-entries``, ``zip-bomb``, ``checkpoint``, ``pt2`` or ``not-torchscript``; the
            message is one sentence saying what the file is and what to do.
    """
    size = len(data)
    if size == 0:
        raise ArchiveError("The file is empty (0 bytes): upload the .pt file that torch.jit.save wrote.", kind="empty")
    if size > max_bytes:
        raise ArchiveError(f"The file is {size / _MB:.0f} MB; the limit is {max_bytes // _MB} MB: inspect it "
                           "locally with `jit-explorer inspect FILE.pt`, where the limit does not apply.",
                           kind="too-large")
    head = bytes(data[:8])
    if _looks_like_pickle(head):
        raise ArchiveError("This is a torch.save checkpoint in the old pickle format, not a TorchScript archive: load "
                           "the weights into the model class in Python (torch.load(path, weights_only=True) and "
                           "load_state_dict), then export it with torch.export.export.", kind="pickle")
    if not head.startswith(b"PK\x03\x04"):
        raise ArchiveError("This is not a TorchScript archive (not even a zip file): open the .pt file written by "
                           "torch.jit.save.", kind="not-zip")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as e:
        raise ArchiveError("The file is truncated or damaged (it starts like a zip archive but its directory "
                           f"cannot be read: {str(e)[:80]}): download or copy it again.", kind="truncated") from None
    if len(infos) > MAX_ENTRIES:
        raise ArchiveError(f"The archive has {len(infos):,} entries; a model archive has a few hundred and the limit "
                           f"is {MAX_ENTRIES:,}, so it is refused unopened.", kind="too-many-entries")
    unpacked = sum(i.file_size for i in infos)
    for i in infos:
        if i.compress_type != zipfile.ZIP_STORED and i.file_size > MAX_RATIO * max(i.compress_size, 1) + _MB:
            raise ArchiveError(f"The entry {i.filename[:60]!r} unpacks to {i.file_size / _MB:,.0f} MB from "
                               f"{i.compress_size / 1024:,.0f} KB (a zip bomb), so the file is refused unopened.",
                               kind="zip-bomb")
    if unpacked > MAX_UNPACKED_BYTES or any(i.file_size > i.compress_size + 64 and i.compress_type == zipfile.ZIP_STORED
                                            for i in infos):
        raise ArchiveError(f"The archive claims to unpack to {unpacked / _MB:,.0f} MB from {size / _MB:,.1f} MB (a zip "
                           "bomb or a forged directory), so it is refused unopened.", kind="zip-bomb")
    names = [i.filename for i in infos]
    prefixes = {n.split("/", 1)[0] for n in names if "/" in n}
    prefix = next(iter(prefixes)) if len(prefixes) == 1 else ""
    rel = [n.split("/", 1)[1] for n in names if "/" in n]
    code = sum(1 for n in rel if n.startswith("code/") and n.endswith(".py"))
    has_constants = "constants.pkl" in rel
    if any(r == "archive_format" or (r.startswith("models/") and r.endswith(".json"))
           or r.endswith("serialized_exported_program.json") for r in rel):
        raise ArchiveError("This is a torch.export .pt2 package, not a TorchScript archive: it is already migrated; "
                           "load it with torch.export.load (or AOTIModelPackageLoader in C++).", kind="pt2")
    if not prefix or not (code and has_constants):
        if "data.pkl" in rel:
            raise ArchiveError("This is a torch.save checkpoint (a state_dict or a pickled module), not a TorchScript "
                               "archive: load the weights into the model class in Python (model.load_state_dict("
                               "torch.load(path, weights_only=True))), then export it with torch.export.export.",
                               kind="checkpoint")
        raise ArchiveError("This zip file is not a TorchScript archive (it has no code/ and constants.pkl inside): "
                           "open a .pt file written by torch.jit.save.", kind="not-torchscript")
    return ZipSummary(entries=len(infos), prefix=prefix, unpacked_bytes=unpacked, code_files=code)


# =========================================================================== public entry point


def _read(source: str | Path | bytes, filename: str | None) -> tuple[bytes, str]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), Path(filename or "archive.pt").name
    path = Path(source)
    label = Path(filename).name if filename else path.name
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise InputError(f"{label}: no such file") from None
    except OSError as e:
        raise InputError(f"{label}: cannot read it ({e.__class__.__name__})") from None
    if not path.is_file():
        raise InputError(f"{label}: not a file")
    if size > MAX_ARCHIVE_BYTES:  # refuse before reading it
        raise ArchiveError(f"The file is {size / _MB:.0f} MB; the limit is {MAX_ARCHIVE_BYTES // _MB} MB: split the "
                           "model or inspect a smaller export of it.", kind="too-large")
    try:
        return path.read_bytes(), label
    except OSError as e:
        raise InputError(f"{label}: cannot read it ({e.__class__.__name__})") from None


def inspect_archive(
    source: str | Path | bytes,
    *,
    filename: str | None = None,
    inputs: str = "",
    migrate: bool = True,
    pt2: bool = False,
    aoti: bool = False,
    limits: Any = None,
    pool: Any = None,
) -> ArchiveReport:
    """Inspect a TorchScript archive in the sandbox and migrate its ``forward`` to ``torch.export``.

    Args:
        source: the archive's path, or its bytes.
        filename: the name shown for it (default: the path's name); no directory of it is shown.
        inputs: example inputs as a spec (:func:`parse_input_spec`); empty: prefilled from the archive.
        migrate: convert ``forward`` with ``TS2EPConverter`` and check parity.
        pt2: also return the ``.pt2`` (``torch.export.save``) in ``report.artifacts["pt2"]``.
        aoti: also build an AOTInductor package (tens of seconds) in ``report.artifacts["aoti"]``.
        limits: sandbox limits (default: the pool's); raised here to fit the archive's size.
        pool: the sandbox pool (default :func:`jit_explorer.sandbox.default_pool`).

    Returns:
        The :class:`ArchiveReport`. A file that is refused (not TorchScript, truncated, too large, a
        checkpoint, a zip bomb...) or that the sandbox could not open is a report with ``ok=False``
        and an ``error`` whose message is one sentence; the file is never unpickled in this process.

    Raises:
        InputError: the path does not exist or cannot be read; an input spec that cannot be read.
        SandboxError: the sandbox itself could not run.
    """
    from . import sandbox

    try:
        data, label = _read(source, filename)
    except ArchiveError as e:
        return ArchiveReport.failed(Path(filename or str(source)).name, e.kind, str(e))
    try:
        summary = check_archive(data)
    except ArchiveError as e:
        return ArchiveReport.failed(label, e.kind, str(e), size_bytes=len(data))
    parse_input_spec(inputs)  # a bad spec is the caller's mistake: raise before any process is used
    pool = pool or sandbox.default_pool()
    base = limits or pool.limits
    size_mb = len(data) // _MB + 1
    wall = max(base.wall_s, 60.0) + (600.0 if aoti else 0.0)
    lim = replace(base, wall_s=wall, cpu_s=max(base.cpu_s, int(wall * 2)),
                  result_mb=max(base.result_mb, 8 + (3 * size_mb if (pt2 or aoti) else 0)))
    if aoti:
        lim = replace(lim, file_mb=max(lim.file_mb, 2 * size_mb + 256), disk_mb=max(lim.disk_mb, 4 * size_mb + 1024),
                      processes=max(lim.processes, 64), memory_mb=max(lim.memory_mb, 4096))
    request = {"op": "inspect", "archive_b64": base64.b64encode(data).decode("ascii"), "filename": label,
               "inputs": inputs, "migrate": migrate, "pt2": pt2, "aoti": aoti}
    del data
    report = sandbox.run_request(request, limits=lim, pool=pool)
    if not report.get("ok") or "archive" not in report:
        err = report.get("error") or {}
        return ArchiveReport.failed(label, err.get("kind", "sandbox"),
                                    _one_line(err.get("message", "the sandboxed inspection failed")),
                                    size_bytes=summary.unpacked_bytes, entries=summary.entries)
    result: ArchiveReport = ArchiveReport.from_dict(report["archive"])
    artifacts = {k: base64.b64decode(v) for k, v in (report.get("artifacts") or {}).items() if isinstance(v, str)}
    return replace(result, file=label, artifacts=artifacts)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())[:600]


# =========================================================================== worker side (in the sandbox only)

_PRIM_DOCS = {
    "prim::Constant": "a constant value (number, string, None, tensor, list) baked into the graph",
    "prim::GetAttr": "reads an attribute of a module: a submodule, parameter, buffer or constant",
    "prim::SetAttr": "writes an attribute of a module (module state mutated at run time)",
    "prim::CallMethod": "calls a method of a submodule (the `inlined` view replaces it by the method's graph)",
    "prim::CallFunction": "calls a TorchScript function",
    "prim::If": "data-dependent branch: runs one of its two blocks (torch.export: torch.cond)",
    "prim::Loop": "a loop (for/while) with a trip count and a condition (torch.export unrolls fixed ones)",
    "prim::ListConstruct": "builds a list from its inputs",
    "prim::ListUnpack": "unpacks a list into values",
    "prim::TupleConstruct": "builds a tuple from its inputs",
    "prim::TupleUnpack": "unpacks a tuple into values",
    "prim::TupleIndex": "indexes a tuple",
    "prim::DictConstruct": "builds a dict from keys and values",
    "prim::NumToTensor": "wraps a Python number in a 0-d tensor (typical of traced shapes)",
    "prim::device": "the device of a tensor",
    "prim::dtype": "the dtype of a tensor",
    "prim::unchecked_cast": "a type refinement after an is-None / isinstance check",
    "prim::RaiseException": "raises an exception (an assert or raise in the source)",
    "prim::Uninitialized": "a placeholder value on a path that raises",
    "prim::min": "minimum of numbers or a list",
    "prim::max": "maximum of numbers or a list",
    "prim::isinstance": "an isinstance check, resolved at compile time when possible",
    "prim::Print": "print() in TorchScript",
    "prim::data": "the tensor's data without autograd history (x.data)",
    "prim::shape": "the shape of a tensor as a list of ints",
    "prim::layout": "the layout of a tensor",
    "prim::requires_grad": "whether a tensor requires grad",
    "prim::Enter": "enters a with-block",
    "prim::Exit": "leaves a with-block",
}


def _op_doc(kind: str) -> str:
    """One line about a node kind: the project's op docs (:mod:`jit_explorer.opdocs`), else torch's docstring."""
    try:
        from .opdocs import doc_for

        found = doc_for(kind)
        if found is not None and found.summary:
            return found.summary[:300]
    except Exception:  # noqa: BLE001 - fall back to the local table
        pass
    if kind in _PRIM_DOCS:
        return _PRIM_DOCS[kind]
    import torch

    ns, _, name = kind.partition("::")
    if ns == "aten":
        for owner in (torch.nn.functional, torch, torch.Tensor):
            doc = getattr(getattr(owner, name, None), "__doc__", None) or getattr(
                getattr(owner, name.lstrip("_"), None), "__doc__", None)
            if doc:
                paras = [p.strip() for p in doc.strip().split("\n\n") if p.strip()]
                for p in paras:
                    if "(" in p.split("\n", 1)[0] and ("->" in p or p.split("\n", 1)[0].rstrip().endswith(")")):
                        continue  # a signature line
                    sentence = _RST.sub(r"\1", " ".join(p.split()))
                    sentence = sentence.split(". ")[0].rstrip(".") + "."
                    return sentence[:200]
    try:
        schemas = torch._C._jit_get_schemas_for_operator(kind)
        if schemas:
            return str(schemas[0])[:200]
    except Exception:  # noqa: BLE001 - documentation is best effort
        pass
    return ""


def _walk(block: Any) -> Iterator[Any]:
    for node in block.nodes():
        yield node
        for sub in node.blocks():
            yield from _walk(sub)


def _cut(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    head = text[:max_chars]
    head = head[: head.rfind("\n") + 1] or head
    return head + (f"# … truncated by JIT Explorer: {head.count(chr(10))} of {text.count(chr(10)) + 1} lines shown "
                   f"({len(text) - len(head)} more characters)\n")


_MANGLE = re.compile(r"\.___torch_mangle_\d+")


def _type_name(mod: Any) -> str:
    try:
        name = str(mod._c._type().qualified_name())
    except Exception:  # noqa: BLE001
        name = getattr(mod, "original_name", type(mod).__name__)
    return _MANGLE.sub("", name.removeprefix("__torch__."))


def _submodules(module: Any) -> tuple[SubmoduleInfo, ...]:
    rows = []
    for path, mod in module.named_modules():
        params = list(mod.parameters(recurse=False))
        buffers = list(mod.buffers(recurse=False))
        all_t = list(mod.parameters()) + list(mod.buffers())
        rows.append(SubmoduleInfo(
            name=path, type=_type_name(mod), depth=path.count(".") + 1 if path else 0,
            params=sum(p.numel() for p in params), param_bytes=sum(p.numel() * p.element_size() for p in params),
            buffers=sum(b.numel() for b in buffers), buffer_bytes=sum(b.numel() * b.element_size() for b in buffers),
            total_params=sum(p.numel() for p in mod.parameters()),
            total_bytes=sum(t.numel() * t.element_size() for t in all_t)))
    return tuple(rows)


def _inlined(graph: Any) -> Any:
    import torch

    g = graph.copy()
    torch._C._jit_pass_inline(g)
    return g


def _methods_and_views(module: Any, max_chars: int
                       ) -> tuple[tuple[MethodInfo, ...], dict[str, dict[str, str]], Counter[str]]:
    names = list(module._c._method_names())
    names.sort(key=lambda n: (n != "forward", n))
    methods = []
    views: dict[str, dict[str, str]] = {}
    ops: Counter[str] = Counter()
    for name in names:
        meth = module._c._get_method(name)
        schema = meth.schema
        args = tuple(ArgInfo(a.name, str(a.type)) for a in schema.arguments[1:])
        returns = ", ".join(str(r.type) for r in schema.returns)
        inlined = _inlined(meth.graph)
        kinds = [n.kind() for n in _walk(inlined)]
        ops.update(kinds)
        methods.append(MethodInfo(name=name, schema=str(schema), args=args, returns=returns,
                                  exported=name != "forward", nodes=len(kinds)))
        views[name] = {"graph": _cut(str(meth.graph), max_chars), "code": _cut(meth.code, max_chars),
                       "inlined": _cut(str(inlined), max_chars)}
    return tuple(methods), views, ops


# --------------------------------------------------------------------------- guessing forward's inputs

_PASS_THROUGH = {"aten::relu", "aten::dropout", "aten::contiguous", "aten::clone", "aten::detach", "aten::to",
                 "aten::float", "aten::type_as", "aten::feature_dropout", "aten::alpha_dropout", "aten::gelu",
                 "aten::tanh", "aten::sigmoid", "aten::mul", "aten::add", "aten::sub", "aten::div", "aten::neg",
                 "aten::abs", "aten::relu_", "aten::hardtanh", "aten::leaky_relu", "aten::silu", "aten::clamp"}


def _attr_tensor(value: Any, module: Any) -> Any:
    """The tensor a chain of ``prim::GetAttr`` from ``self`` leads to, or None."""
    path = []
    while value.node().kind() == "prim::GetAttr":
        path.append(value.node().s("name"))
        value = value.node().input()
    if value.node().kind() != "prim::Param" or not path:
        return None
    obj = module
    for name in reversed(path):
        obj = getattr(obj, name, None)
        if obj is None:
            return None
    import torch

    return obj if isinstance(obj, torch.Tensor) else None


def _guess_from_uses(value: Any, module: Any, depth: int = 0) -> InputSpec | None:
    """Guess one tensor input's shape from the weights of the first layer it feeds (linear, conv, embedding)."""
    if depth > 6:
        return None
    for use in value.uses():
        node, offset = use.user, use.offset
        kind = node.kind()
        inputs = list(node.inputs())
        if kind in ("aten::linear", "aten::matmul", "aten::mm") and offset == 0 and len(inputs) > 1:
            w = _attr_tensor(inputs[1], module)
            if w is not None and w.dim() == 2:
                return InputSpec(dtype="float32", shape=(2, int(w.shape[1] if kind == "aten::linear" else w.shape[0])))
        if kind in ("aten::_convolution", "aten::conv1d", "aten::conv2d", "aten::conv3d") and offset == 0:
            w = _attr_tensor(inputs[1], module)
            if w is not None and 3 <= w.dim() <= 5:
                groups = 1
                g_at = 8 if kind == "aten::_convolution" else 6
                if len(inputs) > g_at and inputs[g_at].node().kind() == "prim::Constant":
                    groups = int(inputs[g_at].toIValue() or 1)
                channels = int(w.shape[1]) * groups
                spatial = {3: (64,), 4: (224, 224) if channels == 3 else (32, 32), 5: (8, 32, 32)}[w.dim()]
                return InputSpec(dtype="float32", shape=(2, channels, *spatial))
        if kind == "aten::embedding" and offset == 1:
            return InputSpec(dtype="int64", shape=(2, 8))
        if kind in _PASS_THROUGH and offset == 0:
            found = _guess_from_uses(node.output(), module, depth + 1) if node.outputsSize() == 1 else None
            if found is not None:
                return found
    return None


def _prefill(module: Any) -> tuple[tuple[InputSpec | None, ...], str]:
    """Forward's example inputs as far as the archive tells: recorded tensor types, else the first layer's weights."""
    meth = module._c._get_method("forward")
    graph = _inlined(meth.graph)
    specs: list[InputSpec | None] = []
    source = "archive"
    for value in list(graph.inputs())[1:]:
        t = value.type()
        kind = t.kind()
        if kind == "TensorType":
            sizes, dtype = t.sizes(), t.dtype() if hasattr(t, "dtype") else None
            if sizes is not None and all(s is not None for s in sizes) and dtype is not None:
                specs.append(InputSpec(dtype=str(dtype).removeprefix("torch."), shape=tuple(int(s) for s in sizes)))
                continue
            guess = _guess_from_uses(value, module)
            if guess is not None:
                source = "weights"
            specs.append(guess)
        elif kind == "IntType":
            specs.append(InputSpec(value=1))
        elif kind == "FloatType":
            specs.append(InputSpec(value=1.0))
        elif kind == "BoolType":
            specs.append(InputSpec(value=False))
        else:
            specs.append(None)
    return tuple(specs), source


def _spec_text(specs: Sequence[InputSpec | None]) -> str:
    return ", ".join(s.text() if s is not None else "?" for s in specs)


def _make_inputs(specs: Sequence[InputSpec], seed: int) -> tuple[Any, ...]:
    import torch

    gen = torch.Generator().manual_seed(seed)
    out: list[Any] = []
    for s in specs:
        if not s.is_tensor:
            out.append(s.value)
            continue
        dtype = getattr(torch, s.dtype or "float32")
        shape = s.shape or ()
        if dtype.is_floating_point:
            out.append(torch.randn(shape, generator=gen).to(dtype))
        elif dtype == torch.bool:
            out.append(torch.randint(0, 2, shape, generator=gen).bool())
        else:
            out.append(torch.randint(0, 2, shape, generator=gen).to(dtype))
    return tuple(out)


# --------------------------------------------------------------------------- migration


def _max_diff(a: Any, b: Any) -> float:
    import torch
    from torch.utils._pytree import tree_leaves

    la, lb = tree_leaves(a), tree_leaves(b)
    if len(la) != len(lb):
        return float("inf")
    worst = 0.0
    for x, y in zip(la, lb, strict=True):
        if isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor):
            if x.shape != y.shape:
                return float("inf")
            if x.numel():
                d = (x.detach().double() - y.detach().double()).abs().max().item()
                worst = max(worst, d if d == d else float("inf"))
        elif x != y:
            return float("inf")
    return worst


def _close(a: Any, b: Any) -> bool:
    import torch
    from torch.utils._pytree import tree_leaves

    rtol, atol = _TOLERANCE
    la, lb = tree_leaves(a), tree_leaves(b)
    if len(la) != len(lb):
        return False
    for x, y in zip(la, lb, strict=True):
        if isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor):
            if x.shape != y.shape or not torch.allclose(x.double(), y.double(), rtol=rtol, atol=atol, equal_nan=True):
                return False
        elif x != y:
            return False
    return True


def _negated(inputs: tuple[Any, ...]) -> tuple[Any, ...]:
    import torch

    return tuple(-x if isinstance(x, torch.Tensor) and x.dtype.is_floating_point else x for x in inputs)


_RST = re.compile(r":\w+:`([^`]*)`")
_STRIP = ("# Annotation:", "# No stacktrace found", "# File:")


def _ep_views(ep: Any) -> tuple[str, str]:
    text = ep.graph_module.print_readable(print_output=False, include_stride=False, include_device=False,
                                          colored=False)
    lines = [ln for ln in text.splitlines() if not ln.strip().startswith(_STRIP)]
    signature = str(ep.graph_signature)
    if ep.range_constraints:
        signature += "\n# dynamic dims (Dim.AUTO): " + ", ".join(f"{k}: {v}" for k, v in ep.range_constraints.items())
    return "\n".join(lines).rstrip() + "\n", signature.rstrip() + "\n"


def _ep_targets(ep: Any) -> Counter[str]:
    seen: Counter[str] = Counter()
    for gm in ep.graph_module.modules():
        graph = getattr(gm, "graph", None)
        if graph is None:
            continue
        for node in graph.nodes:
            if node.op == "call_function":
                seen[str(node.target)] += 1
    return seen


_FOLDED = {"size", "Int", "Bool", "Float", "ScalarImplicit", "dim", "len", "__getitem__", "list", "eq", "ne",
           "__is__", "__isnot__", "format", "warn", "numel", "item"}


def _changes(ts_graph: Any, ep: Any) -> tuple[Change, ...]:
    ts_kinds = Counter(n.kind() for n in _walk(ts_graph))
    targets = _ep_targets(ep)
    out: list[Change] = []
    n_if, n_cond = ts_kinds.get("prim::If", 0), sum(c for t, c in targets.items() if t.split(".")[-1] == "cond")
    if n_if:
        msg = (f"prim::If ×{n_if} became torch.cond ×{n_cond}: both branches are kept in the exported program "
               "(true_graph_N / false_graph_N) and chosen at run time")
        if n_cond < n_if:
            msg += f"; {n_if - n_cond} had a condition known at export time and kept only the branch taken"
        out.append(Change("cond", msg, n_cond))
    n_loop = ts_kinds.get("prim::Loop", 0)
    if n_loop:
        out.append(Change("loop-unrolled", f"prim::Loop ×{n_loop} was unrolled: the exported program repeats the "
                                           "body for the trip count of these inputs, so another trip count needs "
                                           "another export (or torch.scan / a while_loop written in Python)", n_loop))
    ep_ops = {t.split(".")[1] if t.startswith("aten.") else t for t in targets}
    gone = {k: c for k, c in ts_kinds.items() if k.startswith("aten::") and k[6:] not in ep_ops
            and k[6:].rstrip("_") not in ep_ops}
    structural = {k: c for k, c in gone.items() if k[6:] in _FOLDED}
    renamed = {k: c for k, c in gone.items() if k not in structural}
    if renamed:
        new = sorted(t for t in targets if t.startswith("aten.") and f"aten::{t.split('.')[1]}" not in ts_kinds)
        out.append(Change("renamed", "TorchScript ops with no node of the same name in the exported program: "
                                     + ", ".join(f"{k} ×{c}" for k, c in sorted(renamed.items()))
                                     + ("; new there: " + ", ".join(new) if new else "")
                                     + " (core ATen overloads replace TorchScript's internal variants)",
                          sum(renamed.values())))
    if structural:
        out.append(Change("folded", "shape and Python-value ops folded into the exported program's symbolic shapes or "
                                    "constants: " + ", ".join(f"{k} ×{c}" for k, c in sorted(structural.items())),
                          sum(structural.values())))
    return tuple(out)


_HINTS = (
    ("dynamic value of number of iterations", "the loop's trip count depends on the inputs: export can only unroll "
     "loops of a fixed count. Rebuild the model in Python and rewrite the loop with a fixed count, torch.scan or "
     "torch._higher_order_ops.while_loop, then torch.export.export it"),
    ("dynamic value of condition", "a while-loop whose condition changes inside the loop cannot be converted: rebuild "
     "it in Python with torch._higher_order_ops.while_loop"),
    ("Unsupported", "this TorchScript construct has no torch.export equivalent in the converter: rebuild the model "
     "in Python (load the weights from the archive's state_dict) and export it with torch.export.export"),
)


def _failure_hint(message: str, node_kind: str | None) -> str:
    for needle, hint in _HINTS:
        if needle in message:
            return hint
    if node_kind == "prim::If":
        return ("a branch could not become torch.cond (both branches must return tensors of the same shape and "
                "dtype): rebuild the model in Python and write the branch with torch.cond or torch.where")
    if node_kind in ("prim::CallFunction", "prim::CallMethod"):
        return ("a call could not be inlined: freeze the module (torch.jit.freeze) and convert again, or export "
                "from Python")
    return ("rebuild the model in Python (its weights load from the archive: torch.jit.load(path).state_dict()) and "
            "call torch.export.export(model, inputs); if one op is the problem, replace it with an equivalent ATen op")


def _unsupported_nodes(module: Any, inputs: tuple[Any, ...]) -> list[str]:
    from torch._export.converter import TS2EPConverter

    try:
        text = TS2EPConverter(module, inputs).explain(print_output=False)
    except Exception:  # noqa: BLE001 - the explanation is best effort
        return []
    return [ln.split(". ", 1)[1].strip() for ln in text.splitlines() if re.match(r"\s+\d+\. ", ln)]


def _advice(methods: Sequence[MethodInfo]) -> tuple[MethodAdvice, ...]:
    out = []
    for m in methods:
        if m.name == "forward":
            continue
        sig = f"{m.name}({', '.join(f'{a.name}: {a.type}' for a in m.args)}) -> {m.returns}"
        names = ", ".join(a.name for a in m.args)
        out.append(MethodAdvice(name=m.name, signature=sig, advice=(
            f"torch.export makes one program per entry point and the converter takes forward only: export "
            f"{m.name} as its own program from Python — a wrapper module whose forward({names}) returns "
            f"model.{m.name}({names}), then torch.export.export(wrapper, example_inputs) — and save one .pt2 "
            "per method")))
    return tuple(out)


@contextmanager
def _quiet_converter() -> Iterator[None]:
    """Silence the converter's logger (it logs whole graphs at INFO) and restore it."""
    import logging

    logs = [logging.getLogger(n) for n in ("torch._export.converter", "torch._export.non_strict_utils")]
    before = [log.disabled for log in logs]
    for log in logs:
        log.disabled = True
    try:
        yield
    finally:
        for log, was in zip(logs, before, strict=True):
            log.disabled = was


def _migrate(module: Any, specs: Sequence[InputSpec], source: str, methods: Sequence[MethodInfo], *,
             want_pt2: bool, want_aoti: bool, max_chars: int, workdir: Path | None,
             artifacts: dict[str, str]) -> Migration:
    import torch

    started = time.perf_counter()
    text = format_input_spec(specs)
    advice = _advice(methods)

    def failed(kind: str, message: str, node: str | None = None, hint: str = "") -> Migration:
        return Migration(ok=False, error={"kind": kind, "message": message, "node": node, "hint": hint}, inputs=text,
                         inputs_source=source, seconds=round(time.perf_counter() - started, 3), max_abs_diff=None,
                         parity=None, checks=0, graph="", signature="", changes=(), other_methods=advice)

    inputs = _make_inputs(specs, 0)
    try:
        with torch.no_grad():
            expected = module(*inputs)
    except Exception as e:  # noqa: BLE001 - wrong inputs are the usual cause
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        return failed("inputs", f"the TorchScript module does not run on {text}: {_one_line(first)[:300]}",
                      hint="give the inputs forward expects, e.g. --inputs 'float32[1, 3, 224, 224]' (in the app: the "
                           "Inputs box)")
    from torch._export.converter import TS2EPConverter

    try:
        with _quiet_converter(), torch.no_grad():
            converter = TS2EPConverter(module, inputs)
            ts_graph = converter.ts_graph.copy()
            ep = converter.convert()
    except Exception as e:  # noqa: BLE001 - report which node failed and what to try
        chain: list[str] = []
        cause: BaseException | None = e
        while cause is not None and len(chain) < 6:
            chain.append(str(cause).splitlines()[0] if str(cause) else type(cause).__name__)
            cause = cause.__cause__ or cause.__context__
        m = re.search(r"failed for node (\S+)", " ".join(chain))
        node_kind = m.group(1) if m else None
        nodes = _unsupported_nodes(module, inputs)
        where = nodes[0] if nodes else node_kind
        message = "TS2EPConverter failed" + (f" on the node `{where}`" if where else "") + ": " + _one_line(
            " — ".join(c for c in chain if "failed for node" not in c) or chain[0])[:400]
        return failed("convert", message, node=where, hint=_failure_hint(" ".join(chain), node_kind))
    # the negated inputs flip the sign tests of data-dependent branches: worth a second run only when there are some
    branches = any(n.kind() == "prim::If" for n in _walk(ts_graph))
    draws = [inputs, _negated(inputs)] if branches else [inputs]
    worst, parity = 0.0, True
    try:
        with torch.no_grad():
            prog = ep.module()
            for i, args in enumerate(draws):
                ref = expected if i == 0 else module(*args)
                got = prog(*args)
                worst = max(worst, _max_diff(ref, got))
                parity = parity and _close(ref, got)
    except Exception as e:  # noqa: BLE001
        return failed("run", f"the exported program does not run on {text}: {_one_line(str(e))[:300]}",
                      hint="export specialised something these inputs do not meet; export from Python with the "
                           "shapes you deploy")
    graph, signature = _ep_views(ep)
    pt2_bytes = None
    if want_pt2:
        buf = io.BytesIO()
        torch.export.save(ep, buf)
        pt2_bytes = len(buf.getvalue())
        artifacts["pt2"] = base64.b64encode(buf.getvalue()).decode("ascii")
    aoti = _aoti(ep, specs, workdir, artifacts) if want_aoti and workdir is not None else None
    return Migration(ok=True, error=None, inputs=text, inputs_source=source,
                     seconds=round(time.perf_counter() - started, 3),
                     max_abs_diff=worst if worst != float("inf") else None,
                     parity=parity, checks=len(draws), graph=_cut(graph, max_chars), signature=signature,
                     changes=_changes(ts_graph, ep), other_methods=advice, pt2_bytes=pt2_bytes, aoti=aoti)


def aoti_cpp_snippet(package: str, specs: Sequence[InputSpec]) -> str:
    """C++ that loads an AOTInductor package with ``AOTIModelPackageLoader`` and runs it once."""
    tensors = [s for s in specs if s.is_tensor] or [InputSpec(dtype="float32", shape=(1, 3, 224, 224))]
    kinds = {"float32": "torch::kFloat32", "float64": "torch::kFloat64", "float16": "torch::kFloat16",
             "bfloat16": "torch::kBFloat16", "int64": "torch::kInt64", "int32": "torch::kInt32",
             "int16": "torch::kInt16", "int8": "torch::kInt8", "uint8": "torch::kUInt8", "bool": "torch::kBool"}
    lines = []
    for s in tensors:
        dims = ", ".join(str(d) for d in (s.shape or ()))
        fn = "torch::randn" if (s.dtype or "float32").startswith(("float", "bfloat")) else "torch::zeros"
        lines.append(f"      {fn}({{{dims}}}, torch::dtype({kinds.get(s.dtype or 'float32', 'torch::kFloat32')})),")
    return (
        "// CMake: find_package(Torch REQUIRED); target_link_libraries(app \"${TORCH_LIBRARIES}\")\n"
        "#include <torch/csrc/inductor/aoti_package/model_package_loader.h>\n"
        "#include <torch/torch.h>\n#include <iostream>\n\n"
        "int main() {\n"
        "  c10::InferenceMode no_grad;\n"
        f"  torch::inductor::AOTIModelPackageLoader loader(\"{package}\");\n"
        "  std::vector<at::Tensor> inputs = {\n" + "\n".join(lines) + "\n  };\n"
        "  std::vector<at::Tensor> outputs = loader.run(inputs);\n"
        "  std::cout << outputs[0].sizes() << std::endl;\n"
        "}\n"
    )


@contextmanager
def _inductor_in(workdir: Path) -> Iterator[None]:
    """Point Inductor's cache and precompiled-header dirs into ``workdir`` (the zygote fixed them at import),
    with one compile thread; restores them."""
    import torch._inductor.codecache as codecache
    import torch._inductor.config as inductor_config
    from torch._inductor.runtime.cache_dir_utils import temporary_cache_dir

    headers, locks, threads = codecache._HEADER_DIR, codecache._HEADER_LOCK_DIR, inductor_config.compile_threads
    codecache._HEADER_DIR = str(workdir / "inductor-cache" / "precompiled_headers")
    codecache._HEADER_LOCK_DIR = str(workdir / "inductor-cache" / "precompiled_headers" / "locks")
    inductor_config.compile_threads = 1
    try:
        with temporary_cache_dir(str(workdir / "inductor-cache")):
            yield
    finally:
        codecache._HEADER_DIR, codecache._HEADER_LOCK_DIR, inductor_config.compile_threads = headers, locks, threads


def _aoti(ep: Any, specs: Sequence[InputSpec], workdir: Path, artifacts: dict[str, str]) -> AotiPackage:
    """Compile ``ep`` with AOTInductor into a package inside the sandbox's work directory."""
    started = time.perf_counter()
    cpp = aoti_cpp_snippet("model.pt2", specs)
    try:
        import torch

        path = workdir / "model_aoti.pt2"
        with _inductor_in(workdir):
            torch._inductor.aoti_compile_and_package(ep, package_path=str(path))
        data = path.read_bytes()
        artifacts["aoti"] = base64.b64encode(data).decode("ascii")
        return AotiPackage(ok=True, error=None, seconds=round(time.perf_counter() - started, 2), size_bytes=len(data),
                           cpp=cpp)
    except Exception as e:  # noqa: BLE001 - packaging is optional: say why it failed
        return AotiPackage(ok=False, error=_one_line(f"{type(e).__name__}: {e}")[:500],
                           seconds=round(time.perf_counter() - started, 2), size_bytes=0, cpp=cpp)


def _failed_dict(file: str, kind: str, message: str, size: int = 0, entries: int = 0) -> dict[str, Any]:
    report = ArchiveReport.failed(file, kind, message, size_bytes=size, entries=entries)
    return {"ok": True, "archive": report.to_dict()}


def inspect_here(request: dict[str, Any], workdir: Path | None = None) -> dict[str, Any]:
    """The sandbox worker's side of ``{"op": "inspect"}``: open the archive and migrate it.

    Only ever called in the confined user process (:mod:`jit_explorer.sandbox.worker`). Returns
    ``{"ok": true, "archive": <ArchiveReport dict>, "artifacts": {name: base64}}``.
    """
    import warnings

    import torch

    started = time.perf_counter()
    label = Path(str(request.get("filename") or "archive.pt")).name
    max_chars = int((request.get("limits") or {}).get("ir_chars", 200_000))
    data = base64.b64decode(request.pop("archive_b64", "") or "")
    try:
        summary = check_archive(data)  # again, here: the request may not come from inspect_archive
    except ArchiveError as e:
        return _failed_dict(label, e.kind, str(e), len(data))
    caught: list[str] = []
    artifacts: dict[str, str] = {}
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        try:
            module = torch.jit.load(io.BytesIO(data), map_location="cpu")
        except MemoryError:
            return _failed_dict(label, "memory", "The archive needs more memory than the sandbox allows to open it.",
                                len(data), summary.entries)
        except Exception as e:  # noqa: BLE001 - a damaged or hostile archive
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            return _failed_dict(label, "load", f"torch.jit.load could not open this archive "
                                f"({_one_line(first)[:200]}): it is damaged, was written by a much newer torch, "
                                "or is not a TorchScript module.",
                                len(data), summary.entries)
        size = len(data)
        del data
        if not hasattr(module, "_c") or not module._c._has_method("forward"):
            return _failed_dict(label, "no-forward", "The archive holds a TorchScript module without a forward method: "
                                "there is nothing to run or export.", size, summary.entries)
        methods, views, op_counts = _methods_and_views(module, max_chars)
        submodules = _submodules(module)
        ranked = sorted(op_counts.items(), key=lambda kv: (-kv[1], kv[0]))
        ops = tuple(OpUse(kind=k, count=c, doc=_op_doc(k)) for k, c in ranked)
        prefilled, source = _prefill(module)
        spec_text = _spec_text(prefilled)
        migration = None
        if request.get("migrate", True):
            user = str(request.get("inputs") or "").strip()
            try:
                specs = parse_input_spec(user) if user else None
            except InputError as e:
                specs, source = None, "user"
                migration = _no_inputs(str(e), user, methods)
            if specs is not None:
                source = "user"
            elif migration is None and all(s is not None for s in prefilled):
                specs = tuple(s for s in prefilled if s is not None)
            if migration is None and specs is None:
                migration = _no_inputs(f"the archive does not record the shapes of forward's inputs ({spec_text}): "
                                       "give them to migrate it", spec_text, methods)
            if migration is None and specs is not None:
                migration = _migrate(module, specs, source, methods, want_pt2=bool(request.get("pt2")),
                                     want_aoti=bool(request.get("aoti")), max_chars=max_chars, workdir=workdir,
                                     artifacts=artifacts)
        for r in records:
            if issubclass(r.category, (FutureWarning, DeprecationWarning)) or "deprecated" in str(r.message):
                continue  # TorchScript's deprecation is said once, by the app and the docs; never a finding
            text = _one_line(str(r.message))[:300]
            if text not in caught:
                caught.append(text)
    report = ArchiveReport(file=label, ok=True, error=None, torch_version=torch.__version__, size_bytes=size,
                           entries=summary.entries, methods=methods, submodules=submodules, ops=ops, views=views,
                           input_spec=spec_text, migration=migration, warnings=tuple(caught[:20]),
                           seconds=round(time.perf_counter() - started, 3))
    return {"ok": True, "archive": report.to_dict(), "artifacts": artifacts}


def _no_inputs(message: str, spec: str, methods: Sequence[MethodInfo]) -> Migration:
    return Migration(ok=False, error={"kind": "inputs", "message": message, "node": None,
                                      "hint": "give forward's inputs as a spec, e.g. --inputs "
                                              "'float32[1, 3, 224, 224]' (in the app: the Inputs box)"},
                     inputs=spec, inputs_source="user", seconds=0.0, max_abs_diff=None, parity=None, checks=0,
                     graph="", signature="", changes=(), other_methods=_advice(methods))


def warm_up() -> None:
    """Import the converter and convert a tiny scripted module once (the sandbox zygote calls this)."""
    import torch
    from torch._export.converter import TS2EPConverter

    class _Tiny(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if bool(x.sum() > 0):
                return x * 2
            return x - 1

    with _quiet_converter(), torch.no_grad():
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            TS2EPConverter(torch.jit.script(_Tiny()), (torch.ones(2),)).convert()


# =========================================================================== text output (CLI)


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"


def format_text(report: ArchiveReport, *, show: str = "graph", ops: int = 25) -> str:
    """A terminal rendering of a report: methods, tree, ops, migration, and one view of each method."""
    if not report.ok:
        err = report.error or {}
        return f"{report.file}: refused ({err.get('kind', 'error')}): {err.get('message', '')}"
    out = [f"{report.file} — TorchScript archive, {_size(report.size_bytes)}, {report.entries} entries "
           f"(torch {report.torch_version}, {report.seconds:.2f} s in the sandbox)", "", "methods:"]
    for m in report.methods:
        tag = " (@torch.jit.export)" if m.exported else ""
        out.append(f"  {m.schema}{tag} — {m.nodes} nodes inlined")
    out += ["", "submodules:"]
    for s in report.submodules:
        own = f"{s.params:,} params ({_size(s.param_bytes)})" if s.params else ""
        buf = f"{s.buffers:,} buffer elements ({_size(s.buffer_bytes)})" if s.buffers else ""
        detail = ", ".join(x for x in (own, buf) if x)
        label = s.name or "(top)"
        out.append(f"  {'  ' * s.depth}{label}: {s.type}  total {s.total_params:,} params, {_size(s.total_bytes)}"
                   + (f"  [own: {detail}]" if detail and s.name else ""))
    out += ["", f"ops ({len(report.ops)} kinds):"]
    for op in report.ops[:ops]:
        out.append(f"  {op.count:>5}  {op.kind:<28} {op.doc[:90]}")
    if len(report.ops) > ops:
        out.append(f"  … {len(report.ops) - ops} more (see --json)")
    mig = report.migration
    out += ["", f"forward's inputs: {report.input_spec or '(none)'}"]
    if mig is not None:
        out.append("")
        if mig.ok:
            diff = "n/a" if mig.max_abs_diff is None else f"{mig.max_abs_diff:.3g}"
            out.append(f"migration to torch.export: ok ({mig.seconds:.2f} s) on {mig.inputs} [{mig.inputs_source}]; "
                       f"parity {'OK' if mig.parity else 'FAILED'}, max_abs_diff {diff} over {mig.checks} input draws")
            for c in mig.changes:
                out.append(f"  - {c.kind}: {c.message}")
        else:
            err = mig.error or {}
            out.append(f"migration to torch.export: FAILED ({err.get('kind')}): {err.get('message')}")
            if err.get("hint"):
                out.append(f"  what to try: {err['hint']}")
        for a in mig.other_methods:
            out.append(f"  - method {a.signature}: {a.advice}")
        if mig.aoti is not None:
            out.append(f"AOTInductor package: {'ok' if mig.aoti.ok else 'FAILED: ' + str(mig.aoti.error)}")
    for w in report.warnings:
        out.append(f"warning: {w}")
    for name, views in report.views.items():
        out += ["", f"===== {name} — {show} =====", views.get(show, "").rstrip()]
    if mig is not None and mig.ok and show == "graph":
        out += ["", "===== exported program (torch.export) =====", mig.graph.rstrip()]
    return "\n".join(out)
