/* JIT Explorer: two-way links between the source and the IR panes, and op docs on hover.
 *
 * Reads what jit_explorer.highlight.render_html writes:
 *   source pane  .jx-code.jx-source   lines .jx-line[data-line="N"]
 *   IR panes     .jx-code.jx-linked   lines .jx-line[data-src-line="N"], box data-src-lines="N M ..."
 *   op tokens    .jx-op[data-op="aten::conv2d"], docs in .jx-opdocs [data-doc-for="aten::conv2d"]
 * Hover a source line: its IR lines are highlighted in every pane (scrolled into view); hover an IR line:
 * its source line (and the IR from the same line). Click/tap or Enter pins; Escape unpins; arrow keys
 * move between lines. All listeners are on document (event delegation): Gradio replaces the panes'
 * HTML after each run and nothing here has to be re-attached.
 */
(function () {
  "use strict";
  if (window.__jxLinking) return;
  window.__jxLinking = true;

  var BANDS = 6;
  var state = { hover: null, pin: null };
  var tip = null;

  function lineOf(el) {
    return el && el.closest ? el.closest(".jx-code .jx-line") : null;
  }
  function keyOf(line) {
    if (!line) return null;
    var s = line.getAttribute("data-line");
    if (s) return s;
    return line.getAttribute("data-src-line");
  }
  function cssq(v) {
    return window.CSS && CSS.escape ? CSS.escape(v) : String(v).replace(/["\\]/g, "\\$&");
  }
  function targets(key) {
    if (!key) return [];
    var q = '.jx-code [data-src-line="' + cssq(key) + '"], .jx-code.jx-source [data-line="' + cssq(key) + '"]';
    return Array.prototype.slice.call(document.querySelectorAll(q));
  }

  function visible(el) {
    return !!(el.offsetParent || el.getClientRects().length);
  }
  function scrollIntoBox(line) {
    var box = line.closest(".jx-code");
    if (!box || !visible(box)) return;
    var top = line.offsetTop, h = line.offsetHeight;
    if (top < box.scrollTop || top + h > box.scrollTop + box.clientHeight) {
      box.scrollTop = Math.max(0, top - box.clientHeight / 2);
    }
  }

  function paint(key, cls, origin) {
    document.querySelectorAll(".jx-code ." + cls).forEach(function (el) { el.classList.remove(cls); });
    if (!key) return;
    var seenBox = new Set();
    targets(key).forEach(function (el) {
      el.classList.add(cls);
      var box = el.closest(".jx-code");
      if (box && !seenBox.has(box) && (!origin || !box.contains(origin))) {
        seenBox.add(box);
        scrollIntoBox(el);
      }
    });
  }

  function setHover(key, origin) {
    if (key === state.hover) return;
    state.hover = key;
    paint(key, "jx-hl", origin);
  }
  function setPin(key, origin) {
    state.pin = key === state.pin ? null : key;
    paint(state.pin, "jx-pin", origin);
    document.documentElement.toggleAttribute("data-jx-pinned", !!state.pin);
  }

  /* ---- colour bands on source lines that produced IR (recomputed when panes change) ---- */
  var bandQueued = false;
  function bands() {
    bandQueued = false;
    var have = new Set();
    document.querySelectorAll(".jx-code.jx-linked[data-src-lines]").forEach(function (box) {
      box.getAttribute("data-src-lines").split(" ").forEach(function (n) { if (n) have.add(n); });
    });
    document.querySelectorAll(".jx-code.jx-source").forEach(function (box) {
      box.querySelectorAll(".jx-line[data-line]").forEach(function (line) {
        var n = line.getAttribute("data-line");
        var on = have.has(n);
        line.classList.toggle("jx-has-ir", on);
        for (var b = 0; b < BANDS; b++) line.classList.toggle("jx-b" + b, on && Number(n) % BANDS === b);
      });
    });
    if (state.pin) paint(state.pin, "jx-pin");
  }
  function queueBands() {
    if (bandQueued) return;
    bandQueued = true;
    (window.requestAnimationFrame || setTimeout)(bands);
  }
  new MutationObserver(function (records) {
    for (var i = 0; i < records.length; i++) {
      var nodes = records[i].addedNodes;
      for (var j = 0; j < nodes.length; j++) {
        var n = nodes[j];
        if (n.nodeType === 1 && (n.classList.contains("jx-code") || n.querySelector(".jx-code"))) { queueBands(); return; }
      }
    }
  }).observe(document.documentElement, { childList: true, subtree: true });
  if (document.readyState !== "loading") queueBands();
  else document.addEventListener("DOMContentLoaded", queueBands);

  /* ---- the doc tooltip ---- */
  function docFor(key) {
    if (!key) return null;
    return document.querySelector('.jx-opdocs [data-doc-for="' + cssq(key) + '"]');
  }
  function valueKind(name) {
    if (name === "%self") return "%self";
    if (/^%\d+$/.test(name)) return "%N";
    if (/^%[A-Za-z_]\w*?\.\d+$/.test(name)) return "%name.N";
    return "%name";
  }
  function docKeyOf(el) {
    if (!el || !el.closest) return null;
    var op = el.closest(".jx-op");
    if (op) return { el: op, key: op.getAttribute("data-op") };
    var code = el.closest(".jx-code.jx-lang-ir");
    if (!code) return null;
    if (el.classList.contains("nv")) return { el: el, key: valueKind(el.textContent) };
    if (el.classList.contains("kt") || el.classList.contains("nc")) {
      var t = el.textContent;
      return { el: el, key: "type:" + (t.indexOf("__torch__") === 0 ? "__torch__" : t) };
    }
    return null;
  }
  function ensureTip() {
    if (tip && document.body.contains(tip)) return tip;
    tip = document.createElement("div");
    tip.id = "jx-tip";
    tip.className = "jx-tip";
    tip.setAttribute("role", "tooltip");
    tip.hidden = true;
    document.body.appendChild(tip);
    return tip;
  }
  function showTip(anchor, key) {
    var doc = docFor(key);
    if (!doc) return hideTip();
    var t = ensureTip();
    t.innerHTML = doc.innerHTML; /* server-rendered and escaped by render_html */
    t.setAttribute("data-for", key);
    t.hidden = false;
    var r = anchor.getBoundingClientRect();
    var w = Math.min(520, window.innerWidth - 16);
    t.style.maxWidth = w + "px";
    var left = Math.max(8, Math.min(r.left, window.innerWidth - t.offsetWidth - 8));
    var top = r.bottom + 6;
    if (top + t.offsetHeight > window.innerHeight - 8) top = Math.max(8, r.top - t.offsetHeight - 6);
    t.style.left = left + "px";
    t.style.top = top + "px";
    anchor.setAttribute("aria-describedby", "jx-tip");
  }
  function hideTip() {
    if (tip) tip.hidden = true;
  }

  /* ---- pointer ---- */
  document.addEventListener("mouseover", function (e) {
    var line = lineOf(e.target);
    if (line) setHover(keyOf(line), line);
    var d = docKeyOf(e.target);
    if (d && docFor(d.key)) showTip(d.el, d.key);
    else if (!(tip && tip.contains(e.target))) hideTip();
  });
  document.addEventListener("mouseout", function (e) {
    var to = e.relatedTarget;
    if (!lineOf(to) && !(tip && tip.contains(to))) setHover(null);
    if (!docKeyOf(to) && !(tip && tip.contains(to))) hideTip();
  });
  document.addEventListener("click", function (e) {
    var line = lineOf(e.target);
    if (!line) return;
    var key = keyOf(line);
    if (key) setPin(key, line);
    var d = docKeyOf(e.target);
    if (d && docFor(d.key)) showTip(d.el, d.key); /* a tap on a phone shows the doc too */
  });

  /* ---- keyboard: a focused box hands focus to a line; arrows move; Enter pins; Escape unpins ---- */
  function focusLine(line) {
    if (!line) return;
    var box = line.closest(".jx-code");
    var prev = box.querySelector('.jx-line[tabindex="-1"]');
    if (prev && prev !== line) prev.removeAttribute("tabindex");
    line.setAttribute("tabindex", "-1");
    line.focus({ preventScroll: true });
    scrollIntoBox(line);
  }
  document.addEventListener("focusin", function (e) {
    var el = e.target;
    if (el.classList && el.classList.contains("jx-code") && (el.classList.contains("jx-linked") || el.classList.contains("jx-source"))) {
      if (e.relatedTarget && el.contains(e.relatedTarget)) return; /* shift+tab out of a line: let it leave */
      var start = el.querySelector('.jx-line[tabindex="-1"]') || el.querySelector(".jx-line[data-src-line], .jx-line[data-line]") || el.querySelector(".jx-line");
      focusLine(start);
      return;
    }
    var line = lineOf(el);
    if (line) {
      line.classList.add("jx-cursor");
      setHover(keyOf(line), line);
      var op = line.querySelector(".jx-op");
      if (op) showTip(op, op.getAttribute("data-op"));
    }
  });
  document.addEventListener("focusout", function (e) {
    var line = lineOf(e.target);
    if (line) line.classList.remove("jx-cursor");
    if (!lineOf(e.relatedTarget)) { setHover(null); hideTip(); }
  });
  document.addEventListener("keydown", function (e) {
    var line = lineOf(e.target);
    if (e.key === "Escape") {
      if (state.pin) setPin(state.pin);
      hideTip();
      return;
    }
    if (!line || e.target !== line) return;
    var next = null;
    if (e.key === "ArrowDown") next = line.nextElementSibling;
    else if (e.key === "ArrowUp") next = line.previousElementSibling;
    else if (e.key === "Home") next = line.parentElement.firstElementChild;
    else if (e.key === "End") next = line.parentElement.lastElementChild;
    else if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      var key = keyOf(line);
      if (key) setPin(key, line);
      return;
    }
    if (next && next.classList.contains("jx-line")) {
      e.preventDefault();
      focusLine(next);
    }
  });

  window.jxLinking = { state: state, refresh: queueBands }; /* for tests and the benchmark */
})();
