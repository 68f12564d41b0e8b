"""The notebooks' check cells run the public checks of one function on the module next to the notebook."""

import shutil

import pytest

from autograder import spec as specs
from autograder.notebook_check import check


def test_check_cell_grades_the_module_next_to_the_notebook(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DLCOURSE_FAST", raising=False)
    spec = specs.load("parallel")
    shutil.copy(spec.reference, tmp_path / spec.module_file)
    report = check("parallel", "shard", folder=tmp_path)
    assert report is not None and report.mode == "check"
    assert report.results and {r.target for r in report.results} == {"shard"}
    assert report.score == report.max_score
    assert "shard" in capsys.readouterr().out


def test_check_cell_names_bad_arguments(tmp_path, monkeypatch):
    monkeypatch.setenv("DLCOURSE_FAST", "1")
    with pytest.raises(ValueError, match="not a function or class of parallel"):
        check("parallel", "no_such_function", folder=tmp_path)
    with pytest.raises(FileNotFoundError, match="parallel.py"):
        check("parallel", "shard", folder=tmp_path)
