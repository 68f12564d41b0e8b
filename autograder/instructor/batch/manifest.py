"""OUT/batch.json: what one batch output is (assignment, selection, version of the checks, seed, isolation, shard).

Written before the first student is graded and read by every later run on the same OUT:

- the same assignment, selection and checks: the run resumes, and grades with the recorded seed (a `--student`
  regrade too, so identical code always gets the identical grade within one batch);
- anything else (another assignment, another `--only`, edited checks, another `--seed`): refused with one line,
  unless `force`, which moves the old results aside into `OUT/.replaced-<UTC time>/` first (nothing is deleted).

A folder with files in it but no batch.json is refused the same way (it may be anything).
`dlcourse merge` compares the shards' manifests: only shards of one batch (same assignment, selection, checks and
seed) are combined.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ...report import write_atomic
from ..outputs import stamp
from .model import BatchError

MANIFEST = "batch.json"
FORMAT = 1


@dataclass
class Manifest:
    assignment: str
    seed: int
    select: list[str] | None
    checks_version: str  # sha256 of the assignment's check files and of the checks selected
    checks: list[str]
    isolation: str = "namespaces"  # the level required: namespaces, or process when weak isolation was allowed
    shard: str | None = None  # "I/N" for one shard of a batch, None for a whole class (or a merge)
    merged_from: list[str] = field(default_factory=list)
    created: str = ""
    format: int = FORMAT

    def same_batch(self, other: "Manifest") -> str:
        """'' when `other` is a part of the same batch, else what differs (one phrase)."""
        if self.assignment != other.assignment:
            return f"assignment {other.assignment}, not {self.assignment}"
        if (self.select or None) != (other.select or None):
            return f"checks selected with --only {other.select or '(all)'}, not {self.select or '(all)'}"
        if self.checks_version != other.checks_version:
            return (f"another version of the checks ({other.checks_version[:12]}, not {self.checks_version[:12]}): "
                    "the check files changed")
        if self.seed != other.seed:
            return f"seed {other.seed}, not {self.seed}"
        return ""


def checks_version(slug: str, check_names: list[tuple[str, str, float]]) -> str:
    """A fingerprint of what grading this assignment means: its check files (bugs.py aside) and the checks run."""
    from ...paths import CHECKS

    h = hashlib.sha256()
    folder = CHECKS / slug
    for path in sorted(folder.rglob("*.py")) if folder.is_dir() else []:
        if "__pycache__" in path.parts or path.name == "bugs.py":
            continue
        h.update(path.relative_to(folder).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    h.update(json.dumps([list(c) for c in check_names]).encode())
    return h.hexdigest()


def read_manifest(out_dir: Path) -> Manifest | None:
    path = Path(out_dir) / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        known = {k: data[k] for k in Manifest.__dataclass_fields__ if k in data}
        return Manifest(**known)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError) as exc:
        raise BatchError(f"{path} is not a batch record this version can read ({exc}): choose another --out, or "
                         "pass --force to move it aside") from None


def write_manifest(out_dir: Path, manifest: Manifest) -> Path:
    if not manifest.created:
        manifest.created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    path = Path(out_dir) / MANIFEST
    write_atomic(path, json.dumps(asdict(manifest), indent=2) + "\n")
    return path


def _visible_entries(out_dir: Path) -> list[str]:
    try:
        return sorted(n for n in os.listdir(out_dir) if not n.startswith("."))
    except FileNotFoundError:
        return []


def move_old_results(out_dir: Path) -> Path | None:
    """Move everything of `out_dir` but earlier set-asides into `out_dir/.replaced-<time>/`; returns that folder."""
    entries = [n for n in os.listdir(out_dir) if not n.startswith(".replaced-")]
    if not entries:
        return None
    aside = out_dir / f".replaced-{stamp()}"
    n = 1
    while aside.exists():
        n += 1
        aside = out_dir / f".replaced-{stamp()}-{n}"
    aside.mkdir()
    for name in entries:
        os.replace(out_dir / name, aside / name)
    return aside


def reconcile(out_dir: Path, wanted: Manifest, *, seed_given: bool, force: bool) -> tuple[Manifest, Path | None]:
    """The manifest this run grades under, after comparing `wanted` with what `out_dir` already holds.

    Same batch: the recorded seed is kept (a run without --seed reuses it). Different batch, or a non-empty
    folder that is no batch output: BatchError, or with `force` the old content is moved aside (returned)."""
    old = read_manifest(out_dir) if not force else _read_quietly(out_dir)
    if old is None:
        if _visible_entries(out_dir) and not force:
            raise BatchError(f"--out {out_dir} is not empty and holds no batch record ({MANIFEST}): choose an "
                             "empty folder, or pass --force (its content is moved aside, nothing is deleted)")
        aside = move_old_results(out_dir) if force and _visible_entries(out_dir) else None
        return wanted, aside
    probe = Manifest(**{**asdict(wanted), "seed": wanted.seed if seed_given else old.seed})
    differs = old.same_batch(probe) or ("" if (old.shard or None) == (wanted.shard or None)
                                        else f"shard {wanted.shard or '(whole class)'}, not {old.shard or '(whole class)'}")
    if old.isolation != wanted.isolation and not differs:
        differs = f"isolation {wanted.isolation}, not {old.isolation}"
    if not differs:
        probe.created = old.created
        return probe, None
    if not force:
        raise BatchError(f"--out {out_dir} holds another batch (this run has {differs}): choose another --out, "
                         "or pass --force (the old results are moved aside into .replaced-<time>/, nothing is "
                         "deleted)")
    return wanted, move_old_results(out_dir)


def _read_quietly(out_dir: Path) -> Manifest | None:
    try:
        return read_manifest(out_dir)
    except BatchError:
        return None
