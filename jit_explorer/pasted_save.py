"""Your own code as a TorchScript ``.pt``: trace or script one pasted entry and ``torch.jit.save`` it.

The Paste tab's Download and ``convert FILE.py --save OUT.pt`` use it. Saving runs the code, so it
happens in a sandbox worker like everything else done with pasted code:

* :func:`save_here` runs **inside the worker** (the ``save`` request of
  :mod:`jit_explorer.sandbox.protocol`): load the source, build the entry, convert, save, and answer
  ``{"ok": true, "saved": <SavedModule JSON>}``.
* :func:`jit_explorer.sandbox.save_source` is the server's door; it returns a :class:`SavedModule`
  (the ``.pt`` bytes and the input shapes the C++ snippet needs), and
  :func:`jit_explorer.artifacts.pasted_artifact` keeps the file in the download folder.

A function entry is saved inside a small ``nn.Module`` whose ``forward`` calls it (1 to 4 tensor
inputs), because ``torch::jit::load`` in C++ loads modules.
"""

from __future__ import annotations

import base64
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import snippet
from .errors import ErrorKind, SnippetError

__all__ = ["SavedModule", "SAVE_MODES", "save_here", "MAX_SAVED_MB"]

SAVE_MODES: tuple[str, ...] = ("trace", "script")
"""The capture modes whose result ``torch.jit.save`` can write (TorchScript's)."""
MAX_SAVED_MB = 64
"""The largest ``.pt`` of pasted code that is offered for download."""


@dataclass(frozen=True)
class SavedModule:
    """A pasted entry saved with ``torch.jit.save``: its bytes and what the C++ snippet needs to call it.

    ``inputs`` holds ``(shape, dtype)`` for each tensor input of the example call (dtype without
    the ``torch.`` prefix), in order.
    """

    entry: str
    mode: str
    data: bytes
    inputs: tuple[tuple[tuple[int, ...], str], ...]

    @property
    def filename(self) -> str:
        """What the download is called: ``<entry>_<mode>.pt``."""
        return f"{self.entry}_{self.mode}.pt"

    def to_json(self) -> dict[str, Any]:
        """The JSON object the worker answers with (the bytes base64-encoded)."""
        return {"entry": self.entry, "mode": self.mode, "pt_b64": base64.b64encode(self.data).decode("ascii"),
                "inputs": [[list(shape), dtype] for shape, dtype in self.inputs]}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> SavedModule:
        """Rebuild from :meth:`to_json`; the answer comes from the process that ran pasted code, so its shape
        is checked (at most 64 inputs of at most 16 dims, short names).

        Raises:
            ValueError: a malformed object (``TypeError``/``KeyError`` of a wrong shape are raised as it).
        """
        try:
            inputs = tuple((tuple(int(n) for n in shape), str(dtype)) for shape, dtype in obj["inputs"])
            entry, mode, data = str(obj["entry"]), str(obj["mode"]), base64.b64decode(obj["pt_b64"], validate=True)
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"malformed saved module: {type(e).__name__}") from None
        if len(inputs) > 64 or any(len(s) > 16 or len(d) > 32 for s, d in inputs) or len(entry) > 200:
            raise ValueError("malformed saved module: too many or too large inputs")
        return cls(entry=entry, mode=mode, data=data, inputs=inputs)


def _fail(kind: str, message: str, line: int | None = None, *, conversion: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"ok": False, "error": {"kind": kind, "message": message, "line": line}}
    if conversion:
        out["conversion_failed"] = True
    return out


def save_here(source: str, *, workdir: Path, entry: str, inputs: str = "", mode: str = "trace",
              filename: str = "snippet.py") -> dict[str, Any]:
    """Trace or script one entry of pasted ``source`` and save it; the worker's answer to a ``save`` request.

    Executes the source: call it only inside a sandbox worker. Returns ``{"ok": true, "saved": {...}}``
    (:meth:`SavedModule.to_json`) or ``{"ok": false, "error": {kind, message, line}}``; a failed
    conversion (nothing to save) also carries ``"conversion_failed": true``.
    """
    import torch

    from .analysis import MAX_FUNCTION_INPUTS, module_for_function
    from .convert import clean_paths, convert, user_line_of_exception

    if mode not in SAVE_MODES:
        return _fail(ErrorKind.MODE, f"only TorchScript modules can be saved as .pt: use mode trace or script, "
                                     f"not {mode!r}")
    label = Path(filename).name or "snippet.py"
    try:
        info = snippet.parse_source(source)
        chosen = snippet.select_entries(info, entry)[:1]
        module, path = snippet.load_module(source, workdir, filename=label)
        obj = snippet.build_entry(module, chosen[0])
        args = snippet.eval_inputs(inputs, module)
    except SnippetError as e:
        return _fail(e.kind, str(e), e.line)
    ent = chosen[0]
    tensors = [a for a in args if isinstance(a, torch.Tensor)]
    if not isinstance(obj, torch.nn.Module):
        if not 1 <= len(args) <= MAX_FUNCTION_INPUTS or len(tensors) != len(args):
            return _fail(ErrorKind.INPUTS, f"{ent.name} takes {len(args)} input(s); a function is saved inside an "
                                           f"nn.Module called with 1 to {MAX_FUNCTION_INPUTS} tensors: wrap it in an "
                                           "nn.Module to save it with other inputs", ent.line)
        obj = module_for_function(obj, len(args))
    else:
        obj = obj.eval()
    conv = convert(obj, args, mode=mode, user_file=str(path), label=label, entry_line=ent.line)
    compiled = conv.compiled.get(mode)
    if compiled is None:
        result = conv.results.get(mode)
        reason = result.error.message if result is not None and result.error else "no module was produced"
        line = result.error.line if result is not None and result.error else None
        return _fail(ErrorKind.RUN, f"nothing to save for {ent.name}: {reason[:600]}", line, conversion=True)
    out = workdir / f"{ent.name}_{mode}.pt"
    try:
        with warnings.catch_warnings():  # the deprecation is shown once, in the page, not per save
            warnings.simplefilter("ignore", FutureWarning)
            torch.jit.save(compiled, str(out))
    except Exception as e:  # noqa: BLE001 - e.g. a module holding something TorchScript cannot serialise
        msg = clean_paths(f"{type(e).__name__}: {e}", user_file=str(path), label=label)
        return _fail(ErrorKind.RUN, f"torch.jit.save could not write {ent.name}'s {mode} module: {msg[:600]}",
                     user_line_of_exception(e, {str(path)}), conversion=True)
    data = out.read_bytes()
    out.unlink()
    if len(data) > MAX_SAVED_MB << 20:
        return _fail(ErrorKind.RESULT, f"the saved module is {len(data) >> 20} MB; downloads of pasted code are "
                                       f"limited to {MAX_SAVED_MB} MB", conversion=True)
    shapes = tuple((tuple(t.shape), str(t.dtype).removeprefix("torch.")) for t in tensors)
    return {"ok": True, "saved": SavedModule(ent.name, mode, data, shapes).to_json()}
