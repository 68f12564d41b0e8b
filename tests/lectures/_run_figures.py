"""Run several figure scripts, each as ``__main__`` with ``--out DIR`` in fast mode, inside one
Python process (so that torch and scikit-learn are imported once), and report each outcome.

Usage: python _run_figures.py OUT_BASE SCRIPT [SCRIPT ...]
Prints one JSON line per script: {"script": name, "ok": bool, "error": str}.
"""
import json
import os
import runpy
import sys
import traceback
from pathlib import Path


def main():
    base = Path(sys.argv[1])
    os.environ["DLCOURSE_FAST"] = "1"
    for script in map(Path, sys.argv[2:]):
        out = base / script.stem
        sys.argv = [str(script), "--out", str(out)]
        sys.path.insert(0, str(script.parent))
        try:
            runpy.run_path(str(script), run_name="__main__")
            result = {"script": script.stem, "ok": True, "error": ""}
        except BaseException:  # SystemExit from argparse included
            result = {"script": script.stem, "ok": False, "error": traceback.format_exc()[-3000:]}
        finally:
            sys.path.remove(str(script.parent))
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
