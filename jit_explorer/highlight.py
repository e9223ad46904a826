"""Syntax highlighting for TorchScript graph IR and TorchScript code.

:class:`TorchScriptIRLexer` is a pygments lexer for the text that
``str(module.graph)`` prints (graph headers, values, types, node kinds,
attributes, blocks, nested subgraphs, source comments). :func:`render_html`
turns IR (or the Python-like ``.code``) into an HTML fragment with line
numbers and one anchor per line, so that a pitfall can point at, and mark, the
line it is about; :func:`css` gives the stylesheet for Gradio's light and dark
themes.

Example::

    >>> from jit_explorer.highlight import render_html, error_tokens
    >>> ir = 'graph(%x.1 : Tensor):\\n  %2 : Tensor = aten::relu(%x.1) # f.py:3:8\\n  return (%2)\\n'
    >>> error_tokens(ir)
    []
    >>> 'id="ir-L2"' in render_html(ir, marked_lines=[2])
    True
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, ClassVar

from pygments.lexer import Lexer, RegexLexer, bygroups, default, include
from pygments.lexers.python import PythonLexer
from pygments.lexers.special import TextLexer
from pygments.styles import get_style_by_name
from pygments.token import (
    STANDARD_TYPES,
    Comment,
    Error,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Text,
    Whitespace,
    _TokenType,
)

__all__ = ["TorchScriptIRLexer", "LANGUAGES", "render_html", "css", "error_tokens", "tokens"]

#: the values :func:`render_html` accepts for ``language``
LANGUAGES: tuple[str, ...] = ("ir", "python", "text")

#: pygments styles used by :func:`css` unless told otherwise
LIGHT_STYLE = "default"
DARK_STYLE = "github-dark"

_FLOAT = r"-?(?:\d+\.\d*(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+)"
_SPECIAL_FLOAT = r"-?(?:inf|nan)\b"
_STRING = r'"(?:\\.|[^"\\\n])*"'
_QUALIFIED = r"[A-Za-z_]\w*(?:\.\w+)+"
#: a node kind: ``aten::conv2d``, ``prim::TensorExprGroup_0``, ``my_ops::foo.out``
_NODE_KIND = r"[A-Za-z_]\w*::\w+(?:\.\w+)*"
#: TorchScript values: ``%x.1``, ``%self``, ``%123``, ``%input.5``
_VALUE = r"%[\w.]+"
#: node kinds that are control flow (highlighted as keywords)
_CONTROL_KINDS = r"prim::(?:If|Loop|Enter|Exit|With|RaiseException|Return|Break|Continue)\b"


class TorchScriptIRLexer(RegexLexer):
    """Lexer for TorchScript graph IR (``str(torch.jit.script(m).graph)``).

    Token choices (what :func:`css` colours):

    - ``graph``, ``with``, ``return``, ``->``, control-flow kinds (``prim::If``, ``prim::Loop``): ``Keyword``
    - values ``%x.1``, ``%self``: ``Name.Variable``
    - node kinds ``aten::mul``, ``prim::Constant``: ``Name.Function``
    - types ``Tensor``, ``int[]``, ``Float(1, 3, strides=[...], ...)``: ``Keyword.Type``;
      class types ``__torch__.a.b.C``: ``Name.Class``
    - attribute names ``value=``, ``name=``: ``Name.Attribute``; values: ``Number``, ``String``,
      ``Keyword.Constant`` (``None``, ``True``, ``inf``)
    - ``block0``: ``Name.Label``; ``scope: __module.x``: ``Name.Namespace``
    - ``# file.py:12:8`` source locations: ``Comment.Single``

    Example::

        >>> from pygments.token import Name
        >>> toks = list(TorchScriptIRLexer().get_tokens("%y : Tensor = aten::mul(%x.1, %x.1)\\n"))
        >>> (Name.Function, "aten::mul") in toks
        True
    """

    name = "TorchScript IR"
    aliases: ClassVar[list[str]] = ["torchscript-ir", "tsir"]
    filenames: ClassVar[list[str]] = []
    mimetypes: ClassVar[list[str]] = ["text/x-torchscript-ir"]

    tokens: ClassVar[dict[str, Any]] = {
        "root": [
            (r"\n", Whitespace),
            (r"[ \t\r\f]+", Whitespace),
            (r"#.*?$", Comment.Single),
            (r"\b(graph)(\s*)(\()", bygroups(Keyword, Whitespace, Punctuation)),
            (r"\bwith\b", Keyword),
            (r"\breturn\b", Keyword),
            (r"->", Keyword),
            (r"\b(block\d+)(\s*)(\()", bygroups(Name.Label, Whitespace, Punctuation)),
            (r"(" + _VALUE + r")(\s*)(:)(?!:)([ \t]*)",
             bygroups(Name.Variable, Whitespace, Punctuation, Whitespace), "type"),
            (_VALUE, Name.Variable),
            (r"(,)(\s*)(scope)(:)([ \t]*)([^\s#]+)",
             bygroups(Punctuation, Whitespace, Keyword, Punctuation, Whitespace, Name.Namespace)),
            (_CONTROL_KINDS, Keyword),
            (_NODE_KIND, Name.Function),
            # Python ops: autograd.Function calls recorded by the tracer (``^MyFunction(2.5)(%x)``) and
            # ignored functions called from script (``^python_only[]()(%x)``; a functools.partial has no
            # name: ``^<python_value>[]()(%x)``); then their attributes and their Python scalar arguments
            (r"\^(?:<[^<>\n]*>|[\w.]+)", Name.Function, "pyop"),
            (r"\[", Punctuation, "attrs"),
            (r"[(),=:\]]", Punctuation),
            # nothing else is expected here: anything else is an Error token, which the tests
            # look for (render_html shows Error tokens as plain text)
        ],
        # a value's type, after ``%x : ``; it ends at the first thing that is not part of a type
        "type": [
            include("typename"),
            (r"\(", Punctuation, "typeargs"),
            (r"[<>]", Punctuation),
            default("#pop"),
        ],
        # inside ``Float(...)``, ``Dict(...)``, ``(Tensor, int)``, ``Tensor(a!)``; an unbalanced
        # line is closed by pygments itself (an unmatched newline resets the state to root)
        "typeargs": [
            (r"\)", Punctuation, "#pop"),
            (r"\(", Punctuation, "typeargs"),
            (r"[ \t]+", Whitespace),
            (r"(device)(=)([A-Za-z_]\w*(?::\d+)?)", bygroups(Name.Attribute, Punctuation, Name.Constant)),
            (r"([A-Za-z_]\w*)(=)", bygroups(Name.Attribute, Punctuation)),
            (r"0[xX][0-9a-fA-F]+", Number.Hex),  # object(0x55d5c0ffee00)
            # alias annotations: Tensor(a!), Tensor(a -> *), Tensor(a|b)
            (r"\b[a-z]\b(?=\s*(?:!|\)|->|\|))", Name.Label),
            (r"->|[!|*]", Operator),
            (r"[,\[\]:{}]", Punctuation),  # annotate(Dict[str, Tensor],{})
            (_STRING, String.Double),
            (r"-?\d+", Number.Integer),
            include("typename"),
            (r"[<>]", Punctuation),
        ],
        "typename": [
            (r"\[Undefined\]", Keyword.Type),
            (r"\[\]", Keyword.Type),
            (r"\?", Keyword.Type),
            (_QUALIFIED, Name.Class),
            (r"[A-Za-z_]\w*", Keyword.Type),
        ],
        # node attributes ``[value=1]``, ``[name="fc"]``, ``[profiled_type=Float(...), seen_none=0]``;
        # tensor constants such as ``[value= 1  2 [ CPULongType{2} ]]`` may span lines
        "attrs": [
            (r"\]", Punctuation, "#pop"),
            (r"\[\s*[A-Za-z]\w*Type\{[\d,\s]*\}[^\]\n]*\]", Keyword.Type),
            (r"\[", Punctuation, "attrs"),
            (r"\s+", Whitespace),
            (r"<\w+>", Name.Constant),  # <Tensor>, <Graph>, <Tensors>
            (r"(annotate)(\()", bygroups(Name.Builtin, Punctuation), "typeargs"),  # annotate(List[int], [])
            (r"(device)(=)([A-Za-z_]\w*(?::\d+)?)(?=[,\])])", bygroups(Name.Attribute, Punctuation, Name.Constant)),
            (r"([A-Za-z_]\w*)(=)", bygroups(Name.Attribute, Punctuation)),
            include("literals"),
            (r"(" + _QUALIFIED + r")", Name.Class),
            (r"([A-Za-z_]\w*)(\()", bygroups(Keyword.Type, Punctuation), "typeargs"),
            (r"\[\]|\?", Keyword.Type),
            (r"[A-Za-z_]\w*", Keyword.Type),
            (r"[(){},:.=]", Punctuation),
            (r"->|[<>!|*+^-]", Operator),
        ],
        # after ``^name``: optional attributes ``[...]``, then the scalar arguments ``(...)`` (Python reprs)
        "pyop": [
            (r"\[", Punctuation, "attrs"),
            (r"\(", Punctuation, ("#pop", "pyargs")),
            default("#pop"),
        ],
        "pyargs": [
            (r"[)\]}]", Punctuation, "#pop"),
            (r"[(\[{]", Punctuation, "pyargs"),
            (r"[ \t]+", Whitespace),
            (r"'(?:\\.|[^'\\\n])*'", String.Single),
            (r"0[xX][0-9a-fA-F]+", Number.Hex),
            include("literals"),
            (r"<[^<>\n]*>", Name.Constant),  # <function f at 0x...>
            (r"[A-Za-z_]\w*", Name),
            (r"[,:.=]", Punctuation),
            (r"[-+*/|&@%~^!<>]", Operator),
            (r"[^\s()\[\]{},]", String.Other),  # the tracer prints str arguments raw: ``(2.5, it's)``
        ],
        "literals": [
            (_STRING, String.Double),
            (r"\b(?:None|True|False)\b", Keyword.Constant),
            (_SPECIAL_FLOAT, Number.Float),
            (_FLOAT, Number.Float),
            (r"-?\d+", Number.Integer),
        ],
    }


def _lexer(language: str) -> Lexer:
    """A fresh lexer for ``language`` that keeps leading/trailing newlines (line numbers stay right)."""
    if language == "ir":
        return TorchScriptIRLexer(stripnl=False, ensurenl=True)
    if language == "python":
        return PythonLexer(stripnl=False, ensurenl=True)
    if language == "text":
        return TextLexer(stripnl=False, ensurenl=True)
    raise ValueError(f"unknown language {language!r}: use one of {', '.join(LANGUAGES)}")


def tokens(text: str, *, language: str = "ir") -> list[tuple[_TokenType, str]]:
    """Tokenize ``text`` with the IR lexer (``language="ir"``) or pygments' Python lexer.

    Example::

        >>> from pygments.token import Comment
        >>> (Comment.Single, "# snippet.py:3:8") in tokens("  %2 : int = prim::Constant[value=1]() # snippet.py:3:8\\n")
        True
    """
    return list(_lexer(language).get_tokens(_normalise_newlines(text)))


def error_tokens(text: str, *, language: str = "ir") -> list[tuple[int, str]]:
    """Every ``Token.Error`` in ``text`` as ``(1-based line, token text)``: what the lexer did not understand.

    Example::

        >>> error_tokens("graph(%x : Tensor):\\n  return (%x)\\n")
        []
    """
    found: list[tuple[int, str]] = []
    line = 1
    for ttype, value in tokens(text, language=language):
        if ttype in Error:
            found.append((line, value))
        line += value.count("\n")
    return found


def _normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _css_class(ttype: _TokenType) -> str:
    """The short pygments class of a token type (``Name.Variable`` -> ``nv``); '' for text, spaces and errors."""
    if ttype in Error or ttype in Whitespace:
        return ""  # errors are shown as plain text: the highlighter's gaps are not the user's mistakes
    suffix = ""
    while ttype not in STANDARD_TYPES:  # a token type pygments has no class for: its parent's class + suffix
        suffix = ttype[-1] + suffix
        ttype = ttype.parent
    return STANDARD_TYPES[ttype] + suffix


def _split_lines(toks: Iterable[tuple[_TokenType, str]]) -> Iterator[list[tuple[str, str]]]:
    """Group tokens into lines of ``(css class, text)``, splitting tokens that span lines."""
    line: list[tuple[str, str]] = []
    for ttype, value in toks:
        cls = _css_class(ttype)
        parts = value.split("\n")
        for i, part in enumerate(parts):
            if i > 0:
                yield line
                line = []
            if part and line and line[-1][0] == cls:
                line[-1] = (cls, line[-1][1] + part)  # one span for a run of one class: smaller HTML
            elif part:
                line.append((cls, part))
    if line:
        yield line


def _line_html(parts: list[tuple[str, str]]) -> str:
    out = []
    for cls, text in parts:
        esc = html.escape(text, quote=False)
        out.append(f'<span class="{cls}">{esc}</span>' if cls else esc)
    return "".join(out)


def render_html(
    text: str,
    *,
    language: str = "ir",
    anchor: str = "ir",
    marked_lines: Iterable[int] = (),
    max_lines: int | None = None,
    source_lines: Sequence[int | None] | None = None,
    op_docs: bool = True,
    source_pane: bool = False,
) -> str:
    """Highlight IR or TorchScript code as an HTML fragment with line numbers and line anchors.

    Args:
        text: the IR (``str(graph)``) or code (``module.code``).
        language: ``"ir"`` (the TorchScript IR lexer) or ``"python"`` (for ``.code``).
        anchor: prefix of the line ids: line ``n`` gets ``id="{anchor}-L{n}"``. Use a different
            anchor for each block shown on one page.
        marked_lines: 1-based lines to mark (class ``jx-mark``), e.g. the lines a pitfall is about.
        max_lines: show at most this many lines, then a note ``… N more lines not shown``.
        source_lines: one entry per line of ``text``: the 1-based user line it came from, or None.
            A line with a known one gets ``data-src-line="N"`` (and a colour band class ``jx-bK``);
            the box gets ``jx-linked`` and ``data-src-lines`` (the distinct lines, for linking.js).
        op_docs: wrap each op token in ``<span class="jx-op" data-op="aten::conv2d">`` and append a
            hidden ``jx-opdocs`` block with one doc per op, value kind and type shown
            (:mod:`jit_explorer.opdocs`), which ``assets/linking.js`` shows on hover and focus.
        source_pane: this is the source the IR links to: each line gets ``data-line="N"`` and the box
            ``jx-source``.

    Returns:
        ``<div class="jx-code …"><pre class="jx-pre"><code>…</code></pre></div>``; style it with :func:`css`.

    Raises:
        ValueError: for an unknown ``language`` or a negative ``max_lines``.

    Example::

        >>> out = render_html("x = 1 < 2 & 3\\n", language="python", anchor="code", marked_lines=[1])
        >>> 'id="code-L1"' in out and "jx-mark" in out and "&lt;" in out
        True
    """
    lexer = _lexer(language)
    if max_lines is not None and max_lines < 0:
        raise ValueError(f"max_lines must be >= 0 or None, got {max_lines}")
    text = _normalise_newlines(text)
    if text.endswith("\n"):
        text = text[:-1]
    lines = text.split("\n") if text else []
    hidden = 0
    if max_lines is not None and len(lines) > max_lines:
        hidden = len(lines) - max_lines
        lines = lines[:max_lines]
    marked = {int(n) for n in marked_lines}
    rendered = list(_split_lines(lexer.get_tokens("\n".join(lines) + "\n"))) if lines else []
    # the lexer may drop nothing, but keep the line count exact whatever it does
    rendered += [[] for _ in range(len(lines) - len(rendered))]
    anchor_attr = html.escape(anchor, quote=True)
    digits = len(str(max(len(lines), 1)))
    rows = []
    docs = _DocCollector() if op_docs else None
    for n, parts in enumerate(rendered[: len(lines)], start=1):
        cls = "jx-line jx-mark" if n in marked else "jx-line"
        src = source_lines[n - 1] if source_lines is not None and n - 1 < len(source_lines) else None
        extra, cls = _link_attrs(n, src, cls, source_pane=source_pane)
        body = _line_html(parts) if docs is None else docs.line_html(parts, lines[n - 1], language)
        rows.append(f'<span class="{cls}" id="{anchor_attr}-L{n}" data-ln="{n}"{extra}>{body}\n</span>')
    if hidden:
        more = "line" if hidden == 1 else "lines"
        rows.append(f'<span class="jx-line jx-note" data-ln="">\u2026 {hidden} more {more} not shown\n</span>')
    box = _box_attrs(source_lines, len(lines), source_pane=source_pane)
    return (
        f'<div class="jx-code jx-lang-{language}{box[0]}" style="--jx-ln-digits: {digits}"{box[1]}>'
        f'<pre class="jx-pre"><code>{"".join(rows)}</code></pre>{docs.html() if docs else ""}</div>'
    )


def _rule_body(defn: dict[str, Any], *, fallback_color: str) -> str:
    """A complete declaration block for one token class: every property set, so styles never leak."""
    color = f"#{defn['color']}" if defn.get("color") else fallback_color
    decls = [
        f"color: {color}",
        f"font-weight: {'bold' if defn.get('bold') else 'normal'}",
        f"font-style: {'italic' if defn.get('italic') else 'normal'}",
        f"text-decoration: {'underline' if defn.get('underline') else 'none'}",
        f"background-color: {'#' + defn['bgcolor'] if defn.get('bgcolor') else 'transparent'}",
    ]
    return "; ".join(decls)


def _token_rules(style_name: str, prefix: str) -> list[str]:
    style = get_style_by_name(style_name)
    base = style.style_for_token(Text)
    base_color = f"#{base['color']}" if base.get("color") else "inherit"
    rules = []
    seen: set[str] = set()
    for ttype, defn in style:
        cls = _css_class(ttype)
        if not cls or cls in seen:
            continue
        seen.add(cls)
        rules.append(f"{prefix} .jx-pre .{cls} {{ {_rule_body(defn, fallback_color=base_color)} }}")
    return rules


def _palette(style_name: str, *, dark: bool) -> dict[str, str]:
    style = get_style_by_name(style_name)
    text = style.style_for_token(Text).get("color")
    return {
        "bg": style.background_color or ("#0d1117" if dark else "#f8f8f8"),
        "fg": f"#{text}" if text else ("#e6edf3" if dark else "#1f2328"),
        "gutter": "#6e7681" if dark else "#8c959f",
        "border": "#30363d" if dark else "#d0d7de",
        "mark": "rgba(187, 128, 9, 0.28)" if dark else "rgba(255, 214, 10, 0.35)",
        "mark_edge": "#d29922" if dark else "#bf8700",
        "note": "#8b949e" if dark else "#57606a",
    }


def css(*, light_style: str = LIGHT_STYLE, dark_style: str = DARK_STYLE, max_height: str = "520px") -> str:
    """The stylesheet for :func:`render_html` output, for Gradio's light and dark themes.

    Light rules are scoped to ``.jx-code``, dark rules to ``.dark .jx-code`` (Gradio puts ``dark``
    on an ancestor). Each token class gets every property in both themes, so nothing of the light
    style leaks into the dark one. The code box scrolls (``max-height``), uses a monospace font, and
    its line numbers are drawn by CSS (``data-ln``), so they are neither selectable nor copied.

    Args:
        light_style: pygments style for the light theme.
        dark_style: pygments style for the dark theme.
        max_height: the scroll box's maximum height (a CSS length).

    Example::

        >>> sheet = css()
        >>> ".dark .jx-code" in sheet and "max-height: 520px" in sheet
        True
    """
    light = _palette(light_style, dark=False)
    dark = _palette(dark_style, dark=True)
    layout = f"""
.jx-code {{
  max-height: {max_height}; overflow: auto; border-radius: 6px; border: 1px solid {light['border']};
  background: {light['bg']}; color: {light['fg']}; text-align: left;
}}
.jx-code pre.jx-pre, .jx-code pre.jx-pre code {{
  margin: 0; padding: 0; border: none; border-radius: 0; background: transparent; color: inherit;
  font-family: ui-monospace, SFMono-Regular, "SF Mono", Menlo, Consolas, "Liberation Mono", monospace;
  font-size: 13px; line-height: 1.45; white-space: pre; overflow: visible; tab-size: 4;
}}
.jx-code pre.jx-pre {{ padding: 6px 0; min-width: 100%; width: max-content; }}
.jx-code .jx-line {{ display: block; padding-right: 12px; }}
.jx-code .jx-line::before {{
  content: attr(data-ln); display: inline-block; box-sizing: content-box;
  width: calc(var(--jx-ln-digits, 4) * 1ch); padding: 0 10px 0 8px; margin-right: 8px;
  text-align: right; color: {light['gutter']}; background: {light['bg']};
  border-right: 1px solid {light['border']};
  position: sticky; left: 0;
  -webkit-user-select: none; -moz-user-select: none; user-select: none; pointer-events: none;
}}
.jx-code .jx-line.jx-mark {{ background: {light['mark']}; }}
.jx-code .jx-line.jx-mark::before {{
  background: linear-gradient({light['mark']}, {light['mark']}), {light['bg']};
  box-shadow: inset 3px 0 0 {light['mark_edge']}; color: {light['fg']};
}}
.jx-code .jx-line.jx-note {{ color: {light['note']}; font-style: italic; }}
.dark .jx-code {{ background: {dark['bg']}; color: {dark['fg']}; border-color: {dark['border']}; }}
.dark .jx-code .jx-line::before {{
  color: {dark['gutter']}; background: {dark['bg']}; border-right-color: {dark['border']};
}}
.dark .jx-code .jx-line.jx-mark {{ background: {dark['mark']}; }}
.dark .jx-code .jx-line.jx-mark::before {{
  background: linear-gradient({dark['mark']}, {dark['mark']}), {dark['bg']};
  box-shadow: inset 3px 0 0 {dark['mark_edge']}; color: {dark['fg']};
}}
.dark .jx-code .jx-line.jx-note {{ color: {dark['note']}; }}
"""
    rules = _token_rules(light_style, ".jx-code") + _token_rules(dark_style, ".dark .jx-code")
    return layout.strip() + "\n" + "\n".join(rules) + "\n"


# --------------------------------------------------------------------------- source links and op docs
# (used by render_html; assets/linking.js reads these attributes in the browser)

#: how many colour bands linked lines cycle through (CSS classes jx-b0 .. jx-b5)
BANDS = 6
#: ``torch.relu(`` in TorchScript ``.code`` and Python source: a candidate op when aten has it
_TORCH_CALL = r"(?<![\w.])torch\.[A-Za-z_]\w*(?=\()"


def _link_attrs(n: int, src: int | None, cls: str, *, source_pane: bool) -> tuple[str, str]:
    """Extra attributes and the class of line ``n``: ``data-line`` in a source pane, ``data-src-line`` in IR."""
    if source_pane:
        return f' data-line="{n}"', cls
    if src is not None:
        return f' data-src-line="{int(src)}"', f"{cls} jx-b{int(src) % BANDS}"
    return "", cls


def _box_attrs(source_lines: Sequence[int | None] | None, shown: int, *, source_pane: bool) -> tuple[str, str]:
    """Extra classes and attributes of the box: linked IR panes and source panes are focusable."""
    if source_pane:
        return " jx-source", ' tabindex="0" aria-label="source; arrow keys move, Enter pins a line"'
    if source_lines is None:
        return "", ""
    known = sorted({int(s) for s in list(source_lines)[:shown] if s is not None})
    return (" jx-linked", f' data-src-lines="{" ".join(map(str, known))}" tabindex="0"'
            ' aria-label="IR; arrow keys move, Enter pins a line"')


class _DocCollector:
    """Wraps op tokens of each line and collects the docs of what was shown (one hidden block per render)."""

    def __init__(self) -> None:
        import re

        from . import opdocs

        self._opdocs = opdocs
        self._call = re.compile(_TORCH_CALL)
        self._docs: dict[str, str] = {}  # key -> inner HTML
        self._known: dict[str, str | None] = {}  # spelling -> key (None: no doc)

    def _key(self, spelling: str) -> str | None:
        if spelling not in self._known:
            doc = self._opdocs.doc_for(spelling)
            self._known[spelling] = doc.op if doc else None
            if doc and doc.op not in self._docs:
                self._docs[doc.op] = self._doc_html(doc.op, doc.schemas, doc.summary, doc.meaning)
        return self._known[spelling]

    @staticmethod
    def _doc_html(title: str, schemas: Sequence[str], summary: str, meaning: str) -> str:
        out = [f'<div class="jx-doc-op">{html.escape(title)}</div>']
        if schemas:
            more = f"\n(+{len(schemas) - 3} more overloads)" if len(schemas) > 3 else ""
            out.append(f'<pre class="jx-doc-schema">{html.escape(chr(10).join(schemas[:3]) + more)}</pre>')
        out.append(f'<div class="jx-doc-sum">{html.escape(summary)}</div>')
        if meaning:
            out.append(f'<div class="jx-doc-mean">{html.escape(meaning)}</div>')
        return "".join(out)

    def _note(self, cls: str, text: str) -> None:
        """Collect the doc of a value name (``nv``) or a type head (``kt``, ``nc``) shown on an IR line."""
        if cls == "nv" and text.startswith("%"):
            key = self._opdocs.value_kind(text)
            if key not in self._docs:
                self._docs[key] = self._doc_html(f"{key} (value)", (), self._opdocs.VALUE_DOCS[key], "")
        elif cls in ("kt", "nc"):
            head = "__torch__" if text.startswith("__torch__") else text
            key = f"type:{head}"
            if head in self._opdocs.TYPE_DOCS and key not in self._docs:
                self._docs[key] = self._doc_html(f"{head} (type)", (), self._opdocs.TYPE_DOCS[head], "")

    def line_html(self, parts: list[tuple[str, str]], raw: str, language: str) -> str:
        """One line's HTML with each documented op wrapped in ``<span class="jx-op" data-op=...>``."""
        line = "".join(t for _, t in parts)
        spans: list[tuple[int, int, str]] = []
        for m in self._opdocs.OP_RE.finditer(line):
            key = self._key(m.group(0))
            if key:
                spans.append((m.start(), m.end(), key))
        if language == "python" or "torch." in line:
            taken = {s for s, _, _ in spans}
            for m in self._call.finditer(line):
                key = None if m.start() in taken else self._key(m.group(0))
                if key:
                    spans.append((m.start(), m.end(), key))
            spans.sort()
        if language == "ir":
            for cls, text in parts:
                if cls in ("nv", "kt", "nc"):
                    self._note(cls, text)
        if not spans:
            return _line_html(parts)
        return self._wrap(parts, spans)

    @staticmethod
    def _wrap(parts: list[tuple[str, str]], spans: list[tuple[int, int, str]]) -> str:
        cuts = sorted({p for s, e, _ in spans for p in (s, e)})
        out: list[str] = []
        pos = 0
        si = 0
        open_span: tuple[int, int, str] | None = None
        for cls, text in parts:
            start = pos
            pos += len(text)
            inner = [c - start for c in cuts if start < c < pos]
            for a, b in zip([0, *inner], [*inner, len(text)], strict=True):
                seg_start = start + a
                if open_span and seg_start >= open_span[1]:
                    out.append("</span>")
                    open_span = None
                while si < len(spans) and spans[si][1] <= seg_start:
                    si += 1
                if open_span is None and si < len(spans) and spans[si][0] == seg_start:
                    open_span = spans[si]
                    out.append(f'<span class="jx-op" data-op="{html.escape(open_span[2], quote=True)}">')
                out.append(_line_html([(cls, text[a:b])]))
        if open_span:
            out.append("</span>")
        return "".join(out)

    def html(self) -> str:
        """The hidden block of docs, one ``<div data-doc-for=KEY>`` per op, value kind and type shown."""
        if not self._docs:
            return ""
        items = "".join(f'<div data-doc-for="{html.escape(k, quote=True)}">{v}</div>' for k, v in self._docs.items())
        return f'<div class="jx-opdocs" hidden>{items}</div>'
