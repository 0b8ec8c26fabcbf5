"""The learner's working copies: notebooks/ (committed, tested) -> my-notebooks/ (ignored, yours).

JupyterLab saves a notebook as it runs (autosave); opened from notebooks/, the committed files
would change, the clone would go dirty and ``git pull`` would conflict. ``make lab`` therefore
opens my-notebooks/, which this script fills:

    python tools/sync_notebooks.py                     # copy the notebooks missing in my-notebooks/
    python tools/sync_notebooks.py --fresh 03_stride   # a new copy of one (yours kept as .bak)
    python tools/sync_notebooks.py --fresh all         # a new copy of every notebook (same)

A copy that exists is never overwritten by a plain run. ``--fresh`` moves the learner's copy
aside as ``NN_name.bak.ipynb`` (``.bak2``, ``.bak3``, ... when that exists) before copying, and
leaves a copy alone that is still identical to the committed notebook. A plain run also says
which committed notebooks changed (``git pull``) since the learner's copy was made, and how to
get them. Standard library only: the Makefile runs it before JupyterLab starts.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "notebooks"
TARGET = ROOT / "my-notebooks"
# where each copy came from: {name: sha256 of notebooks/name when it was copied}
MANIFEST = ".copied-from.json"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _load_manifest(target: Path) -> dict:
    try:
        return json.loads((target / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _save_manifest(target: Path, manifest: dict) -> None:
    text = json.dumps(manifest, indent=1, sort_keys=True) + "\n"
    (target / MANIFEST).write_text(text, encoding="utf-8")


def _copy(src: Path, dst: Path, manifest: dict) -> None:
    shutil.copyfile(src, dst)  # not copy2: the copy's time is when the learner got it
    manifest[src.name] = _digest(src)


def _backup_name(dst: Path) -> Path:
    """my-notebooks/03_stride.ipynb -> 03_stride.bak.ipynb, or .bak2, .bak3, ... (never overwrites)."""
    n = 1
    while True:
        bak = dst.with_name(f"{dst.stem}.bak{'' if n == 1 else n}{dst.suffix}")
        if not bak.exists():
            return bak
        n += 1


def sync(source: Path = SOURCE, target: Path = TARGET, out=sys.stdout) -> list[Path]:
    """Copy every source notebook missing in ``target``; never touch an existing copy.

    Returns the copies made. Prints what it did and which committed notebooks changed since
    the learner's copy of them was made.
    """
    target.mkdir(exist_ok=True)
    manifest = _load_manifest(target)
    copied, changed = [], []
    for src in sorted(source.glob("*.ipynb")):
        dst = target / src.name
        if not dst.exists():
            _copy(src, dst, manifest)
            copied.append(dst)
        elif src.name in manifest and manifest[src.name] != _digest(src):
            changed.append(src.stem)
    _save_manifest(target, manifest)
    rel = _shown(target)
    if copied:
        print(f"{rel}/: copied {', '.join(p.name for p in copied)} from {_shown(source)}/", file=out)
    kept = len(list(source.glob("*.ipynb"))) - len(copied)
    if kept:
        print(f"{rel}/: kept your {kept} existing cop{'y' if kept == 1 else 'ies'} as they are", file=out)
    for stem in changed:
        print(
            f"{_shown(source)}/{stem}.ipynb has changed since your copy was made; "
            f"`make fresh NB={stem}` gets the new one (yours is kept as {stem}.bak.ipynb)",
            file=out,
        )
    return copied


def _resolve(name: str, source: Path) -> Path:
    """'03', '03_stride', '03_stride.ipynb' or 'notebooks/03_stride.ipynb' -> the source notebook."""
    stem = Path(name).name.removesuffix(".ipynb")
    exact = source / f"{stem}.ipynb"
    if exact.exists():
        return exact
    matches = sorted(source.glob(f"{stem}*.ipynb"))
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(p.stem for p in sorted(source.glob("*.ipynb")))
    what = "matches several" if matches else "matches no"
    raise SystemExit(f"{name!r} {what} notebook in {_shown(source)}/ (one of: {known})")


def fresh(names, source: Path = SOURCE, target: Path = TARGET, out=sys.stdout) -> list[Path]:
    """A new copy of each named notebook (``all``: every one); the learner's copy is kept as .bak.

    Returns the backups made.
    """
    if list(names) == ["all"]:
        sources = sorted(source.glob("*.ipynb"))
        print(
            f"re-copying all {len(sources)} notebooks into {_shown(target)}/; "
            "each copy you changed is kept as NN_name.bak.ipynb",
            file=out,
        )
    else:
        sources = [_resolve(n, source) for n in names]
    target.mkdir(exist_ok=True)
    manifest = _load_manifest(target)
    backups = []
    for src in sources:
        dst = target / src.name
        if dst.exists():
            if dst.read_bytes() == src.read_bytes():
                manifest[src.name] = _digest(src)
                print(f"{_shown(dst)} is already the committed notebook: nothing to do", file=out)
                continue
            bak = _backup_name(dst)
            dst.rename(bak)
            backups.append(bak)
            print(f"{_shown(dst)}: your copy is now {bak.name}", file=out)
        _copy(src, dst, manifest)
        print(f"{_shown(dst)}: fresh copy of {_shown(src)}", file=out)
    _save_manifest(target, manifest)
    return backups


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--fresh",
        nargs="+",
        metavar="NOTEBOOK",
        help="re-copy these notebooks (e.g. 03_stride, or 03; 'all' for every one); "
        "your copy is kept as NN_name.bak.ipynb",
    )
    parser.add_argument("--source", type=Path, default=SOURCE, help=argparse.SUPPRESS)
    parser.add_argument("--target", type=Path, default=TARGET, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.fresh:
        fresh(args.fresh, args.source, args.target)
    else:
        sync(args.source, args.target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
