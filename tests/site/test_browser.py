"""Pages of the built site, opened in headless Chromium: every formula is laid out as MathML (a fraction is taller
numerator above its denominator) and every figure has loaded. Skipped where Chromium is not installed (CI may lack it)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

CHROMIUM = next((p for p in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser"),
                             shutil.which("google-chrome")) if p and shutil.os.path.exists(p)), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (apt-get install chromium)")

PAGES = ["index.html", "lectures/syllabus.html", "lectures/04-architecture.html", "lectures/05-compute.html",
         "lectures/03-optimization-and-regularization.html", "assignments/backprop/README.html"]

PROBE = """
<script>
window.addEventListener("load", () => {
  const maths = [...document.querySelectorAll("math")];
  const fracs = [...document.querySelectorAll("mfrac")];
  const imgs = [...document.querySelectorAll("article img")];
  const result = {
    mathml: typeof MathMLElement !== "undefined" && maths.every(m => m instanceof MathMLElement),
    maths: maths.length,
    empty: maths.filter(m => { const r = m.getBoundingClientRect(); return r.width === 0 || r.height === 0; }).length,
    fracs: fracs.length,
    flatFracs: fracs.filter(f => f.children.length !== 2 ||
      f.children[0].getBoundingClientRect().bottom > f.children[1].getBoundingClientRect().top + 1).length,
    images: imgs.length,
    broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute("src")),
  };
  document.body.setAttribute("data-probe", JSON.stringify(result));
});
</script>
"""


@pytest.fixture(scope="module")
def probed(built_site, tmp_path_factory):
    site = tmp_path_factory.mktemp("probe") / "html"
    shutil.copytree(built_site.out, site)
    results = {}
    for rel in PAGES:
        page = site / rel
        page.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
        proc = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files",
                               "--virtual-time-budget=8000", "--window-size=1280,2000", "--dump-dom",
                               page.as_uri()], capture_output=True, text=True, timeout=120)
        m = re.search(r'data-probe="([^"]*)"', proc.stdout)
        assert m, f"{rel}: no probe result (chromium exit {proc.returncode}): {proc.stderr[-1500:]}"
        results[rel] = json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    return results


@pytest.mark.parametrize("rel", PAGES)
def test_formulas_are_laid_out_and_figures_loaded(probed, rel):
    r = probed[rel]
    if r["maths"]:
        assert r["mathml"], f"{rel}: the browser does not treat <math> as MathML"
        assert r["empty"] == 0, f"{rel}: {r['empty']} of {r['maths']} formulas have no size"
        assert r["flatFracs"] == 0, f"{rel}: {r['flatFracs']} of {r['fracs']} fractions are not stacked"
    assert not r["broken"], f"{rel}: figures that did not load: {r['broken']}"


def test_lectures_have_formulas_and_figures(probed):
    assert probed["lectures/04-architecture.html"]["maths"] > 50
    assert probed["lectures/04-architecture.html"]["fracs"] > 5
    assert probed["lectures/05-compute.html"]["images"] >= 2
