"""A notebook submission, turned into the module the checks grade.

Students who work in Jupyter hand in `<slug>.ipynb` instead of `<slug>.py`. `module_from_notebook` takes its code
cells in order, or only the cells tagged `dlcourse` (or the assignment's slug) when some are, and drops what is not
Python: IPython line magics (`%autoreload 2`), shell lines (`!pip install ...`), whole cells under a cell magic
(`%%time`), and `display(...)`-free outputs are never read. Each dropped line is reported as a note, and the report
says that the code came from a notebook. nbformat reads the file (any nbformat 4 minor version).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

TAGS = ("dlcourse",)


class NotebookError(ValueError):
    """The notebook cannot be read or holds no code."""


@dataclass
class NotebookModule:
    source: str
    notebook: Path
    cells_used: int
    notes: list[str] = field(default_factory=list)


def module_from_notebook(path: Path, slug: str) -> NotebookModule:
    """The module text of a notebook submission (see the module docstring)."""
    import nbformat

    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as exc:  # nbformat raises several kinds (JSON, validation, version)
        raise NotebookError(f"{path.name} is not a readable Jupyter notebook: {type(exc).__name__}: "
                            f"{str(exc).splitlines()[0][:200] if str(exc) else ''}") from None
    code = [c for c in nb.cells if c.get("cell_type") == "code"]
    tagged = [c for c in code if set(c.get("metadata", {}).get("tags", [])) & {*TAGS, slug}]
    cells = tagged or code
    notes: list[str] = []
    parts: list[str] = []
    for number, cell in enumerate(cells, 1):
        text = cell.get("source", "")
        text = "".join(text) if isinstance(text, list) else str(text)
        first = text.lstrip().splitlines()[0] if text.strip() else ""
        if first.startswith("%%"):
            notes.append(f"cell {number}: dropped (cell magic {first.split()[0]})")
            continue
        kept = []
        for line_no, line in enumerate(text.splitlines(), 1):
            stripped = line.lstrip()
            if stripped.startswith(("%", "!")):
                notes.append(f"cell {number}, line {line_no}: dropped {stripped[:60]!r} (IPython magic or shell line)")
                kept.append("")  # keep the line numbers of the rest
            else:
                kept.append(line)
        parts.append(f"# ---- notebook cell {number} ----\n" + "\n".join(kept))
    if not any(p.strip() for p in parts):
        raise NotebookError(f"{path.name} has no code cells to grade")
    source = "\n\n".join(parts) + "\n"
    return NotebookModule(source=source, notebook=path, cells_used=len(cells), notes=notes)


def write_module(nb_module: NotebookModule, folder: Path, module_file: str) -> Path:
    """Write the extracted module as `folder/module_file` (a private folder the caller owns and removes)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / module_file
    target.write_text(nb_module.source, encoding="utf-8")
    return target


def is_notebook(path: Path) -> bool:
    return path.suffix == ".ipynb"


def materialize(path: Path, slug: str, module_file: str) -> tuple[Path, list[str], Path | None]:
    """(the module file to grade, notes for the report, a scratch folder to remove afterwards or None).

    A `.py` path is returned as it is; a notebook is extracted into a fresh private folder."""
    if not is_notebook(path):
        return path, [], None
    import tempfile

    nb_module = module_from_notebook(path, slug)
    scratch = Path(tempfile.mkdtemp(prefix="dlcourse-notebook-"))
    target = write_module(nb_module, scratch, module_file)
    notes = [f"the code was taken from the notebook {path.name} ({nb_module.cells_used} code cell(s), in order)"]
    notes += [f"notebook: {n}" for n in nb_module.notes[:20]]
    if len(nb_module.notes) > 20:
        notes.append(f"notebook: ... and {len(nb_module.notes) - 20} more dropped lines")
    return target, notes, scratch
