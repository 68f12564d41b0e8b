"""Sphinx configuration of the course website (`dlcourse site build`; see autograder/site/build.py).

The sources are staged by `dlcourse site build` into build/site-src with the repository's layout; this folder only
holds the configuration, the landing page template and the style sheet. Everything the site needs comes from
installed packages (`pip install -e ".[site]"`): nothing is downloaded when the site is built or viewed.
"""

from pathlib import Path

HERE = Path(__file__).resolve().parent

project = "Deep learning through seven constraints"
author = "the dlcourse authors"
copyright = "the dlcourse authors"
language = "en"

extensions = ["myst_parser", "autograder.site.mathml"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["**/figures/scripts/**", "**/.ipynb_checkpoints/**"]

# MyST: GitHub-flavoured Markdown as the repository writes it. `$...$` and `$$...$$` are math; headings up to
# level 4 get GitHub's anchors, so `file.md#some-heading` links work on GitHub and here alike.
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 4
myst_dmath_double_inline = True
myst_links_external_new_tab = False

# Math is rendered to MathML at build time (autograder/site/mathml.py): no MathJax or KaTeX from a CDN.
html_math_renderer = "mathml"

html_theme = "furo"
html_title = "Deep learning through seven constraints"
html_static_path = [str(HERE / "_static")]
html_css_files = ["course.css"]
html_show_sourcelink = False
html_copy_source = False
html_last_updated_fmt = None
html_theme_options = {"navigation_with_keys": True, "top_of_page_buttons": []}
html_permalinks_icon = "#"
