"""Finding the class: one submission per subfolder or zip file, zips unpacked safely, the module located."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path, PurePosixPath

from .model import RESERVED_NAMES, BatchError, Submission, SubmissionRejected

# Caps on a zipped submission (checked while streaming the bytes, never trusting the zip's own headers).
ZIP_MAX_MEMBERS = 2000
ZIP_MAX_MEMBER_BYTES = 32 * 1024**2
ZIP_MAX_TOTAL_BYTES = 128 * 1024**2


def discover(submissions_dir: Path, out_dir: Path | None = None,
             skipped: list[tuple[str, str]] | None = None) -> list[Submission]:
    """One submission per subfolder or per .zip file of `submissions_dir`, sorted by student name.

    Hidden entries (starting with '.'), macOS metadata (__MACOSX) and the output folder (when it lies inside the
    submissions folder) are left out. A folder and a zip with the same name keep the folder's name for the folder
    and the full file name for the zip, so neither overwrites the other's results.

    Symbolic links are never followed: a link to a place outside the folder (say, to solutions/), a link to another
    entry of the folder and a dangling link are each left out, and `(name, reason)` is appended to `skipped`, as
    is any other entry that is not a submission (a loose file).
    """
    submissions_dir = Path(submissions_dir)
    if not submissions_dir.is_dir():
        raise BatchError(f"submissions folder not found: {submissions_dir}")
    root = submissions_dir.resolve()
    out_resolved = Path(out_dir).resolve() if out_dir is not None else None
    skipped = skipped if skipped is not None else []
    found: list[Submission] = []
    for entry in sorted(submissions_dir.iterdir()):
        if entry.name.startswith(".") or entry.name == "__MACOSX":
            continue
        if entry.is_symlink():
            skipped.append((entry.name, _link_reason(entry, root)))
            continue
        if out_resolved is not None and entry.resolve() == out_resolved:
            continue
        if entry.is_dir():
            found.append(Submission(entry.name, entry, "dir"))
        elif entry.is_file() and entry.suffix.lower() == ".zip":
            found.append(Submission(entry.stem, entry, "zip"))
        else:
            skipped.append((entry.name, "not a folder or a .zip file"))
    names = [s.student for s in found]
    unique = []
    for s in found:
        if s.kind == "zip" and names.count(s.student) > 1:
            s = Submission(s.path.name, s.path, "zip")
        if s.student in RESERVED_NAMES:  # OUT/<student>/ must not take the place of a batch output
            s = Submission(f"{s.student}_", s.path, s.kind)
        unique.append(s)
    return sorted(unique, key=lambda s: s.student)


def _link_reason(entry: Path, root: Path) -> str:
    import os

    target = os.readlink(entry)
    if not entry.exists():
        return f"a dangling symbolic link (to {target}): not graded"
    real = entry.resolve()
    if real == root or root not in real.parents:
        return f"a symbolic link to {real}, outside the submissions folder: never followed, not graded"
    return f"a symbolic link to {real.relative_to(root)} in the submissions folder: not graded twice"


def safe_extract(zip_path: Path, dest: Path, *, max_members: int = ZIP_MAX_MEMBERS,
                 max_member_bytes: int = ZIP_MAX_MEMBER_BYTES, max_total_bytes: int = ZIP_MAX_TOTAL_BYTES) -> Path:
    """Unpack a student's zip into `dest`, refusing anything that could write outside it or fill the disk.

    Refused: absolute names, drive letters, '..' components, symbolic links and other special files, more than
    `max_members` entries, a member larger than `max_member_bytes`, more than `max_total_bytes` in all. Sizes are
    counted on the decompressed stream, so a zip that lies about its sizes (a zip bomb) is caught too.
    """
    try:
        zf = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise SubmissionRejected(f"{zip_path.name} is not a readable zip file ({exc})") from None
    dest.mkdir(parents=True, exist_ok=True)
    total = 0
    with zf:
        members = zf.infolist()
        if len(members) > max_members:
            raise SubmissionRejected(f"{zip_path.name} has {len(members)} entries (at most {max_members} allowed)")
        for info in members:
            rel = _safe_member_name(info.filename, zip_path.name)
            kind = stat.S_IFMT((info.external_attr >> 16) & 0xFFFF)
            if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
                raise SubmissionRejected(f"{zip_path.name}: {info.filename!r} is a link or a special file")
            if rel is None:  # the archive's root folder entry
                continue
            target = dest.joinpath(*rel.parts)
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            written = 0
            try:
                with zf.open(info) as src, open(target, "wb") as out:
                    while True:
                        chunk = src.read(1 << 16)
                        if not chunk:
                            break
                        written += len(chunk)
                        total += len(chunk)
                        if written > max_member_bytes:
                            raise SubmissionRejected(f"{zip_path.name}: {info.filename!r} is larger than "
                                                     f"{max_member_bytes // 1024**2} MiB once unpacked")
                        if total > max_total_bytes:
                            raise SubmissionRejected(f"{zip_path.name} is larger than "
                                                     f"{max_total_bytes // 1024**2} MiB once unpacked")
                        out.write(chunk)
            except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, EOFError,
                    OSError) as exc:
                raise SubmissionRejected(f"{zip_path.name}: {info.filename!r} cannot be unpacked ({exc})") from None
    return dest


def _safe_member_name(name: str, archive: str) -> PurePosixPath | None:
    clean = name.replace("\\", "/")
    if clean.startswith("/") or (len(clean) > 1 and clean[1] == ":") or "\x00" in clean:
        raise SubmissionRejected(f"{archive}: entry {name!r} has an absolute path")
    parts = [p for p in clean.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise SubmissionRejected(f"{archive}: entry {name!r} points outside the archive ('..')")
    return PurePosixPath(*parts) if parts else None


def _inside(folder: Path, path: Path) -> bool:
    """`path` lies under `folder` without passing through a symbolic link (a link is never followed)."""
    rel = path.relative_to(folder)
    here = folder
    for part in rel.parts:
        here = here / part
        if here.is_symlink():
            return False
    return not any(part.startswith(".") or part == "__MACOSX" for part in rel.parts)


def locate_module(folder: Path, module_file: str) -> Path:
    """The submission's module: `folder/<module_file>`, or the only one found deeper (a zip with a top folder);
    where there is none, the notebook `<slug>.ipynb` found the same way (graded like the module, see
    autograder.notebook_source). Symbolic links are refused, never followed."""
    try:
        return _locate(folder, module_file)
    except SubmissionRejected as missing:
        notebook = module_file[:-3] + ".ipynb" if module_file.endswith(".py") else None
        if notebook is None or not str(missing).startswith("no "):
            raise
        try:
            return _locate(folder, notebook)
        except SubmissionRejected as nb_problem:
            if str(nb_problem).startswith("no "):
                raise missing from None
            raise


def _locate(folder: Path, module_file: str) -> Path:
    direct = folder / module_file
    if direct.is_symlink():
        raise SubmissionRejected(f"{module_file} in the submission is a symbolic link, not a file")
    if direct.is_file():
        return direct
    candidates = [p for p in folder.rglob(module_file) if _inside(folder, p.parent)]
    if any(p.is_symlink() for p in candidates) and not any(p.is_file() and not p.is_symlink() for p in candidates):
        raise SubmissionRejected(f"{module_file} in the submission is a symbolic link, not a file")
    found = [p for p in candidates if p.is_file() and not p.is_symlink()]
    if not found:
        files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                       if p.suffix in (".py", ".ipynb") and _inside(folder, p.parent))[:10]
        raise SubmissionRejected(f"no {module_file} in the submission (found: "
                                 f"{', '.join(files) or 'no .py or .ipynb files'})")
    depth = min(len(p.relative_to(folder).parts) for p in found)
    shallowest = [p for p in found if len(p.relative_to(folder).parts) == depth]
    if len(shallowest) > 1:
        where = ", ".join(sorted(p.relative_to(folder).as_posix() for p in shallowest))
        raise SubmissionRejected(f"several {module_file} files in the submission ({where}): keep only one")
    return shallowest[0]
