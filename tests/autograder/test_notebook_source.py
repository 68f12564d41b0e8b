"""Notebook submissions: the code cells of `<slug>.ipynb` are graded like the module, magics and shell lines
dropped with a note, and the report says the code came from a notebook."""

import nbformat
import pytest

from autograder.grading import GradingError, grade
from autograder.notebook_source import NotebookError, module_from_notebook
from tests.helpers import reference_source

SLUG = "parallel"  # small, fast checks; any assignment would do


def _write(folder, cells, name=f"{SLUG}.ipynb"):
    folder.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    nbformat.write(nb, folder / name)
    return folder / name


def test_code_cells_in_order_without_magics(tmp_path):
    path = _write(tmp_path, [nbformat.v4.new_code_cell("%load_ext autoreload\nx = 1"),
                             nbformat.v4.new_markdown_cell("words"),
                             nbformat.v4.new_code_cell("!pip install nothing\ny = x + 1"),
                             nbformat.v4.new_code_cell("%%time\nz = 3")])
    mod = module_from_notebook(path, SLUG)
    namespace = {}
    exec(compile(mod.source, "nb", "exec"), namespace)
    assert namespace["y"] == 2 and "z" not in namespace
    assert len(mod.notes) == 3 and any("%%time" in n for n in mod.notes)


def test_tagged_cells_only_when_some_are_tagged(tmp_path):
    tagged = nbformat.v4.new_code_cell("a = 1")
    tagged.metadata["tags"] = ["dlcourse"]
    path = _write(tmp_path, [nbformat.v4.new_code_cell("raise SystemExit('exploring')"), tagged])
    assert module_from_notebook(path, SLUG).source.count("a = 1") == 1
    assert "exploring" not in module_from_notebook(path, SLUG).source


def test_unreadable_or_empty_notebooks_are_clear_errors(tmp_path):
    bad = tmp_path / "bad" / f"{SLUG}.ipynb"
    bad.parent.mkdir()
    bad.write_text("{ not json")
    with pytest.raises(NotebookError, match="not a readable Jupyter notebook"):
        module_from_notebook(bad, SLUG)
    with pytest.raises(GradingError, match="not a readable Jupyter notebook"):
        grade(SLUG, bad, seed=1, mode="check")
    empty = _write(tmp_path / "empty", [nbformat.v4.new_markdown_cell("only words")])
    with pytest.raises(GradingError, match="no code cells"):
        grade(SLUG, empty, seed=1, mode="check")


def test_a_notebook_submission_is_graded_like_the_module(tmp_path):
    source = reference_source(SLUG)
    half = source.index("def average_gradients")
    folder = tmp_path / "student"
    _write(folder, [nbformat.v4.new_code_cell("%autoreload 2"), nbformat.v4.new_code_cell(source[:half]),
                    nbformat.v4.new_code_cell(source[half:])])
    report = grade(SLUG, folder, seed=3, select=["shard:"])  # the folder holds only the notebook
    assert report.results and report.score == report.max_score, [r.output for r in report.results]
    assert report.submission.endswith(".ipynb")
    assert any("taken from the notebook" in n for n in report.notes)
    assert not list(folder.glob("*.py")), "the extracted module is written to a scratch folder, not the submission's"


def test_a_folder_without_module_or_notebook_names_both(tmp_path):
    (tmp_path / "other.txt").write_text("x")
    with pytest.raises(GradingError, match=rf"no {SLUG}.py or {SLUG}.ipynb"):
        grade(SLUG, tmp_path, seed=1, mode="check")
