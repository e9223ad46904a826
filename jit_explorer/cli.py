"""Command line: ``python -m jit_explorer zoo | convert | analyze | bench``.

Exit codes: 0 when the command ran; 1 with ``--strict`` when pitfalls of severity
warning or error were found; 2 on bad usage or input, with a one-line reason on
stderr and no traceback. ``--json`` prints exactly the objects of DESIGN.md (one
object, or a list when a command produced several).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NoReturn

from .errors import JitExplorerError, SnippetError
from .fix_words import stable_names

__all__ = ["main", "build_parser"]

PROG = "jit_explorer"


def _view_names() -> tuple[str, ...]:
    """Every view of every registered mode (what ``convert --show`` accepts)."""
    from .modes import REGISTRY

    return tuple(dict.fromkeys(v.name for m in REGISTRY.values() for v in m.views))


def _mode_arg(text: str) -> str:
    """argparse type of ``--mode``: a mode, a comma list, ``both`` or ``all`` -> the canonical comma list."""
    from .errors import InputError
    from .modes import parse_modes

    try:
        return ",".join(parse_modes(text))
    except InputError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


MODE_HELP = ("capture modes: trace, script, export, compile, a comma list of them, both (= trace,script) or all "
             "(default: both)")


class UsageError(Exception):
    """Bad usage: printed on one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, no usage dump
        sub = self.prog.split()[-1] if " " in self.prog else ""
        raise UsageError(f"{message} (see `python -m {PROG} {sub} --help`)".replace("  ", " "))


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of the CLI."""
    p = _Parser(prog=PROG,
                description="Inspect PyTorch's script mode: trace/script IR, tracing pitfalls, honest benchmarks.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    z = sub.add_parser("zoo", help="list the model catalogue")
    z.add_argument("--json", action="store_true", help="print JSON")

    c = sub.add_parser("convert", help="convert a zoo model or your own FILE.py and print its IR")
    c.add_argument("file", nargs="?", default="", metavar="FILE.py",
                   help="your own source (run sandboxed; inputs from --inputs or its example_inputs())")
    c.add_argument("--model", default="", help="a zoo model name (see `zoo`)")
    c.add_argument("--entry", default="", help="with FILE.py: the function / nn.Module (default: the one "
                                                "example_inputs() fits, else the top-level module)")
    c.add_argument("--inputs", default="", help="with FILE.py: inputs expression (default: example_inputs())")
    c.add_argument("--mode", type=_mode_arg, default="both", help=MODE_HELP)
    c.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    c.add_argument("--show", choices=_view_names(), default="graph",
                   help="which view to print (each mode prints it when it has it; inductor is slow)")
    c.add_argument("--json", action="store_true", help="print the conversion report as JSON")
    c.add_argument("--strict", action="store_true", help="exit 1 when warning/error pitfalls are found")
    c.add_argument("--save", default="", metavar="OUT.pt",
                   help="also write the TorchScript module (torch.jit.save) to load from C++ with torch::jit::load")
    c.add_argument("--save-mode", choices=("trace", "script"), default="trace",
                   help="with --save: which module to save (default trace)")

    a = sub.add_parser("analyze", help="lint Python files for tracing pitfalls")
    a.add_argument("files", nargs="+", metavar="FILE")
    a.add_argument("--entry", default="", help="analyse only this function / nn.Module")
    a.add_argument("--inputs", default="",
                   help="inputs expression, e.g. 'torch.randn(2, 3)' (default: example_inputs())")
    a.add_argument("--mode", type=_mode_arg, default="both", help=MODE_HELP)
    a.add_argument("--json", action="store_true", help="print analysis objects as JSON (same as --format json)")
    a.add_argument("--format", choices=("text", "json", "sarif"), default=None,
                   help="output: text (default), json (same as --json) or sarif (one SARIF 2.1.0 log)")
    a.add_argument("--strict", action="store_true", help="exit 1 when warning/error pitfalls are found")
    a.add_argument("--static-only", action="store_true",
                   help="fast path: only the checks that read the source; nothing is run (no inputs needed)")
    a.add_argument("--only-torch-files", action="store_true",
                   help="skip files that do not import torch (for pre-commit hooks given every Python file)")

    b = sub.add_parser("bench", help="benchmark eager vs TorchScript vs modern modes")
    b.add_argument("--model", required=True, nargs="+", help="zoo model name(s)")
    b.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    b.add_argument("--modes", default="", help="comma-separated modes (default: every mode for the device)")
    b.add_argument("--threads", type=int, default=0, help="intra-op threads (0: the cores this process may use)")
    b.add_argument("--markdown", action="store_true", help="print a Markdown table")
    b.add_argument("--json", action="store_true", help="print benchmark objects as JSON")

    i = sub.add_parser("inspect", help="open a TorchScript .pt archive (sandboxed) and migrate it to torch.export")
    i.add_argument("file", metavar="FILE.pt")
    i.add_argument("--inputs", default="", help="forward's example inputs, e.g. 'float32[1, 3, 224, 224], 3' "
                                                "(default: prefilled from the archive)")
    i.add_argument("--show", choices=("graph", "code", "inlined"), default="graph", help="which view to print")
    i.add_argument("--pt2", default="", metavar="OUT.pt2", help="also write the exported program (torch.export.save)")
    i.add_argument("--aoti", default="", metavar="OUT.pt2", help="also build an AOTInductor package (slow)")
    i.add_argument("--json", action="store_true", help="print the inspection report as JSON")
    return p


def _emit_json(objs: list[dict[str, Any]]) -> None:
    print(json.dumps(objs[0] if len(objs) == 1 else objs, indent=2))


def _serious(pitfalls: Sequence[Any]) -> bool:
    return any(p.severity in ("warning", "error") for p in pitfalls)


def _cmd_zoo(args: argparse.Namespace) -> int:
    from . import zoo

    rows = [zoo.spec(n).to_dict() for n in zoo.names()]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        width = max(len(r["name"]) for r in rows)
        for r in rows:
            print(f"{r['name']:<{width}}  {r['title']} — {r['input']}")
    return 0


def _print_pitfalls(file: str, pitfalls: Sequence[Any]) -> None:
    for p in pitfalls:
        loc = f"{file}:{p.line}" if p.line is not None else file
        print(f"{loc}: {p.severity} {p.kind} [{p.mode}]: {p.message}")
        if p.fix:
            print(f"    fix: {p.fix}")


def _cmd_convert(args: argparse.Namespace) -> int:
    from .analysis import analyze_model
    from .modes import REGISTRY

    if bool(args.model) == bool(args.file):
        raise UsageError("give either --model NAME or FILE.py (see `convert --help`)")
    if args.save and not args.save.endswith(".pt"):
        raise UsageError(f"--save {args.save}: the file name must end in .pt (a TorchScript archive)")
    if args.file:
        report = _convert_file(args)
    else:
        report = analyze_model(args.model, mode=args.mode, device=args.device, inductor=args.show == "inductor")
        if args.save:
            _save_zoo(args)
    if args.json:
        _emit_json([report.to_dict()])
    else:
        print(f"{report.model} ({report.weights} weights) — torch {report.torch_version}" if report.model else
              f"{report.file}: {report.entry} — torch {report.torch_version}")
        for note in report.notes:
            print(f"note: {note}")
        if report.deprecation:
            print(f"note: {report.deprecation}")
        for name, spec in REGISTRY.items():
            res = report.modes.get(name)
            if res is None:
                continue
            print(f"\n===== {spec.title}: {'ok' if res.ok else 'FAILED'} ({res.seconds:.2f} s) — {args.show} =====")
            if not res.ok:
                print(res.error.message if res.error else "failed")
            elif args.show in res.views:
                print(stable_names(res.views[args.show]).rstrip())  # the JIT's mangle counter renumbered (0, 1, …)
            else:
                print(f"({spec.title} has no {args.show!r} view; its views: {', '.join(spec.view_names())})")
        if report.pitfalls:
            print("\npitfalls:")
            _print_pitfalls(report.file, report.pitfalls)
    return 1 if args.strict and _serious(report.pitfalls) else 0


def _convert_file(args: argparse.Namespace) -> Any:
    """``convert FILE.py``: one entry of the user's own file, in the sandbox (like ``analyze``)."""
    from . import sandbox
    from .entry_choice import choose_entry

    try:
        text = Path(args.file).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{args.file}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"{args.file}: cannot read it as UTF-8 text ({e.__class__.__name__})") from None
    if args.device != "cpu":
        raise UsageError("your own code is converted on the CPU only (inside the sandbox)")
    entry, why = args.entry, ""
    if not entry:
        choice = choose_entry(text)
        entry, why = (choice.entry.name, choice.reason) if choice else ("", "")
    os.environ.setdefault("JX_SANDBOX_POOL", "1")
    try:
        results = sandbox.analyze_source(text, entry=entry, inputs=args.inputs, mode=args.mode,
                                         filename=Path(args.file).name)
        report = results[0].with_changes(file=args.file, notes=(why,) if why else ())
        if not report.ok:
            err = report.error
            raise UsageError(f"{args.file}: {err.message if err else 'could not be converted'}")
        if args.save:
            try:
                saved = sandbox.save_source(text, entry=report.entry or entry, inputs=args.inputs, mode=args.save_mode,
                                            filename=Path(args.file).name)
            except SnippetError as e:
                where = f"{args.file}:{e.line}" if e.line else args.file
                raise UsageError(f"{where}: cannot save: {e.headline()}") from None
            _write_saved(args.save, saved.data, f"{saved.mode} module of {saved.entry}")
    finally:
        sandbox.shutdown()
    return report


def _save_zoo(args: argparse.Namespace) -> None:
    """``convert --model NAME --save OUT.pt``: the zoo model's TorchScript module (built like the app's Download)."""
    from . import artifacts

    store = artifacts.ArtifactStore(max_bytes=1 << 40)
    try:
        try:
            built = artifacts.torchscript_artifact(args.model, args.save_mode, store=store)
        except artifacts.ArtifactError as e:
            raise UsageError(f"{args.model}: cannot save: {e}") from None
        _write_saved(args.save, built.read_bytes(), f"{args.save_mode} module of {args.model}")
    finally:
        store.close()


def _write_saved(out: str, data: bytes, what: str) -> None:
    try:
        Path(out).write_bytes(data)
    except OSError as e:
        raise UsageError(f"--save {out}: cannot write it ({e.strerror or e.__class__.__name__})") from None
    print(f"wrote {out}: the {what} ({len(data):,} bytes); C++ loads it with torch::jit::load", file=sys.stderr)


def _analyze_format(args: argparse.Namespace) -> str:
    """``text``, ``json`` or ``sarif``: ``--json`` is ``--format json``; the two must not disagree."""
    if args.json and args.format not in (None, "json"):
        raise UsageError(f"--json and --format {args.format} disagree: give one of them")
    return "json" if args.json else args.format or "text"


def _cmd_analyze(args: argparse.Namespace) -> int:
    from . import sandbox

    sources: list[tuple[str, str]] = []
    for f in args.files:
        path = Path(f)
        try:
            sources.append((f, path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise UsageError(f"{f}: no such file") from None
        except (OSError, UnicodeDecodeError) as e:
            raise UsageError(f"{f}: cannot read it as UTF-8 text ({e.__class__.__name__})") from None
    fmt = _analyze_format(args)
    if args.only_torch_files:
        from .static_only import imports_torch

        sources = [(f, text) for f, text in sources if imports_torch(text)]
    if args.static_only:
        from . import static_only

        analyses = [r.with_changes(file=name) for name, text in sources for r in
                    static_only.analyze_source(text, entry=args.entry, mode=args.mode, filename=Path(name).name)]
    else:
        os.environ.setdefault("JX_SANDBOX_POOL", "2")

        def one(item: tuple[str, str]) -> list[Any]:
            name, text = item
            results = sandbox.analyze_source(text, entry=args.entry, inputs=args.inputs, mode=args.mode,
                                             filename=Path(name).name)
            return [r.with_changes(file=name) for r in results]

        with ThreadPoolExecutor(max_workers=2) as ex:
            analyses = [a for batch in ex.map(one, sources) for a in batch]
        sandbox.shutdown()
    if fmt == "sarif":
        from .sarif import to_sarif

        print(json.dumps(to_sarif(analyses, sources=dict(sources)), indent=2))
    elif fmt == "json":
        _emit_json([a.to_dict() for a in analyses])
    skipped = [a for a in analyses if _skipped(a, analyses)]
    failed = [a for a in analyses if not a.ok and a not in skipped]
    if fmt == "text":
        for a in analyses:
            if a in skipped and a.error:
                loc = f"{a.file}:{a.error.line}" if a.error.line else a.file
                print(f"{loc}: skipped {a.entry} ({a.error.kind}): {a.error.message}")
            elif not a.ok and a.error:
                loc = f"{a.file}:{a.error.line}" if a.error.line else a.file
                print(f"{loc}: error {a.error.kind}: {a.error.message}")
            else:
                _print_pitfalls(a.file, a.pitfalls)
        done = [a for a in analyses if a.ok]
        n = sum(len(a.pitfalls) for a in done)
        print(f"{len(done)} entr{'y' if len(done) == 1 else 'ies'} analysed, {n} pitfall{'s' * (n != 1)}"
              + (f", {len(skipped)} skipped" if skipped else ""), file=sys.stderr)
    if failed:
        err = failed[0].error
        print(f"{PROG}: error: {failed[0].file}: {err.message if err else 'analysis failed'}", file=sys.stderr)
        return 2
    return 1 if args.strict and any(_serious(a.pitfalls) for a in analyses) else 0


#: errors of one entry (not of the file): that entry is skipped when another entry of the file was analysed
_ENTRY_ERRORS = ("constructor", "build", "run", "inputs", "timeout", "memory", "cpu")


def _skipped(a: Any, analyses: Sequence[Any]) -> bool:
    """An entry that could not run while another entry of the same file was analysed: reported, not fatal."""
    return (not a.ok and a.error is not None and a.error.kind in _ENTRY_ERRORS
            and any(b.ok and b.file == a.file for b in analyses))


def _cmd_bench(args: argparse.Namespace) -> int:
    from . import bench

    modes = [m.strip() for m in args.modes.split(",") if m.strip()] or None
    reports = [bench.benchmark(m, device=args.device, modes=modes, threads=args.threads) for m in args.model]
    if args.json:
        _emit_json([r.to_dict() for r in reports])
    else:
        print(bench.to_markdown(reports))
    return 0


def _cmd_inspect(args: argparse.Namespace) -> int:
    from . import archive, sandbox

    os.environ.setdefault("JX_SANDBOX_POOL", "1")
    report = archive.inspect_archive(args.file, inputs=args.inputs, pt2=bool(args.pt2), aoti=bool(args.aoti))
    sandbox.shutdown()
    for key, out in (("pt2", args.pt2), ("aoti", args.aoti)):
        if out and key in report.artifacts:
            Path(out).write_bytes(report.artifacts[key])
            print(f"wrote {Path(out).name} ({len(report.artifacts[key]):,} bytes)", file=sys.stderr)
    if args.json or report.ok:
        print(json.dumps(report.to_dict(), indent=2) if args.json else archive.format_text(report, show=args.show))
    if not report.ok:
        print(f"{PROG}: error: {report.file}: {(report.error or {}).get('message', 'refused')}", file=sys.stderr)
        return 2
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (see the module docstring)."""
    try:
        args = build_parser().parse_args(argv)
        handler = {"zoo": _cmd_zoo, "convert": _cmd_convert, "analyze": _cmd_analyze, "bench": _cmd_bench,
                   "inspect": _cmd_inspect}[args.command]
        return handler(args)
    except UsageError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except JitExplorerError as e:
        print(f"{PROG}: error: {str(e).splitlines()[0] if str(e) else type(e).__name__}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
