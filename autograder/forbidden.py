"""Static scan of a submission for forbidden APIs, attributed to the functions and classes that use them.

The scan reads the source with `ast` (it never imports it), resolves import aliases (`import torch.nn.functional
as F` makes `F.dropout` mean `torch.nn.functional.dropout`, `f = F.dropout` inside a function too), and follows
calls between the module's own top-level functions, so a target that reaches a forbidden API through a helper is
caught too.

In an assignment that forbids any API, the ways around a name-based check are violations themselves (honest
solutions never need them): `exec`, `eval`, `compile` and `__import__`; the modules `ast`, `importlib`, `inspect`
and `linecache`; `sys.modules`; PyTorch's operator registries and internals (`torch.ops`, `torch._C`, `torch._VF`,
`torch._refs`, `torch._decomp`, `torch._prims`, `torch.library`...); reading a module's source file (`__file__`,
`__code__`, `__globals__`, a path into site-packages or torch); and `getattr`, `vars` or `__dict__` on a torch
object (or one of a forbidden library) with a name that is not a literal. The worker adds run-time tripwires, on
Python names and at PyTorch's dispatcher, for what a static scan cannot see.

Not violations, and said so in a note: findings inside an `if __name__ == "__main__":` block (never run when the
module is imported for grading), and a forbidden name imported with `from ... import` but never used.
"""

from __future__ import annotations

import ast
import fnmatch
from dataclasses import dataclass

from .spec import Forbidden


@dataclass(frozen=True)
class Violation:
    name: str  # the dotted API that was used
    line: int
    rule: Forbidden

    def message(self, where: str) -> str:
        return f"{where} uses {self.name} (line {self.line}), which is forbidden here: {self.rule.why}"


BYPASS = Forbidden("<a way around the forbidden-API check>",
                   "it can reach a forbidden API without naming it, and a correct solution never needs it "
                   "(see the rules in the assignment's README)")
BYPASS_CALLS = frozenset({"exec", "eval", "compile", "__import__"})
BYPASS_MODULES = ("ast", "importlib", "inspect", "linecache", "sys.modules", "builtins.exec", "builtins.eval",
                  "builtins.compile", "builtins.__import__")
TORCH_INTERNALS = ("torch.ops", "torch._C", "torch._VF", "torch._ops", "torch._refs", "torch._decomp",
                   "torch._prims", "torch._prims_common", "torch.library", "torch._library", "torch._dynamo",
                   "torch.fx", "torch.func.functional_call")
SOURCE_ATTRS = frozenset({"__file__", "__code__", "__globals__", "__loader__", "__spec__", "__builtins__"})
DYNAMIC_LOOKUPS = frozenset({"getattr", "vars", "__getattribute__"})


def matches(name: str, rule: Forbidden) -> bool:
    """Whether the dotted `name` falls under `rule`'s pattern."""
    p = rule.pattern
    return name == p or name.startswith(p + ".") or fnmatch.fnmatchcase(name, p)


_matches = matches


def _under(name: str, prefixes) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


class _Scanner(ast.NodeVisitor):
    def __init__(self, rules, aliases, top_names, roots=()):
        self.rules, self.aliases, self.top_names = rules, dict(aliases), top_names
        self.roots = set(roots)  # first parts of the forbidden patterns, and torch
        self.violations: list[Violation] = []
        self.calls: set[str] = set()
        self.used: set[str] = set()  # alias names read

    def _check(self, dotted: str, line: int):
        for rule in self.rules:
            if _matches(dotted, rule):
                self.violations.append(Violation(dotted, line, rule))
                return
        if self.rules and (_under(dotted, BYPASS_MODULES) or _under(dotted, TORCH_INTERNALS)
                           or dotted.rsplit(".", 1)[-1] in SOURCE_ATTRS or dotted.endswith(".__dict__")):
            self.violations.append(Violation(dotted, line, BYPASS))

    def _bypass(self, what: str, line: int):
        if self.rules:
            self.violations.append(Violation(what, line, BYPASS))

    def visit_Import(self, node):
        for a in node.names:
            if not _under(a.name, BYPASS_MODULES):  # importing a bypass module is not yet using it
                self._check(a.name, node.lineno)
            self.aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]

    def visit_ImportFrom(self, node):
        if node.level:
            return
        for a in node.names:
            full = f"{node.module}.{a.name}" if node.module else a.name
            self.aliases[a.asname or a.name] = full  # using the name is what counts, not importing it
        if node.module and not _under(node.module, BYPASS_MODULES) and not _under(node.module, TORCH_INTERNALS):
            self._check(node.module, node.lineno)

    def visit_Assign(self, node):
        self.generic_visit(node)
        dotted = self._resolve(node.value)
        if dotted:
            for tgt in node.targets:
                if isinstance(tgt, ast.Name):
                    self.aliases[tgt.id] = dotted

    def _resolve(self, node) -> str | None:
        if isinstance(node, ast.Attribute):
            return _dotted(node, self.aliases)
        if isinstance(node, ast.Name) and node.id in self.aliases:
            return self.aliases[node.id]
        return None

    def visit_Attribute(self, node):
        if node.attr in SOURCE_ATTRS:
            self._bypass(f"the attribute {node.attr}", node.lineno)
        dotted = _dotted(node, self.aliases)
        if dotted:
            self._mark_used(node)
            self._check(dotted, node.lineno)
            return  # the chain's inner parts are prefixes of this name
        self.generic_visit(node)

    def _mark_used(self, node):
        while isinstance(node, ast.Attribute):
            node = node.value
        if isinstance(node, ast.Name):
            self.used.add(node.id)

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Load):
            if node.id in self.aliases:
                self.used.add(node.id)
                self._check(self.aliases[node.id], node.lineno)
            elif node.id in BYPASS_CALLS:
                self._bypass(node.id, node.lineno)
            if node.id in self.top_names:
                self.calls.add(node.id)

    def visit_Call(self, node):
        fn = node.func
        name = fn.id if isinstance(fn, ast.Name) and fn.id not in self.aliases else \
            (fn.attr if isinstance(fn, ast.Attribute) else None)
        if name in DYNAMIC_LOOKUPS and node.args:
            literal = len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) and \
                isinstance(node.args[1].value, str)
            if name == "vars" or not literal:
                target = self._resolve(node.args[0]) if name != "__getattribute__" else \
                    self._resolve(fn.value) if isinstance(fn, ast.Attribute) else None
                if target and target.split(".")[0] in self.roots:
                    self._bypass(f"{name}() on {target} with a computed name", node.lineno)
        self.generic_visit(node)

    def visit_Constant(self, node):
        if isinstance(node.value, str) and ("site-packages" in node.value or "/torch/" in node.value):
            self._bypass("a path into the installed libraries", node.lineno)


def _dotted(node, aliases) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name) and node.id in aliases:
        return ".".join([aliases[node.id], *reversed(parts)])
    return None


def _is_main_guard(node) -> bool:
    """`if __name__ == "__main__":` (either order)."""
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare) or len(node.test.ops) != 1:
        return False
    sides = [node.test.left, *node.test.comparators]
    names = [s.id for s in sides if isinstance(s, ast.Name)]
    consts = [s.value for s in sides if isinstance(s, ast.Constant)]
    return isinstance(node.test.ops[0], ast.Eq) and names == ["__name__"] and consts == ["__main__"]


NOTE_KEY = "notes"


def scan(source: str, rules: tuple[Forbidden, ...], targets: tuple[str, ...]) -> dict[str, list[str]]:
    """Map each target to the messages of the forbidden APIs it uses (directly or through module helpers).

    The key "*" holds module-level violations (a forbidden import at the top of the file), which concern every
    target. The key `NOTE_KEY` ("notes") holds findings that were not counted (inside `if __name__ == "__main__":`,
    or imported and never used), for a note in the report. Raises SyntaxError when the source does not parse.
    """
    if not rules:
        return {}
    tree = ast.parse(source)
    top_defs = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    roots = {r.pattern.split(".")[0] for r in rules} | {"torch"}
    notes: list[str] = []

    # Module level: imports and assignments bind aliases for the whole module.
    module_scan = _Scanner(rules, {}, set(top_defs), roots)
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for deco in node.decorator_list:
                module_scan.visit(deco)
            continue
        if _is_main_guard(node):
            probe = _Scanner(rules, module_scan.aliases, set(top_defs), roots)
            for child in node.body:
                probe.visit(child)
            notes += [f"{v.name} (line {v.line}) is inside `if __name__ == \"__main__\":`, which grading never runs: "
                      "not counted as a violation" for v in probe.violations]
            continue
        module_scan.visit(node)

    per_def: dict[str, list[Violation]] = {}
    calls: dict[str, set[str]] = {}
    used = set(module_scan.used)
    for name, node in top_defs.items():
        s = _Scanner(rules, module_scan.aliases, set(top_defs), roots)
        for child in (node.body if not isinstance(node, ast.ClassDef) else [node]):
            s.visit(child)
        per_def[name] = s.violations
        calls[name] = s.calls - {name}
        used |= s.used

    # `from torch.nn.functional import dropout` that nothing uses: not a violation, but say so.
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and not node.level and node.module:
            for a in node.names:
                full, local = f"{node.module}.{a.name}", a.asname or a.name
                if local not in used and any(_matches(full, r) for r in rules) and \
                        not any(_matches(node.module, r) for r in rules):  # importing the module is the violation
                    notes.append(f"{full} (line {node.lineno}) is imported but never used: not counted as a "
                                 "violation")

    def reach(name: str) -> list[tuple[str, Violation]]:
        seen, stack, found = {name}, [name], []
        while stack:
            current = stack.pop()
            found += [(current, v) for v in per_def.get(current, [])]
            for callee in calls.get(current, ()):
                if callee not in seen:
                    seen.add(callee)
                    stack.append(callee)
        return found

    out: dict[str, list[str]] = {}
    if module_scan.violations:
        out["*"] = sorted({v.message("your module") for v in module_scan.violations})
    for target in targets:
        msgs = {v.message(target if via == target else f"{target} (through {via})") for via, v in reach(target)}
        if msgs:
            out[target] = sorted(msgs)
    if notes:
        out[NOTE_KEY] = sorted(set(notes))
    return out
