"""`dlcourse site ...`: build, serve and keep in step the course website (registered by autograder.cli).

Exit codes follow autograder.cli: 0 when the command did its job, 2 with a one-line message when it could not
(missing extra, broken link, ...), and for `sync --check`, 1 when a generated block is out of date.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..cli_options import console, fail


def register(main) -> None:
    """Add the `site` group to the `dlcourse` click group."""

    @main.group("site")
    def site():
        """The course website: lectures, syllabus and assignment READMEs, built offline with Sphinx."""

    @site.command("sync")
    @click.option("--check", "check_only", is_flag=True, help="Change nothing; exit 1 if anything is out of date.")
    def sync_cmd(check_only):
        """Regenerate the reading order, schedule, estimates and assignment links in lectures/ from the specs."""
        from .course import sync

        changed, problems = sync(check=check_only)
        for path in changed:
            console.print(("out of date: " if check_only else "updated: ") + str(path), highlight=False)
        for problem in problems:
            console.print(f"[bold red]problem:[/] {problem}", highlight=False)
        if problems:
            sys.exit(2)
        if check_only and changed:
            sys.exit(1)
        if not changed:
            console.print("everything is up to date")

    @site.command("build")
    @click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
                  help="Where the HTML goes (default: build/site).")
    @click.option("--no-strict", "lenient", is_flag=True, help="Do not fail on warnings (broken links, anchors).")
    def build_cmd(out, lenient):
        """Build the site into build/site, offline: open build/site/index.html, or run `dlcourse site serve`."""
        from .build import DEFAULT_OUT, SiteError, build

        try:
            result = build(out or DEFAULT_OUT, strict=not lenient)
        except SiteError as exc:
            fail(str(exc))
        if result.log.strip():
            console.print(result.log.strip(), highlight=False)
        console.print(f"built {result.pages} pages into {result.out} in {result.seconds:.1f} s", highlight=False)

    @site.command("serve")
    @click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=None,
                  help="The built site (default: build/site).")
    @click.option("--port", type=int, default=8000, show_default=True)
    @click.option("--build/--no-build", "rebuild", default=True, show_default=True, help="Build first.")
    def serve_cmd(directory, port, rebuild):
        """Serve the built site on http://localhost:PORT (Ctrl-C to stop)."""
        import functools
        import http.server

        from .build import DEFAULT_OUT, SiteError, build

        directory = directory or DEFAULT_OUT
        if rebuild:
            try:
                build(directory)
            except SiteError as exc:
                fail(str(exc))
        if not (directory / "index.html").is_file():
            fail(f"no site in {directory}: run `dlcourse site build` first")
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
        with http.server.ThreadingHTTPServer(("127.0.0.1", port), handler) as httpd:
            console.print(f"serving {directory} on http://localhost:{port}/ (Ctrl-C to stop)", highlight=False)
            try:
                httpd.serve_forever()
            except KeyboardInterrupt:
                pass
