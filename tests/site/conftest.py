"""The course site is built once per test session, into a temporary folder, from the working tree."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def built_site(tmp_path_factory):
    pytest.importorskip("sphinx", reason="the site needs the 'site' extra: pip install -e '.[site]'")
    pytest.importorskip("myst_parser")
    pytest.importorskip("furo")
    pytest.importorskip("latex2mathml")
    from autograder.site.build import build

    return build(tmp_path_factory.mktemp("site") / "html")
