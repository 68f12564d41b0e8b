"""The course's reading order, its measured time estimates, and the Markdown generated from them.

Everything here is derived from the assignment specs (`autograder/checks/<slug>/spec.py`: `order`, `lecture`,
`title`, `milestone`) and from the files of the repository; there is no list of assignments or lectures in this
module. `sync` writes the generated blocks into the Markdown files (between `<!-- site:NAME:begin -->` and
`<!-- site:NAME:end -->` markers) and reports what it changed; `sync(check=True)` changes nothing.

**Reading order.** Lectures are numbered by the constraint they tell (0 introduction, 1 data, ..., 7 energy,
8 closing), but they are read in the order of the assignments: a lecture's place is the smallest `order` of the
assignments that point into it; a lecture without assignments follows the lecture numbered just before it.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

from .. import spec as specs_mod
from ..paths import REPO_ROOT

LECTURE_GLOB = "[0-9][0-9]-*.md"
INDEX = "README.md"
SYLLABUS = "syllabus.md"

# The rates that turn measured sizes into hours. They are assumptions, printed on the syllabus page next to the
# measured quantities, so an instructor can rescale them.
PROSE_WPM = 150  # words per minute when reading an assignment README or notebook text
LECTURE_WPM = 80  # words per minute when studying a lecture (mathematics, figures)
MIN_PER_TODO = 15  # understanding one TODO: its docstring, its equation, its shapes
MIN_PER_SOLUTION_LINE = 4  # writing and debugging one line of the reference solution's code
MIN_PER_CODE_CELL = 5  # running one notebook code cell and reading its output
MIN_PER_EXERCISE = 20  # one lecture exercise, on paper
WEEKLY_HOURS = 10  # the study time a week is planned for
ASSIGNMENT_SHARE = 80  # percent of the grade for the assignments; the rest for the lecture exercises

HEADING_RE = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
WORD_RE = re.compile(r"\w+")


# --- Markdown helpers ------------------------------------------------------------------------------------------

def github_slug(heading: str) -> str:
    """GitHub's anchor for a heading: links keep their text, markup and punctuation dropped, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"[`*_]", "", text).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def headings(text: str) -> list[tuple[int, int, str, str]]:
    """(line number, level, title, anchor) of every heading outside code fences; repeated anchors get -1, -2..."""
    out, seen, in_code = [], {}, False
    for i, line in enumerate(text.splitlines()):
        if line.startswith("```"):
            in_code = not in_code
        m = None if in_code else HEADING_RE.match(line)
        if m:
            slug = github_slug(m.group(2))
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            out.append((i, len(m.group(1)), m.group(2), slug if n == 0 else f"{slug}-{n}"))
    return out


def section_text(text: str, anchor: str) -> str | None:
    """The section under the heading with this anchor, up to the next heading of the same or a higher level."""
    lines = text.splitlines()
    heads = headings(text)
    for k, (i, level, _, a) in enumerate(heads):
        if a == anchor:
            end = next((j for j, lv, _, _ in heads[k + 1:] if lv <= level), len(lines))
            return "\n".join(lines[i + 1:end])
    return None


def words(text: str) -> int:
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    text = re.sub(r"<!--.*?-->", " ", text, flags=re.S)
    return len(WORD_RE.findall(text))


def marker(name: str, end: bool = False) -> str:
    return f"<!-- site:{name}:{'end' if end else 'begin'} -->"


def replace_block(text: str, name: str, body: str) -> str:
    """Replace what lies between the markers of `name` (which must be present) by `body`."""
    begin, end = marker(name), marker(name, end=True)
    i, j = text.find(begin), text.find(end)
    if i < 0 or j < i:
        raise ValueError(f"no {begin} ... {end} block")
    return text[:i + len(begin)] + "\n" + body.strip("\n") + "\n" + text[j:]


# --- the course's facts ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Lecture:
    number: int
    name: str  # file name, e.g. "03-optimization-and-regularization.md"
    title: str  # e.g. "Optimization & regularization"
    words: int
    exercises: int

    @property
    def label(self) -> str:
        return f"Lecture {self.number}, {self.title}"

    @property
    def hours(self) -> float:
        return half_hours(self.words / LECTURE_WPM + self.exercises * MIN_PER_EXERCISE)


def half_hours(minutes: float) -> float:
    return max(0.5, math.ceil(minutes / 30) / 2)


def lectures(root: Path = REPO_ROOT) -> list[Lecture]:
    out = []
    for path in sorted((root / "lectures").glob(LECTURE_GLOB)):
        text = path.read_text(encoding="utf-8")
        h1 = next((t for _, lv, t, _ in headings(text) if lv == 1), path.stem)
        title = re.split(r"\s+—\s+", h1, maxsplit=1)[-1]
        exercises = section_text(text, "exercises") or ""
        out.append(Lecture(int(path.name[:2]), path.name, title, words(text),
                           len(re.findall(r"^\d+\.\s+\S", exercises, flags=re.M))))
    return out


def lecture_of(spec: specs_mod.Assignment) -> tuple[str, str]:
    """(lecture file name, anchor) of an assignment's `lecture` field ("lectures/<file>.md#<anchor>")."""
    path, _, anchor = spec.lecture.partition("#")
    return Path(path).name, anchor


def reading_order(lecs: list[Lecture], specs: list[specs_mod.Assignment]) -> list[Lecture]:
    first: dict[str, float] = {}
    for s in specs:
        name = lecture_of(s)[0]
        first[name] = min(first.get(name, math.inf), s.order)
    key, prev = {}, -1.0
    for lec in sorted(lecs, key=lambda l: l.number):
        key[lec.name] = prev = first.get(lec.name, prev + 1e-3)
    return sorted(lecs, key=lambda l: (key[l.name], l.number))


def assignments_of(lec: Lecture, specs: list[specs_mod.Assignment]) -> list[specs_mod.Assignment]:
    return sorted((s for s in specs if lecture_of(s)[0] == lec.name), key=lambda s: (s.order, s.slug))


@dataclass(frozen=True)
class Estimate:
    """What a student has to do for one assignment, measured from its files, and the hours it implies."""

    slug: str
    todos: int  # TODO markers in the skeleton
    solution_lines: int  # code lines between the reference's BEGIN/END SOLUTION markers
    code_cells: int  # code cells of the walk-through notebook
    prose_words: int  # words of the README and of the notebook's text cells

    @property
    def minutes(self) -> float:
        return (self.prose_words / PROSE_WPM + self.todos * MIN_PER_TODO
                + self.solution_lines * MIN_PER_SOLUTION_LINE + self.code_cells * MIN_PER_CODE_CELL)

    @property
    def hours(self) -> float:
        return half_hours(self.minutes)


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def estimate(slug: str, repo: Path = REPO_ROOT) -> Estimate:
    folder = repo / "assignments" / slug
    todos = len(re.findall(r"\bTODO\b", _read(folder / f"{slug}.py")))
    lines, inside = 0, False
    for line in _read(repo / "solutions" / slug / f"{slug}.py").splitlines():
        s = line.strip()
        if "BEGIN SOLUTION" in s:
            inside = True
        elif "END SOLUTION" in s:
            inside = False
        elif inside and s and not s.startswith("#"):
            lines += 1
    cells, prose = 0, words(_read(folder / "README.md"))
    notebook = folder / f"{slug}.ipynb"
    if notebook.is_file():
        for cell in json.loads(notebook.read_text(encoding="utf-8")).get("cells", []):
            source = "".join(cell.get("source", []))
            if cell.get("cell_type") == "code":
                cells += 1
            elif cell.get("cell_type") == "markdown":
                prose += words(source)
    return Estimate(slug, todos, lines, cells, prose)


@dataclass(frozen=True)
class Course:
    """The course as the site presents it: lectures in reading order, each with its assignments."""

    order: list[Lecture]
    specs: list[specs_mod.Assignment]
    estimates: dict[str, Estimate]

    def assignments(self, lec: Lecture) -> list[specs_mod.Assignment]:
        return assignments_of(lec, self.specs)

    def step(self, lec: Lecture) -> int:
        return self.order.index(lec) + 1

    def items(self) -> list[tuple[str, object, float]]:
        """("lecture", Lecture, hours) and ("assignment", spec, hours) in reading order."""
        out = []
        for lec in self.order:
            out.append(("lecture", lec, lec.hours))
            out += [("assignment", s, self.estimates[s.slug].hours) for s in self.assignments(lec)]
        return out

    def weeks(self) -> list[list[tuple[str, object, float]]]:
        """Split the items, in order, into 10 to 14 weeks of about equal load (never splitting an item)."""
        items = self.items()
        total = sum(h for *_, h in items)
        n = min(14, max(10, round(total / WEEKLY_HOURS)))
        per_week = total / n
        weeks: list[list] = [[] for _ in range(n)]
        done = 0.0
        for item in items:
            week = min(n - 1, int((done + item[2] / 2) / per_week))
            weeks[week].append(item)
            done += item[2]
        return weeks

    def weights(self) -> dict[str, int]:
        """Percent of the grade per assignment, in proportion to its estimated hours (largest remainders)."""
        hours = {s.slug: self.estimates[s.slug].hours for s in self.specs}
        total = sum(hours.values()) or 1.0
        raw = {k: ASSIGNMENT_SHARE * v / total for k, v in hours.items()}
        out = {k: int(v) for k, v in raw.items()}
        for k in sorted(raw, key=lambda k: raw[k] - out[k], reverse=True)[:ASSIGNMENT_SHARE - sum(out.values())]:
            out[k] += 1
        return out


def course(root: Path = REPO_ROOT, repo: Path = REPO_ROOT) -> Course:
    """The course as it stands: an assignment joins it (the reading order, the tables, the links) once its spec
    and its README both exist, so that a spec being written never leaves a link to a missing page."""
    specs = [s for s in specs_mod.all_specs() if (repo / "assignments" / s.slug / "README.md").is_file()]
    return Course(reading_order(lectures(root), specs), specs, {s.slug: estimate(s.slug, repo) for s in specs})


# --- generated Markdown ----------------------------------------------------------------------------------------

def _readme(slug: str, prefix: str = "..") -> str:
    return f"{prefix}/assignments/{slug}/README.md"


def _alink(spec: specs_mod.Assignment, prefix: str = "..") -> str:
    return f"[{spec.slug}]({_readme(spec.slug, prefix)})"


def _fmt_hours(h: float) -> str:
    return f"{h:g}"


def path_table(c: Course) -> str:
    rows = ["| Step | Lecture | Assignments, in order | Hours (lecture + assignments) |", "| --- | --- | --- | --- |"]
    for lec in c.order:
        specs = c.assignments(lec)
        hours = lec.hours + sum(c.estimates[s.slug].hours for s in specs)
        rows.append(f"| {c.step(lec)} | [{lec.number}. {lec.title}]({lec.name}) | "
                    f"{', '.join(map(_alink, specs)) or '—'} | {_fmt_hours(hours)} |")
    return "\n".join(rows)


def nav_line(c: Course, lec: Lecture) -> str:
    k = c.step(lec)
    parts = [f"*Step {k} of {len(c.order)} in the [reading order](syllabus.md#reading-order)."]
    if k > 1:
        prev = c.order[k - 2]
        parts.append(f"Previous: [{prev.label}]({prev.name}).")
    if k < len(c.order):
        nxt = c.order[k]
        parts.append(f"Next: [{nxt.label}]({nxt.name}).")
    parts.append("Index: [lectures](README.md).*")
    return " ".join(parts)


def assignments_section(c: Course, lec: Lecture) -> str:
    specs = c.assignments(lec)
    if not specs:
        return ("This lecture has no assignment of its own; the [syllabus](syllabus.md#schedule) says what to work on "
                "in its week.")
    lines = ["After this lecture, do these assignments, in this order:", ""]
    for s in specs:
        _, anchor = lecture_of(s)
        title = (s.title or s.slug).rstrip(".")
        lines.append(f"- {_alink(s)}: {title}. Its story is told in [this section](#{anchor}); "
                     f"about {_fmt_hours(c.estimates[s.slug].hours)} hours of work.")
    return "\n".join(lines)


def callout(specs: list[specs_mod.Assignment]) -> str:
    lines = []
    for s in specs:
        title = (s.title or s.slug).rstrip(".")
        lines.append(f"> **Assignment:** you implement this in {_alink(s)} ({title}); "
                     f"self-check it with `dlcourse check {s.slug}`.")
    return "\n>\n".join(lines)


def schedule_table(c: Course) -> str:
    rows = ["| Week | Read | Do | Hours |", "| --- | --- | --- | --- |"]
    for w, items in enumerate(c.weeks(), start=1):
        read = [f"[{o.label}]({o.name})" for kind, o, _ in items if kind == "lecture"]
        do = [_alink(o) for kind, o, _ in items if kind == "assignment"]
        hours = sum(h for *_, h in items)
        rows.append(f"| {w} | {', '.join(read) or '—'} | {', '.join(do) or 'catch up, or go deeper'} | "
                    f"{_fmt_hours(hours) if items else '—'} |")
    return "\n".join(rows)


def estimates_table(c: Course) -> str:
    rows = ["| Assignment | Lecture section | TODOs | Lines to write | Notebook code cells | Words to read | Hours |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    by_name = {lec.name: lec for lec in c.order}
    for lec in c.order:
        for s in c.assignments(lec):
            e = c.estimates[s.slug]
            name, anchor = lecture_of(s)
            rows.append(f"| {_alink(s)} | [Lecture {by_name[name].number}]({name}#{anchor}) | {e.todos} | "
                        f"{e.solution_lines} | {e.code_cells} | {e.prose_words} | {_fmt_hours(e.hours)} |")
    total = sum(e.hours for e in c.estimates.values())
    rows.append(f"| **all assignments** | | | | | | **{_fmt_hours(total)}** |")
    return "\n".join(rows)


def weights_table(c: Course) -> str:
    weights = c.weights()
    rows = ["| Component | Weight |", "| --- | ---: |"]
    for lec in c.order:
        for s in c.assignments(lec):
            rows.append(f"| {_alink(s)} | {weights[s.slug]}% |")
    rows.append(f"| Lecture exercises (all lectures, equal weight) | {100 - sum(weights.values())}% |")
    return "\n".join(rows)


def order_list(c: Course) -> str:
    lines = []
    for lec in c.order:
        specs = c.assignments(lec)
        first = f", first assignment order {specs[0].order}" if specs else ""
        lines.append(f"{c.step(lec)}. [{lec.label}]({lec.name}) (constraint number {lec.number}{first})")
    return "\n".join(lines)


# --- sync ------------------------------------------------------------------------------------------------------

CALLOUT = "assignment"
MILESTONE_HEADER = re.compile(r"^\|\s*Chapter\s*\|\s*Milestone\s*\|")


def _remove_blocks(text: str, name: str) -> str:
    begin, end = re.escape(marker(name)), re.escape(marker(name, end=True))
    text = re.sub(rf"\n\n{begin}.*?{end}\n", "\n", text, flags=re.S)  # as `_insert_callouts` writes it
    return re.sub(rf"{begin}.*?{end}\n?", "", text, flags=re.S)


def _set_nav(text: str, line: str) -> str:
    block = f"{marker('nav')}\n{line}\n{marker('nav', end=True)}"
    if marker("nav") in text:
        return replace_block(text, "nav", line)
    lines = text.splitlines()
    # the first italic line after the title is the navigation line of the hand-written lectures
    for i, l in enumerate(lines[:6]):
        if l.startswith("*") and ("Next:" in l or "Previous:" in l or "index" in l.lower()):
            lines[i] = block
            return "\n".join(lines) + "\n"
    lines.insert(1, "\n" + block)
    return "\n".join(lines) + "\n"


def _set_assignments_section(text: str, body: str) -> str:
    block = f"{marker('assignments')}\n{body}\n{marker('assignments', end=True)}"
    m = re.search(r"^## Assignments?\s*$\n(.*?)(?=^## |\Z)", text, flags=re.M | re.S)
    if m:
        return text[:m.start()] + f"## Assignments\n\n{block}\n\n" + text[m.end():]
    m = re.search(r"^## Exercises\s*$", text, flags=re.M)
    at = m.start() if m else len(text)
    return text[:at] + f"## Assignments\n\n{block}\n\n" + text[at:]


def _insert_callouts(text: str, by_anchor: dict[str, list], problems: list[str], name: str) -> str:
    text = _remove_blocks(text, CALLOUT)
    lines = text.splitlines()
    found = {a: i for i, _, _, a in headings(text)}
    for anchor in sorted(by_anchor, key=lambda a: -found.get(a, -1)):  # bottom-up keeps line numbers valid
        if anchor not in found:
            problems.append(f"lectures/{name} has no heading #{anchor} (from the spec of "
                            f"{', '.join(s.slug for s in by_anchor[anchor])})")
            continue
        i = found[anchor]
        lines[i + 1:i + 1] = ["", marker(CALLOUT), callout(by_anchor[anchor]), marker(CALLOUT, end=True)]
    return "\n".join(lines) + "\n"


def _milestone_assignments(text: str, specs: list[specs_mod.Assignment]) -> str:
    lines = text.splitlines()
    start = next((i for i, l in enumerate(lines) if MILESTONE_HEADER.match(l)), None)
    if start is None:
        return text
    header = [h.strip() for h in lines[start].strip().strip("|").split("|")]
    if "Assignment" not in header or "Lecture" not in header:
        return text
    col, lcol = header.index("Assignment"), header.index("Lecture")
    for i in range(start + 2, len(lines)):
        if not lines[i].startswith("|"):
            break
        cells = [c.strip() for c in lines[i].strip().strip("|").split("|")]
        m = re.search(r"\]\(([^)#]+)#([^)]+)\)", cells[lcol])
        if not m:
            continue
        target = (Path(m.group(1)).name, m.group(2))
        linked = [s for s in specs if lecture_of(s) == target]
        cells[col] = ", ".join(_alink(s) for s in sorted(linked, key=lambda s: s.order)) or "—"
        lines[i] = "| " + " | ".join(cells) + " |"
    return "\n".join(lines) + "\n"


def generated(root: Path = REPO_ROOT, repo: Path = REPO_ROOT) -> tuple[dict[Path, str], list[str]]:
    """The new text of every file with generated content under `root`, and the problems found."""
    c = course(root, repo)
    problems: list[str] = []
    out: dict[Path, str] = {}
    lecdir = root / "lectures"
    for lec in c.order:
        path = lecdir / lec.name
        text = path.read_text(encoding="utf-8")
        text = _set_nav(text, nav_line(c, lec))
        text = _set_assignments_section(text, assignments_section(c, lec))
        by_anchor: dict[str, list] = {}
        for s in c.assignments(lec):
            by_anchor.setdefault(lecture_of(s)[1], []).append(s)
        out[path] = _insert_callouts(text, by_anchor, problems, lec.name)
    known = {lec.name for lec in c.order}
    for s in c.specs:
        if lecture_of(s)[0] not in known:
            problems.append(f"the spec of {s.slug} points to {s.lecture}, which is not a lecture")
    index = lecdir / INDEX
    text = replace_block(index.read_text(encoding="utf-8"), "path", path_table(c))
    out[index] = _milestone_assignments(text, c.specs)
    syllabus = lecdir / SYLLABUS
    text = syllabus.read_text(encoding="utf-8")
    for name, body in (("order", order_list(c)), ("schedule", schedule_table(c)),
                       ("estimates", estimates_table(c)), ("weights", weights_table(c))):
        text = replace_block(text, name, body)
    out[syllabus] = text
    return out, problems


def sync(root: Path = REPO_ROOT, check: bool = False, repo: Path = REPO_ROOT) -> tuple[list[Path], list[str]]:
    """Write the generated blocks (unless `check`); return the files that were (or would be) changed, and the
    problems found (an assignment whose lecture section does not exist)."""
    files, problems = generated(root, repo)
    changed = []
    for path, text in files.items():
        if path.read_text(encoding="utf-8") != text:
            changed.append(path)
            if not check:
                path.write_text(text, encoding="utf-8")
    return changed, problems
