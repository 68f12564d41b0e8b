"""Every figure script runs (in its fast mode) and writes a valid PNG; every committed figure
comes from a script and is small enough to ship."""
from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIG_DIR = ROOT / "lectures" / "figures"
SCRIPT_DIR = FIG_DIR / "scripts"
SCRIPTS = sorted(SCRIPT_DIR.glob("fig*.py"))
RUNNER = Path(__file__).resolve().parent / "_run_figures.py"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MAX_COMMITTED_BYTES = 150 * 1024


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk; raises if the file is not a PNG."""
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, f"{path.name} is not a PNG"
    assert data[12:16] == b"IHDR", f"{path.name} has no IHDR chunk"
    assert data[-8:-4] == b"IEND", f"{path.name} is truncated (no IEND chunk at the end)"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def fast_runs(tmp_path_factory):
    """Run every script once in fast mode, each into its own directory. The scripts are split into
    two groups run in parallel; each group runs in one Python process (tests/lectures/_run_figures.py)
    so that torch and scikit-learn are imported once per group, not once per script."""
    base = tmp_path_factory.mktemp("figs")
    env = dict(os.environ, DLCOURSE_FAST="1", MPLBACKEND="Agg", OMP_NUM_THREADS="1")
    groups = [SCRIPTS[0::2], SCRIPTS[1::2]]

    def run(group):
        proc = subprocess.run([sys.executable, str(RUNNER), str(base), *map(str, group)], cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=300)
        results = {}
        for line in proc.stdout.splitlines():
            if line.startswith("{"):
                r = json.loads(line)
                results[r["script"]] = r
        for script in group:  # a crash of the whole process shows up on every script not reported
            results.setdefault(script.stem, {"ok": False, "error": proc.stderr[-3000:]})
        return results

    with ThreadPoolExecutor(max_workers=2) as pool:
        merged = {}
        for results in pool.map(run, groups):
            merged.update(results)
    return {stem: (r, base / stem) for stem, r in merged.items()}


def test_there_are_figure_scripts():
    assert len(SCRIPTS) >= 9, [s.name for s in SCRIPTS]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_script_writes_png_in_fast_mode(script, fast_runs):
    result, out = fast_runs[script.stem]
    assert result["ok"], result["error"]
    pngs = sorted(out.glob("*.png"))
    assert pngs, f"{script.name} wrote no PNG into --out"
    for png in pngs:
        w, h = png_size(png)
        assert w >= 300 and h >= 200, (png.name, w, h)
        assert (FIG_DIR / png.name).is_file(), f"{png.name} is not committed in lectures/figures/"
    # nothing may be written outside --out (in particular not into the committed figures)
    assert all(p.parent == out for p in pngs)


def test_every_committed_figure_comes_from_a_script(fast_runs):
    produced = {p.name for _, out in fast_runs.values() for p in out.glob("*.png")}
    committed = {p.name for p in FIG_DIR.glob("*.png")}
    assert committed, "no committed figures"
    assert committed <= produced, f"figures with no script: {sorted(committed - produced)}"


@pytest.mark.parametrize("png", sorted(FIG_DIR.glob("*.png")), ids=lambda p: p.name)
def test_committed_figure_is_a_small_png(png):
    w, h = png_size(png)
    assert w >= 300 and h >= 200
    assert png.stat().st_size <= MAX_COMMITTED_BYTES, f"{png.name}: {png.stat().st_size} bytes"


def test_fast_flag_and_out_dir_are_parsed(tmp_path, monkeypatch):
    sys.path.insert(0, str(SCRIPT_DIR))
    try:
        import _common
    finally:
        sys.path.remove(str(SCRIPT_DIR))
    monkeypatch.delenv("DLCOURSE_FAST", raising=False)
    monkeypatch.setattr(sys, "argv", ["x.py", "--out", str(tmp_path / "a")])
    args = _common.parse_args("t")
    assert args.fast is False and args.out == tmp_path / "a" and args.out.is_dir()
    monkeypatch.setattr(sys, "argv", ["x.py", "--fast"])
    args = _common.parse_args("t")
    assert args.fast is True and args.out == FIG_DIR
    monkeypatch.setenv("DLCOURSE_FAST", "1")
    monkeypatch.setattr(sys, "argv", ["x.py", "--out", str(tmp_path / "b")])
    assert _common.parse_args("t").fast is True
