"""Every assignment folder is complete: skeleton, README with an up-to-date points table, a notebook that runs
top to bottom against the reference (the student's module is swapped for the reference in a scratch folder)."""

import shutil

import pytest

from autograder import spec as specs
from autograder.authoring.points import BEGIN, END, sync_readme

SLUGS = specs.all_slugs()


@pytest.mark.parametrize("slug", SLUGS)
def test_assignment_folder_is_complete(slug):
    spec = specs.load(slug)
    folder = spec.skeleton.parent
    assert spec.skeleton.is_file() and spec.reference.is_file()
    readme = (folder / "README.md").read_text()
    assert BEGIN in readme and END in readme, "the README needs a points table"
    assert f"dlcourse check {slug}" in readme
    assert (folder / f"{slug}.ipynb").is_file()
    assert spec.public_checks.is_file() and spec.hidden_checks.is_file()


@pytest.mark.parametrize("slug", SLUGS)
def test_readme_points_table_is_up_to_date(slug):
    assert sync_readme(slug, check_only=True) == [], f"run `dlcourse author sync {slug}`"


@pytest.mark.parametrize("slug", SLUGS)
def test_notebook_runs_against_the_reference(slug, tmp_path, monkeypatch):
    """DLCOURSE_FAST=1 asks a notebook to shorten its training loops (a notebook reads it to pick smaller budgets);
    the figures and the flow are the same."""
    monkeypatch.setenv("DLCOURSE_FAST", "1")
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    spec = specs.load(slug)
    notebook = spec.skeleton.parent / f"{slug}.ipynb"
    shutil.copy(notebook, tmp_path)
    shutil.copy(spec.reference, tmp_path / spec.module_file)
    nb = nbformat.read(tmp_path / notebook.name, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit notebooks without outputs"
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "display_data" and "image/png" in o.get("data", {})]
    assert images, "the notebook should show at least one plot"


@pytest.mark.parametrize("slug", SLUGS)
def test_notebook_reloads_the_module_and_checks_each_function(slug):
    """The first code cell is `%load_ext autoreload` / `%autoreload 2` (an edit to the module is seen without a
    kernel restart), and each function or class of the assignment has a check cell (autograder.notebook_check)."""
    nbformat = pytest.importorskip("nbformat")
    spec = specs.load(slug)
    nb = nbformat.read(spec.skeleton.parent / f"{slug}.ipynb", as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    assert code and "%load_ext autoreload" in code[0] and "%autoreload 2" in code[0]
    missing = [t for t in spec.targets if not any(f'check("{slug}", "{t}")' in c for c in code)]
    assert not missing, f"no check cell for {missing}"
