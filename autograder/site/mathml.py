"""A Sphinx HTML math renderer that writes MathML at build time, with latex2mathml.

Sphinx's own renderers (MathJax, KaTeX through an extension) load JavaScript and fonts from a CDN when the page is
opened, which fails offline; this one needs nothing at view time: the page holds `<math>` elements, which Chromium,
Firefox and Safari draw natively (MathML Core). Enable it with `extensions = ["autograder.site.mathml"]` and
`html_math_renderer = "mathml"`. A formula latex2mathml cannot convert fails the build with its source text.
"""

from __future__ import annotations

import html
import re

from docutils import nodes
from latex2mathml.converter import convert
from sphinx.errors import ExtensionError

# LaTeX that latex2mathml leaves as text or writes outside MathML Core, rewritten to what it renders.
REWRITES = ((r"\!", ""), (r"\arg\min", r"\operatorname{argmin}"), (r"\arg\max", r"\operatorname{argmax}"))
_SIZED_NORM = re.compile(r"\\(?:big|Big|bigg|Bigg)[lr]?\\\|")  # \big\| and friends: a plain \|
_LEFTOVER = re.compile(r">[^<]*\\[A-Za-z|][^<]*<")  # a LaTeX command that came out as text

# MathML Core ignores `mathvariant` other than "normal", so \mathbb, \mathcal, \mathbf and \mathfrak letters become
# the Unicode mathematical alphanumeric symbols: (start of A..Z, start of a..z or None, letters with an older code).
_VARIANTS = {
    "double-struck": (0x1D538, 0x1D552, {"C": "ℂ", "H": "ℍ", "N": "ℕ", "P": "ℙ", "Q": "ℚ", "R": "ℝ", "Z": "ℤ"}),
    "script": (0x1D49C, 0x1D4B6, {"B": "ℬ", "E": "ℰ", "F": "ℱ", "H": "ℋ", "I": "ℐ", "L": "ℒ", "M": "ℳ", "R": "ℛ",
                                  "e": "ℯ", "g": "ℊ", "o": "ℴ"}),
    "fraktur": (0x1D504, 0x1D51E, {"C": "ℭ", "H": "ℌ", "I": "ℑ", "R": "ℜ", "Z": "ℨ"}),
    "bold": (0x1D400, 0x1D41A, {}),
    "bold-italic": (0x1D468, 0x1D482, {}),
}
_VARIANT_RE = re.compile(r'<mi mathvariant="([a-z-]+)">([A-Za-z])</mi>')


def _letter(m: re.Match) -> str:
    variant, ch = m.group(1), m.group(2)
    if variant not in _VARIANTS:
        return m.group(0)
    upper, lower, special = _VARIANTS[variant]
    code = special.get(ch) or chr((upper + ord(ch) - 65) if ch.isupper() else (lower + ord(ch) - 97))
    return f"<mi>{code}</mi>"


def to_mathml(latex: str, display: bool) -> str:
    source = latex.strip()
    for old, new in REWRITES:
        source = source.replace(old, new)
    source = _SIZED_NORM.sub(r"\\|", source)
    try:
        out = convert(source, display="block" if display else "inline")
    except Exception as exc:  # latex2mathml raises its own exception types for unknown commands
        raise ExtensionError(f"cannot render formula ${latex}$ as MathML: {exc}") from exc
    out = _VARIANT_RE.sub(_letter, out)
    if "<merror" in out or _LEFTOVER.search(out):
        raise ExtensionError(f"cannot render formula ${latex}$ as MathML")
    # keep the LaTeX for screen readers' fallback, copy-paste and the site's tests
    annotation = f'<annotation encoding="application/x-tex">{html.escape(latex.strip())}</annotation>'
    if "<semantics>" not in out:
        body = out[out.index(">") + 1:out.rindex("</math>")]
        out = out[:out.index(">") + 1] + f"<semantics><mrow>{body}</mrow>{annotation}</semantics></math>"
    return out


def visit_math(self, node: nodes.math) -> None:
    self.body.append(self.starttag(node, "span", "", CLASS="math notranslate"))
    self.body.append(to_mathml(node.astext(), display=False) + "</span>")
    raise nodes.SkipNode


def visit_displaymath(self, node: nodes.math_block) -> None:
    self.body.append(self.starttag(node, "div", CLASS="math notranslate"))
    if node.get("number"):
        from sphinx.util.math import get_node_equation_number

        self.body.append(f'<span class="eqno">({get_node_equation_number(self, node)})</span>')
    parts = [p for p in node.astext().split("\n\n") if p.strip()]
    for part in parts:
        self.body.append(to_mathml(part, display=True))
    self.body.append("</div>\n")
    raise nodes.SkipNode


def setup(app):
    app.add_html_math_renderer("mathml", (visit_math, None), (visit_displaymath, None))
    return {"parallel_read_safe": True, "parallel_write_safe": True}
