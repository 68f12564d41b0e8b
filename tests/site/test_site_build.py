"""`dlcourse site build` writes a complete, offline site: every page, every link and anchor resolving, the
navigation in the syllabus's reading order, a search index, formulas as MathML and no asset from the network."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from autograder.site import course as course_mod


class Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.refs: list[tuple[str, str, str]] = []  # (tag, attribute, value)
        self.text: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "a" and "name" in a:
            self.ids.add(a["name"])
        for attr in ("href", "src"):
            if a.get(attr) is not None:
                self.refs.append((tag, attr, a[attr]))
        if tag in ("script", "style", "code", "pre", "math", "annotation"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style", "code", "pre", "math", "annotation"):
            self._skip = max(0, self._skip - 1)

    def handle_data(self, data):
        if not self._skip:
            self.text.append(data)


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


@pytest.fixture(scope="module")
def pages(built_site):
    return {p: parse(p) for p in built_site.out.rglob("*.html")}


def test_every_staged_page_is_built(built_site):
    sources = sorted(built_site.source.rglob("*.md"))
    assert len(sources) >= 12, sources
    for md in sources:
        html = built_site.out / md.relative_to(built_site.source).with_suffix(".html")
        assert html.is_file(), f"{md.relative_to(built_site.source)} was not built"
    assert (built_site.out / "search.html").is_file() and (built_site.out / "searchindex.js").is_file()


def test_every_link_and_anchor_resolves(built_site, pages):
    broken = []
    for path, page in pages.items():
        for tag, attr, value in page.refs:
            parts = urlsplit(value)
            if parts.scheme or value.startswith(("mailto:", "javascript:", "data:")):
                continue
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                broken.append(f"{path.relative_to(built_site.out)}: <{tag} {attr}={value!r}> (no file)")
                continue
            if parts.fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else parse(target).ids
                if unquote(parts.fragment) not in ids:
                    broken.append(f"{path.relative_to(built_site.out)}: {value} (no id #{parts.fragment})")
    assert not broken, "\n".join(broken[:30])


def test_nothing_is_loaded_from_the_network(pages, built_site):
    remote = []
    for path, page in pages.items():
        for tag, attr, value in page.refs:
            if tag in ("script", "link", "img", "iframe", "source") and urlsplit(value).scheme in ("http", "https"):
                remote.append(f"{path.relative_to(built_site.out)}: <{tag} {attr}={value}>")
    assert not remote, remote[:10]
    for css in built_site.out.rglob("*.css"):
        assert not re.search(r"@import\s+url\(\s*['\"]?https?:", css.read_text(encoding="utf-8")), css.name


def test_navigation_follows_the_reading_order(built_site):
    c = course_mod.course()
    html = (built_site.out / "index.html").read_text(encoding="utf-8")
    body = html[html.index('class="toctree-wrapper'):]
    linked = re.findall(r'href="lectures/(\d\d-[^"#]+)\.html"', body)
    expected = [lec.name[:-3] for lec in c.order]
    seen = list(dict.fromkeys(linked))
    assert seen == expected, f"navigation {seen} != reading order {expected}"
    for lec in c.order:  # each lecture's assignments hang under it
        page = (built_site.out / "lectures" / (lec.name[:-3] + ".html")).read_text(encoding="utf-8")
        nav = page[page.index('class="sidebar-tree'):]
        for spec in c.assignments(lec):
            assert f"assignments/{spec.slug}/README.html" in nav, (lec.name, spec.slug)


def test_formulas_are_mathml_and_no_dollar_is_left(built_site, pages):
    for path, page in pages.items():
        rel = path.relative_to(built_site.out).as_posix()
        if not (rel.startswith(("lectures/", "assignments/"))):
            continue
        html = path.read_text(encoding="utf-8")
        assert "<merror" not in html, rel
        text = "".join(page.text)
        leftover = re.findall(r"\$[^$\s][^$]{0,40}\$", text)
        assert not leftover, f"{rel}: unrendered math {leftover[:3]}"
        if rel.startswith("lectures/0"):
            assert html.count("<math") >= 10, f"{rel} has only {html.count('<math')} formulas"


def test_figures_are_shipped_with_their_pages(built_site):
    html = (built_site.out / "lectures" / "05-compute.html").read_text(encoding="utf-8")
    images = re.findall(r'<img[^>]+src="([^"]+)"', html)
    assert len(images) >= 2, images
    for src in images:
        assert (built_site.out / "lectures" / src).resolve().is_file(), src


def test_search_index_covers_the_lectures(built_site):
    index = (built_site.out / "searchindex.js").read_text(encoding="utf-8")
    for word in ("backpropag", "allreduc", "diffus", "syllabus"):
        assert word in index.lower(), word
