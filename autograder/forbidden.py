"""Static scan of a submission for forbidden APIs, attributed to the functions and classes that use them.

The scan reads the source with `ast` (it never imports it), resolves import aliases (`import torch.nn.functional
as F` makes `F.dropout` mean `torch.nn.functional.dropout`), and follows calls between the module's own top-level
functions, so a target that reaches a forbidden API through a helper is caught too. The worker adds a run-time
tripwire for what a static scan cannot see (`getattr` with a computed name).
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


def _matches(name: str, rule: Forbidden) -> bool:
    p = rule.pattern
    return name == p or name.startswith(p + ".") or fnmatch.fnmatchcase(name, p)


class _Scanner(ast.NodeVisitor):
    def __init__(self, rules, aliases, top_names):
        self.rules, self.aliases, self.top_names = rules, dict(aliases), top_names
        self.violations: list[Violation] = []
        self.calls: set[str] = set()

    def _check(self, dotted: str, line: int):
        for rule in self.rules:
            if _matches(dotted, rule):
                self.violations.append(Violation(dotted, line, rule))
                return

    def visit_Import(self, node):
        for a in node.names:
            self._check(a.name, node.lineno)
            self.aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]

    def visit_ImportFrom(self, node):
        if node.level:
            return
        for a in node.names:
            full = f"{node.module}.{a.name}" if node.module else a.name
            self.aliases[a.asname or a.name] = full  # using the name is what counts, not importing it
        if node.module:
            self._check(node.module, node.lineno)

    def visit_Attribute(self, node):
        dotted = _dotted(node, self.aliases)
        if dotted:
            self._check(dotted, node.lineno)
            return  # the chain's inner parts are prefixes of this name
        self.generic_visit(node)

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Load):
            if node.id in self.aliases:
                self._check(self.aliases[node.id], node.lineno)
            if node.id in self.top_names:
                self.calls.add(node.id)


def _dotted(node, aliases) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name) and node.id in aliases:
        return ".".join([aliases[node.id], *reversed(parts)])
    return None


def scan(source: str, rules: tuple[Forbidden, ...], targets: tuple[str, ...]) -> dict[str, list[str]]:
    """Map each target to the messages of the forbidden APIs it uses (directly or through module helpers).

    The key "*" holds module-level violations (a forbidden import at the top of the file), which concern every
    target. Raises SyntaxError when the source does not parse.
    """
    if not rules:
        return {}
    tree = ast.parse(source)
    top_defs = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}

    # Module level: imports and assignments bind aliases for the whole module.
    module_scan = _Scanner(rules, {}, set(top_defs))
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for deco in node.decorator_list:
                module_scan.visit(deco)
            continue
        module_scan.visit(node)
        if isinstance(node, ast.Assign):
            for tgt in node.targets:
                dotted = _dotted(node.value, module_scan.aliases) if isinstance(node.value, ast.Attribute) else None
                if isinstance(node.value, ast.Name) and node.value.id in module_scan.aliases:
                    dotted = module_scan.aliases[node.value.id]
                if isinstance(tgt, ast.Name) and dotted:
                    module_scan.aliases[tgt.id] = dotted

    per_def: dict[str, list[Violation]] = {}
    calls: dict[str, set[str]] = {}
    for name, node in top_defs.items():
        s = _Scanner(rules, module_scan.aliases, set(top_defs))
        for child in (node.body if not isinstance(node, ast.ClassDef) else [node]):
            s.visit(child)
        per_def[name] = s.violations
        calls[name] = s.calls - {name}

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
    return out
