"""Generated blocks inside hand-written Markdown: the text between a begin and an end marker line is rewritten,
everything else is left as the author wrote it. Used for each assignment README's points table and for the course
README's table of assignments."""

from __future__ import annotations

import re
from pathlib import Path


class SyncError(Exception):
    """A file that `dlcourse author sync` must fill in lacks its markers, or is missing (the message says how to
    fix it)."""


def fill(text: str, begin: str, end: str, body: str, where: str | Path) -> str:
    """`text` with the block between the `begin` and `end` lines replaced by `body`."""
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise SyncError(f"{where} has no generated block: put the two lines {begin} and {end} where the table goes "
                        "(`dlcourse author new` writes them), then run `dlcourse author sync` again")
    return pattern.sub(lambda _: f"{begin}\n{body}\n{end}", text, count=1)


def sync_file(path: Path, begin: str, end: str, body: str, check_only: bool) -> list[str]:
    """Fill the block of `path`; returns [path] when it was (or, with check_only, would be) changed."""
    if not path.is_file():
        raise SyncError(f"{path} is missing (`dlcourse author new` writes one with its markers)")
    text = path.read_text()
    wanted = fill(text, begin, end, body, path)
    if wanted == text:
        return []
    if not check_only:
        path.write_text(wanted)
    return [str(path)]
