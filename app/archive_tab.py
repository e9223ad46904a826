"""The "Open a .pt" tab and the ``/inspect_archive(file)`` API: a TorchScript archive, inspected in the sandbox.

Layout and event wiring only; the work is :func:`jit_explorer.archive.inspect_archive` (which never
unpickles the upload in this process). Library errors become ``gr.Error`` here. Wire it from
``app.ui`` with :func:`build` inside a ``gr.Tab`` of the Blocks.
"""

from __future__ import annotations

import html
import tempfile
from pathlib import Path
from typing import Any

import gradio as gr

from jit_explorer import archive, highlight
from jit_explorer.errors import JitExplorerError

from . import render

__all__ = ["build", "inspect_archive", "ui_inspect", "ui_build", "summary_html", "structure_html", "views_html",
           "migration_html", "MAX_UPLOAD", "VIEW_TABS"]

#: the upload limit (also given to ``launch(max_file_size=...)``)
MAX_UPLOAD = f"{archive.MAX_ARCHIVE_BYTES // (1024 * 1024)}mb"
#: (tab label, view key)
VIEW_TABS: tuple[tuple[str, str], ...] = (("Graph", "graph"), ("Code", "code"), ("Inlined", "inlined"))
_LEXER = {"graph": "ir", "code": "python", "inlined": "ir"}
_PRIVATE: dict[str, Any] = {"api_visibility": "private"}
_INTRO = ("Open a `.pt` file written by `torch.jit.save` (up to 200 MB). It is opened **only in the sandbox**, never "
          "in this server: its methods, submodules and ops, the graph of each method, and its migration to "
          "`torch.export` with a parity check. A `torch.save` checkpoint is refused: it is not TorchScript.")


def _path(file: Any) -> str:
    if isinstance(file, dict):
        file = file.get("path") or file.get("name")
    return str(getattr(file, "path", None) or getattr(file, "name", None) or file or "")


def _inspect(file: Any, inputs: str = "", *, pt2: bool = False, aoti: bool = False) -> archive.ArchiveReport:
    path = _path(file)
    if not path:
        raise gr.Error("Choose a .pt file first.")
    try:
        return archive.inspect_archive(path, inputs=inputs or "", pt2=pt2, aoti=aoti)
    except JitExplorerError as e:
        raise gr.Error(str(e)) from None


def inspect_archive(file: Any) -> dict[str, Any]:
    """Inspect an uploaded TorchScript archive in the sandbox; returns the same dict as ``inspect --json``."""
    return _inspect(file).to_dict()


# --------------------------------------------------------------------------- rendering (pure: dict -> HTML)


def _size(n: int) -> str:
    return archive._size(n)


def summary_html(d: dict[str, Any]) -> str:
    """One line about the file, or the refusal in one sentence."""
    name = html.escape(d.get("file", ""))
    if not d.get("ok"):
        err = d.get("error") or {}
        return (f"<div class='jx-failed'><b>{name} was not opened</b> ({html.escape(err.get('kind', 'error'))})"
                f"<pre>{html.escape(err.get('message', ''))}</pre></div>")
    methods = ", ".join(f"<code>{html.escape(m['name'])}</code>" for m in d.get("methods", []))
    total = next((s for s in d.get("submodules", []) if s["name"] == ""), None)
    params = f" · {total['total_params']:,} parameters ({_size(total['total_bytes'])})" if total else ""
    return (f"<div class='jx-notice' id='archive-summary'><b>{name}</b> · TorchScript archive, "
            f"{_size(d.get('size_bytes', 0))}, {d.get('entries', 0)} entries{params} · methods: {methods} · "
            f"opened in the sandbox in {d.get('seconds', 0):.2f} s</div>")


def structure_html(d: dict[str, Any], *, max_ops: int = 60) -> str:
    """Methods, the submodule tree (counts and sizes) and the ops used (counts and docs)."""
    if not d.get("ok"):
        return ""
    rows = []
    for m in d.get("methods", []):
        tag = " <span class='jx-badge'>@torch.jit.export</span>" if m.get("exported") else ""
        rows.append(f"<li><code>{html.escape(m['schema'])}</code>{tag} — {m['nodes']} nodes inlined</li>")
    tree = []
    for s in d.get("submodules", []):
        own = []
        if s["params"]:
            own.append(f"{s['params']:,} params ({_size(s['param_bytes'])})")
        if s["buffers"]:
            own.append(f"{s['buffers']:,} buffer values ({_size(s['buffer_bytes'])})")
        tree.append(f"<tr><td style='padding-left:{s['depth'] * 14 + 4}px'><code>{html.escape(s['name'] or '(top)')}"
                    f"</code></td><td>{html.escape(s['type'].rsplit('.', 1)[-1])}</td><td>{s['total_params']:,}</td>"
                    f"<td>{_size(s['total_bytes'])}</td><td>{html.escape(', '.join(own))}</td></tr>")
    ops = [f"<tr><td>{o['count']}</td><td><code>{html.escape(o['kind'])}</code></td>"
           f"<td>{html.escape(o['doc'])}</td></tr>"
           for o in d.get("ops", [])[:max_ops]]
    more = len(d.get("ops", [])) - max_ops
    return (f"<div id='archive-methods'><h4>Methods</h4><ul>{''.join(rows)}</ul></div>"
            f"<details id='archive-tree'><summary>Submodules ({len(tree)})</summary><table class='jx-table'>"
            f"<thead><tr><th>module</th><th>type</th><th>params (subtree)</th><th>size</th><th>own</th></tr></thead>"
            f"<tbody>{''.join(tree)}</tbody></table></details>"
            f"<details id='archive-ops' open><summary>Ops used ({len(d.get('ops', []))} kinds)</summary>"
            f"<table class='jx-table'><thead><tr><th>count</th><th>op</th><th>what it does</th></tr></thead>"
            f"<tbody>{''.join(ops)}</tbody></table>{f'<i>… {more} more</i>' if more > 0 else ''}</details>")


def views_html(d: dict[str, Any], method: str) -> list[str]:
    """The Graph / Code / Inlined panes of one method, highlighted."""
    views = (d.get("views") or {}).get(method)
    if not views:
        return ["<div class='jx-empty'>Open a .pt file to see its graphs here.</div>"] * len(VIEW_TABS)
    return [highlight.render_html(views.get(key, ""), language=_LEXER[key], anchor=f"archive-{key}",
                                  max_lines=render.MAX_LINES) for _, key in VIEW_TABS]


def migration_html(d: dict[str, Any]) -> str:
    """The migration to torch.export: status, parity, what changed, advice, and the exported program."""
    m = d.get("migration")
    if not d.get("ok") or not m:
        return ""
    parts = []
    if m["ok"]:
        diff = "n/a" if m["max_abs_diff"] is None else f"{m['max_abs_diff']:.3g}"
        verdict = "same outputs" if m["parity"] else "DIFFERENT outputs"
        cls = "jx-clean" if m["parity"] else "jx-failed"
        parts.append(f"<div class='jx-pitfalls {cls}' id='archive-parity'>✅ <b>forward</b> converted to an "
                     f"ExportedProgram in {m['seconds']:.2f} s on <code>{html.escape(m['inputs'])}</code>: {verdict} "
                     f"(max_abs_diff {diff} over {m['checks']} input draw{'s' * (m['checks'] != 1)})</div>"
                     if m["parity"] else
                     f"<div class='{cls}' id='archive-parity'><b>Parity failed</b>: max_abs_diff {diff}</div>")
        for c in m.get("changes", []):
            parts.append(f"<div class='jx-pitfall jx-info'><b>{html.escape(c['kind'])}</b> "
                         f"<span class='jx-pit-msg'>{html.escape(c['message'])}</span></div>")
    else:
        err = m.get("error") or {}
        node = f" at <code>{html.escape(err['node'])}</code>" if err.get("node") else ""
        parts.append(f"<div class='jx-failed' id='archive-parity'><b>Migration failed{node}</b> "
                     f"({html.escape(err.get('kind', ''))})<pre>{html.escape(err.get('message', ''))}</pre>"
                     f"<div class='jx-pit-fix'><b>What to try:</b> {html.escape(err.get('hint', ''))}</div></div>")
    for a in m.get("other_methods", []):
        parts.append(f"<div class='jx-pitfall jx-warning'><b>method <code>{html.escape(a['signature'])}</code></b>"
                     f"<div class='jx-pit-fix'>{html.escape(a['advice'])}</div></div>")
    if m.get("graph"):
        parts.append("<h4>Exported program</h4>" + highlight.render_html(
            m["graph"], language="python", anchor="archive-ep", max_lines=render.MAX_LINES))
        parts.append(f"<details><summary>Signature and dynamic dims</summary><pre>{html.escape(m['signature'])}</pre>"
                     "</details>")
    return f"<div id='archive-migration-body'>{''.join(parts)}</div>"


# --------------------------------------------------------------------------- events


def _outputs(d: dict[str, Any], inputs: str) -> list[Any]:
    methods = [m["name"] for m in d.get("methods", [])]
    panes = views_html(d, methods[0] if methods else "")
    spec = inputs or d.get("input_spec", "")
    return [summary_html(d), structure_html(d), gr.update(choices=methods or ["forward"],
                                                          value=methods[0] if methods else "forward"),
            *panes, migration_html(d), spec, d]


def ui_inspect(file: Any, inputs: str, progress: gr.Progress = gr.Progress()) -> list[Any]:
    """Inspect the upload and fill the tab (the inputs box gets the prefilled spec when it was empty)."""
    if not _path(file):
        return _outputs({}, inputs)
    progress(0.1, desc="Opening the archive in the sandbox")
    return _outputs(_inspect(file, inputs).to_dict(), inputs)


def ui_views(d: dict[str, Any] | None, method: str) -> list[str]:
    """Re-render the panes for another method."""
    return views_html(d or {}, method)


def ui_build(file: Any, inputs: str, kind: str, progress: gr.Progress = gr.Progress()) -> list[Any]:
    """Build the ``.pt2`` (``kind="pt2"``) or the AOTInductor package (``"aoti"``) and offer it for download."""
    progress(0.05, desc="Converting in the sandbox" + (" and compiling with AOTInductor (tens of seconds)"
                                                       if kind == "aoti" else ""))
    report = _inspect(file, inputs, pt2=kind == "pt2", aoti=kind == "aoti")
    if not report.ok:
        raise gr.Error((report.error or {}).get("message", "the archive could not be opened"))
    m = report.migration
    if m is None or not m.ok:
        raise gr.Error("The migration failed, so there is nothing to save: " + ((m.error or {}).get("message", "")
                                                                                  if m else "no migration"))
    if kind == "aoti" and (m.aoti is None or not m.aoti.ok):
        raise gr.Error("AOTInductor packaging failed: " + (m.aoti.error or "" if m.aoti else "not run"))
    data = report.artifacts.get(kind)
    if not data:
        raise gr.Error("The sandbox returned no file.")
    stem = Path(report.file).stem or "model"
    name = f"{stem}_aoti.pt2" if kind == "aoti" else f"{stem}.pt2"
    out = Path(tempfile.mkdtemp(prefix="jx-archive-")) / name
    out.write_bytes(data)
    specs = archive.parse_input_spec(m.inputs) if m.inputs else ()
    tensors = [(list(s.shape or ()), s.dtype or "float32") for s in specs if s.is_tensor]
    cpp = archive.aoti_cpp_snippet(name, specs) if kind == "aoti" else (
        "// a .pt2 from torch.export.save loads in Python with torch.export.load(path);\n"
        "// for C++ build the AOTInductor package (button beside) and load it with AOTIModelPackageLoader:\n\n"
        + archive.aoti_cpp_snippet(f"{stem}_aoti.pt2", specs))
    progress(1.0)
    return [str(out), cpp, render.libtorch_snippet(report.file, tensors)]


def build() -> dict[str, Any]:
    """Lay out the tab inside the current ``gr.Tab`` and wire its events (and the ``/inspect_archive`` API)."""
    c: dict[str, Any] = {}
    gr.Markdown(_INTRO, elem_id="archive-intro")
    with gr.Row():
        c["file"] = gr.File(label="TorchScript archive (.pt, up to 200 MB)", file_count="single", type="filepath",
                            elem_id="archive-file", scale=3)
        with gr.Column(scale=2, min_width=260):
            c["inputs"] = gr.Textbox(label="forward's example inputs (prefilled from the archive; "
                                           "edit and Inspect again)",
                                     placeholder="float32[1, 3, 224, 224], int64[1, 8], 3", elem_id="archive-inputs")
            c["go"] = gr.Button("Inspect", variant="primary", elem_id="archive-btn")
    c["summary"] = gr.HTML(elem_id="archive-notice")
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=300):
            c["structure"] = gr.HTML(elem_id="archive-structure")
        with gr.Column(scale=3, min_width=300):
            c["method"] = gr.Dropdown(["forward"], value="forward", label="Method", elem_id="archive-method")
            c["panes"] = []
            with gr.Tabs():
                for label, key in VIEW_TABS:
                    with gr.Tab(label, id=f"archive-{key}-tab"):
                        c["panes"].append(gr.HTML(views_html({}, "")[0], elem_id=f"archive-{key}",
                                                  elem_classes=["jx-pane"]))
    gr.Markdown("### Migration to `torch.export`")
    c["migration"] = gr.HTML(elem_id="archive-migration")
    with gr.Accordion("Download the exported program (.pt2) or an AOTInductor package for C++", open=False,
                      elem_id="archive-downloads"):
        with gr.Row():
            c["pt2"] = gr.Button("Build .pt2 (torch.export.save)", elem_id="archive-pt2-btn")
            c["aoti"] = gr.Button("Build AOTInductor package (slow: tens of seconds)", elem_id="archive-aoti-btn")
        c["download"] = gr.File(label="Exported file", interactive=False, elem_id="archive-download")
        with gr.Row():
            c["cpp_aoti"] = gr.Code(archive.aoti_cpp_snippet("model_aoti.pt2", ()), language="cpp", interactive=False,
                                    label="C++: AOTIModelPackageLoader runs the AOTInductor package",
                                    elem_id="archive-aoti-snippet")
            c["cpp_ts"] = gr.Code(render.libtorch_snippet("model.pt", [([1, 3, 224, 224], "float32")]), language="cpp",
                                  interactive=False, label="C++ today: LibTorch loads the .pt with torch::jit::load",
                                  elem_id="archive-libtorch-snippet")
    c["report"] = gr.JSON(visible=False)
    # the API endpoint: a hidden trigger so that /inspect_archive takes a file (gradio_client.handle_file)
    api_file = gr.File(visible=False, type="filepath")
    api_out = gr.JSON(visible=False)
    api_go = gr.Button(visible=False)
    api_go.click(inspect_archive, api_file, api_out, api_name="inspect_archive", concurrency_limit=2,
                 concurrency_id="sandbox")

    sandbox_args = {"concurrency_limit": 2, "concurrency_id": "sandbox", **_PRIVATE}
    outs = [c["summary"], c["structure"], c["method"], *c["panes"], c["migration"], c["inputs"], c["report"]]
    c["file"].upload(lambda: "", None, c["inputs"], queue=False, **_PRIVATE).then(
        ui_inspect, [c["file"], c["inputs"]], outs, **sandbox_args)
    c["go"].click(ui_inspect, [c["file"], c["inputs"]], outs, **sandbox_args)
    c["inputs"].submit(ui_inspect, [c["file"], c["inputs"]], outs, **sandbox_args)
    c["method"].input(ui_views, [c["report"], c["method"]], c["panes"], queue=False, **_PRIVATE)
    dl = [c["download"], c["cpp_aoti"], c["cpp_ts"]]
    c["pt2"].click(lambda f, i, p=gr.Progress(): ui_build(f, i, "pt2", p), [c["file"], c["inputs"]], dl,
                   **sandbox_args)
    c["aoti"].click(lambda f, i, p=gr.Progress(): ui_build(f, i, "aoti", p), [c["file"], c["inputs"]], dl,
                    **sandbox_args)
    return c
