"""`dlcourse export slurm | k8s`: a class graded in shards on the engines instructors already have.

No scheduler of our own: each export writes one short template from `templates/` that runs
`dlcourse grade-batch --shard I/N --seed SEED` once per shard (a Slurm job array; a Kubernetes indexed Job) and
then `dlcourse merge` over the shards' outputs. The seed is drawn once, here, and written into the template, so every
shard grades with the batch's seed (and `merge` would refuse shards that did not).
"""

from __future__ import annotations

import re
import secrets
import shlex
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .outputs import OutputError, claim, write_text, writable_file

TEMPLATES = Path(__file__).with_name("templates")
_SAFE = re.compile(r"^[A-Za-z0-9_./+-]+$")


class SchedulerExportError(Exception):
    pass


@dataclass
class SchedulerExport:
    path: Path
    kind: str
    shards: int
    seed: int
    set_aside: list


def _options(select: list[str] | None, extra: str = "") -> str:
    text = "".join(f" --only {shlex.quote(s)}" for s in select or [])
    return text + extra


def export_scheduler(kind: str, slug: str, out: str | Path, *, submissions: str, outputs: str, shards: int,
                     seed: int | None = None, select: list[str] | None = None, cpus: int = 4, mem: str = "8G",
                     time_limit: str = "02:00:00", image: str = "dlcourse:latest", claim_name: str = "dlcourse-class",
                     mount: str | None = None, force: bool = False) -> SchedulerExport:
    """Write the Slurm script (`kind` "slurm") or the Kubernetes manifest ("k8s") for grading `slug` in `shards`."""
    from .. import spec as specs

    if kind not in ("slurm", "k8s"):
        raise SchedulerExportError(f"unknown scheduler {kind!r}: use slurm or k8s")
    try:
        specs.load(slug)
    except specs.UnknownAssignment as exc:
        raise SchedulerExportError(str(exc)) from None
    if shards < 1:
        raise SchedulerExportError("--shards must be at least 1")
    if cpus < 1:
        raise SchedulerExportError("--cpus must be at least 1")
    seed = secrets.randbelow(2**31) if seed is None else int(seed)
    out = Path(out)
    try:
        writable_file(out)
        moved = claim([out], force, what=f"export {kind}")
    except OutputError as exc:
        raise SchedulerExportError(str(exc)) from None
    for name, value in (("--submissions", submissions), ("--outputs", outputs)):
        if not _SAFE.match(str(value)):
            raise SchedulerExportError(f"{name} {value!r}: use a path of letters, digits and . _ - / + only "
                                       "(it is written into a shell script)")
    if kind == "k8s":
        for name, value in (("--submissions", submissions), ("--outputs", outputs)):
            if not str(value).startswith("/"):
                raise SchedulerExportError(f"{name} {value}: give an absolute path inside the pod (on the volume)")
    mount_point = mount or str(PurePosixPath(outputs).parent)
    template = (TEMPLATES / ("slurm_grade.sh" if kind == "slurm" else "k8s_grade.yaml")).read_text()
    values = {
        "ASSIGNMENT": slug, "SHARDS": str(shards), "SEED": str(seed), "CPUS": str(cpus), "MEM": mem,
        "TIME": time_limit, "SUBMISSIONS": str(submissions), "OUT": str(outputs), "SCRIPT": out.name,
        "OPTIONS": _options(select), "FORCE": "", "IMAGE": image, "CLAIM": claim_name, "MOUNT": mount_point,
        "SHARD_LIST": " ".join(f"{outputs}/shard-{i}" for i in range(1, shards + 1)),
    }
    text = template
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    try:
        write_text(out, text)
    except OutputError as exc:
        raise SchedulerExportError(str(exc)) from None
    if kind == "slurm":
        out.chmod(0o755)
    return SchedulerExport(path=out.resolve(), kind=kind, shards=shards, seed=seed, set_aside=[m for _, m in moved])
