"""The set-up a learner meets: the Python check, the working copies in my-notebooks/, and what
`make lab` runs (no browser, no install: the copy logic is tested directly, the Makefile dry-run)."""

from __future__ import annotations

import io
import os
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import sync_notebooks as sn  # noqa: E402

sys.path.remove(str(ROOT / "tools"))


@pytest.fixture
def course(tmp_path):
    """A notebooks/ with three small notebooks, and where my-notebooks/ goes."""
    source = tmp_path / "notebooks"
    source.mkdir()
    for stem in ("00_intro", "01_one", "03_stride"):
        (source / f"{stem}.ipynb").write_text(f'{{"cells": [], "name": "{stem}"}}\n')
    return source, tmp_path / "my-notebooks"


def _names(folder):
    return sorted(p.name for p in folder.glob("*.ipynb"))


def test_first_run_copies_every_notebook(course):
    source, target = course
    copied = sn.sync(source, target, out=io.StringIO())
    assert [p.name for p in copied] == _names(source) == _names(target)
    for src in source.glob("*.ipynb"):
        assert (target / src.name).read_bytes() == src.read_bytes()


def test_second_run_never_overwrites_a_copy_and_adds_missing_ones(course):
    source, target = course
    sn.sync(source, target, out=io.StringIO())
    mine = target / "03_stride.ipynb"
    mine.write_text("my work")
    (target / "01_one.ipynb").unlink()
    (target / "scratch.ipynb").write_text("my own notebook")
    out = io.StringIO()
    copied = sn.sync(source, target, out=out)
    assert [p.name for p in copied] == ["01_one.ipynb"]
    assert mine.read_text() == "my work"
    assert (target / "scratch.ipynb").read_text() == "my own notebook"
    assert "kept your 2 existing copies" in out.getvalue()


def test_a_changed_committed_notebook_is_reported_not_copied(course):
    source, target = course
    sn.sync(source, target, out=io.StringIO())
    (target / "03_stride.ipynb").write_text("my work")
    (source / "03_stride.ipynb").write_text('{"cells": [], "new": true}\n')  # git pull
    out = io.StringIO()
    sn.sync(source, target, out=out)
    assert (target / "03_stride.ipynb").read_text() == "my work"
    assert "03_stride.ipynb has changed since your copy" in out.getvalue()
    assert "make fresh NB=03_stride" in out.getvalue()


def test_fresh_recopies_one_and_keeps_the_old_copy_as_bak(course):
    source, target = course
    sn.sync(source, target, out=io.StringIO())
    (target / "03_stride.ipynb").write_text("my work")
    (target / "01_one.ipynb").write_text("other work")
    backups = sn.fresh(["03"], source, target, out=io.StringIO())  # a prefix names it too
    assert [p.name for p in backups] == ["03_stride.bak.ipynb"]
    assert (target / "03_stride.bak.ipynb").read_text() == "my work"
    assert (target / "03_stride.ipynb").read_bytes() == (source / "03_stride.ipynb").read_bytes()
    assert (target / "01_one.ipynb").read_text() == "other work"
    # again, after more work: the first backup stays, the second gets the next name
    (target / "03_stride.ipynb").write_text("more work")
    backups = sn.fresh(["03_stride.ipynb"], source, target, out=io.StringIO())
    assert [p.name for p in backups] == ["03_stride.bak2.ipynb"]
    assert (target / "03_stride.bak.ipynb").read_text() == "my work"
    assert (target / "03_stride.bak2.ipynb").read_text() == "more work"
    # and the backups are not mistaken for course notebooks by the next plain run
    assert sn.sync(source, target, out=io.StringIO()) == []


def test_fresh_all_says_so_and_backs_up_only_changed_copies(course):
    source, target = course
    sn.sync(source, target, out=io.StringIO())
    (target / "01_one.ipynb").write_text("my work")
    (target / "00_intro.ipynb").unlink()
    out = io.StringIO()
    backups = sn.fresh(["all"], source, target, out=out)
    assert "re-copying all 3 notebooks" in out.getvalue()
    assert [p.name for p in backups] == ["01_one.bak.ipynb"]
    assert _names(target) == ["00_intro.ipynb", "01_one.bak.ipynb", "01_one.ipynb", "03_stride.ipynb"]


def test_fresh_of_an_unknown_or_ambiguous_name_changes_nothing(course):
    source, target = course
    sn.sync(source, target, out=io.StringIO())
    (target / "03_stride.ipynb").write_text("my work")
    with pytest.raises(SystemExit, match="matches no notebook"):
        sn.fresh(["09"], source, target, out=io.StringIO())
    with pytest.raises(SystemExit, match="matches several"):
        sn.fresh(["0"], source, target, out=io.StringIO())
    assert (target / "03_stride.ipynb").read_text() == "my work"


def test_the_command_line_copies_into_the_given_target(course):
    source, target = course
    cmd = [sys.executable, str(ROOT / "tools" / "sync_notebooks.py"), "--source", str(source)]
    subprocess.run([*cmd, "--target", str(target)], check=True, capture_output=True)
    assert _names(target) == _names(source)


@pytest.mark.parametrize("version", [(2, 7, 18), (3, 10, 13)])
def test_python_check_refuses_old_pythons_in_one_line(monkeypatch, capsys, version):
    monkeypatch.setattr(sys, "version_info", (*version, "final", 0))
    with pytest.raises(SystemExit) as exit_:
        runpy.run_path(str(ROOT / "tools" / "check_python.py"))
    assert exit_.value.code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "Python >= 3.11" in err and ".".join(map(str, version)) in err
    assert "make lab PYTHON=python3.12" in err


def test_python_check_passes_this_python():
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "check_python.py")], capture_output=True)
    assert run.returncode == 0 and not run.stderr


def _make_n(target, *args):
    """What `make TARGET` would run (dry run), or skip when make is missing."""
    if shutil.which("make") is None:
        pytest.skip("no make here")
    run = subprocess.run(
        ["make", "-n", "-B", target, *args], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return run.stdout.splitlines()


def test_make_lab_checks_python_then_installs_only_the_course_and_opens_my_notebooks():
    lines = _make_n("lab")
    check = next(i for i, l in enumerate(lines) if "tools/check_python.py" in l)
    venv = next(i for i, l in enumerate(lines) if "-m venv" in l)
    assert check < venv
    assert any("pip install -q -r requirements.txt" in l for l in lines)
    assert not any("requirements-test.txt" in l for l in lines)
    sync = next(i for i, l in enumerate(lines) if l.endswith("tools/sync_notebooks.py"))
    lab = next(i for i, l in enumerate(lines) if "jupyter lab" in l)
    assert sync < lab
    assert "--ServerApp.root_dir=my-notebooks" in lines[lab]
    assert ("--allow-root" in lines[lab]) == (os.geteuid() == 0)


def test_make_test_installs_the_test_tools_and_python_can_be_chosen():
    lines = _make_n("test", "PYTHON=python3.12")
    assert any(l.startswith("python3.12 -m venv") for l in lines)
    assert any("pip install -q -r requirements-test.txt" in l for l in lines)


def test_make_fresh_recopies_one_or_all():
    assert _make_n("fresh", "NB=03_stride")[-1].endswith("tools/sync_notebooks.py --fresh 03_stride")
    assert _make_n("fresh")[-1].endswith("tools/sync_notebooks.py --fresh all")


def test_my_notebooks_is_ignored_by_git_pytest_and_ruff():
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "my-notebooks" in config["tool"]["pytest"]["ini_options"]["norecursedirs"]
    assert "notebooks" in config["tool"]["pytest"]["ini_options"]["testpaths"]
    assert "my-notebooks" in config["tool"]["ruff"]["extend-exclude"]
    assert "my-notebooks/" in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
