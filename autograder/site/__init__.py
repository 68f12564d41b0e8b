"""The course website: `dlcourse site sync`, `dlcourse site build` and `dlcourse site serve`.

- `course.py` holds the course's one reading order, derived from the assignment specs (`Assignment.order` and
  `Assignment.lecture`), the measured time estimates, and the blocks of Markdown generated from them (the path table
  of the lecture index, each lecture's navigation line and "Assignments" section, the call-outs that link a lecture
  section to its assignment, and the syllabus tables). `sync` writes them into the Markdown files between
  `<!-- site:NAME:begin -->` / `<!-- site:NAME:end -->` markers, so the files read the same on GitHub and on the site.
- `build.py` stages the student-facing pages (lectures, syllabus, assignment READMEs and the files they link to),
  applies `sync` to the staged copy, and runs Sphinx with MyST-Parser and the Furo theme, offline.
- `mathml.py` is a Sphinx math renderer that turns LaTeX into MathML at build time (latex2mathml): no JavaScript,
  no CDN, no fonts to download; every current browser draws MathML natively.
"""
