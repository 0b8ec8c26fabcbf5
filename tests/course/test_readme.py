"""The README, the course's landing page, stays true: its pictures, links, section citations and
commands match the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from headings import notebook_headings

from cnnlib.course import images

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
NBVAL = "--nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg -n 2 --dist loadscope"
TEST_COMMAND = f"python -m pytest {NBVAL}"
SECOND_SETUP = "OPENBLAS_CORETYPE=Sandybridge OPENBLAS_NUM_THREADS=1 NPY_DISABLE_CPU_FEATURES=X86_V3"


def test_readme_shows_every_image():
    shown = set(re.findall(r"images/([\w.-]+\.(?:png|gif))", README))
    assert shown == set(images.FIGURES)


def test_readme_local_links_resolve():
    targets = re.findall(r"\]\((?!https?://|#)([^)#\s]+)", README) + re.findall(r'src="([^"]+)"', README)
    assert targets
    missing = sorted({t for t in targets if not (ROOT / t).exists()})
    assert not missing, f"README links to missing files: {missing}"


def test_readme_links_every_notebook():
    linked = set(re.findall(r"\]\((notebooks/[\w.-]+\.ipynb)\)", README))
    on_disk = {f"notebooks/{p.name}" for p in (ROOT / "notebooks").glob("*.ipynb")}
    assert on_disk <= linked, f"notebooks missing from the README: {sorted(on_disk - linked)}"


CITATIONS = re.findall(r"\]\((notebooks/[\w.-]+\.ipynb)\) “([^”]+)”", README)


def test_readme_cites_sections():
    assert len(CITATIONS) >= 15


@pytest.mark.parametrize(
    ("notebook", "section"), CITATIONS, ids=[f"{n[10:12]}:{s[:30]}" for n, s in CITATIONS]
)  # noqa: E501
def test_cited_section_exists(notebook, section):
    section = section.replace("\\*", "*")  # Markdown escapes in the README
    assert section in notebook_headings(ROOT / notebook), f"{notebook} has no heading {section!r}"


def test_readme_test_command_is_the_one_ci_and_make_run():
    assert README.count(TEST_COMMAND) >= 1
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    run = [line.strip() for line in ci.splitlines() if line.strip().startswith("python -m pytest")]
    assert run == [TEST_COMMAND]
    assert "set -euo pipefail" in ci and "CNN_BACKPROP_REQUIRE_BROWSER=1" in ci
    assert f"$(PY) -m pytest {NBVAL}" in (ROOT / "Makefile").read_text(encoding="utf-8")
    # the notebooks once more in the second numeric set-up, checked to have taken effect
    assert f"second_setup=({SECOND_SETUP})" in ci and SECOND_SETUP in README
    again = [line.strip() for line in ci.splitlines() if line.startswith('env "${second_setup[@]}"')]
    assert again == [
        'env "${second_setup[@]}" python tools/check_numeric_setup.py',
        f'env "${{second_setup[@]}}" {TEST_COMMAND} notebooks/',
    ]
    commands = [
        "make lab",
        "make test",
        "make lint",
        "make fresh NB=",
        "python -m cnnlib.course.images images/",
    ]
    for command in commands:
        assert command in README


def _requirements(name):
    lines = (ROOT / name).read_text(encoding="utf-8").splitlines()
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]


def _package(line):
    return re.split(r"[~=<>!\[ ]", line, maxsplit=1)[0].lower()


TEST_ONLY = {"pytest", "pytest-xdist", "nbval", "nbconvert", "hypothesis", "ruff", "mypy", "playwright"}


def test_readme_names_both_requirement_files_and_the_course_needs_no_test_tool():
    # the course (make lab) and the tests on top (make test, CI), installed in that order
    course, tests = "pip install -r requirements.txt", "pip install -r requirements-test.txt"
    assert course in README and tests in README
    assert README.index(course) < README.index(tests) < README.index(TEST_COMMAND)
    assert _requirements("requirements-test.txt")[0] == "-r requirements.txt"
    in_course = {_package(line) for line in _requirements("requirements.txt")}
    assert not in_course & TEST_ONLY, f"test-only packages in requirements.txt: {in_course & TEST_ONLY}"
    in_tests = {_package(line) for line in _requirements("requirements-test.txt")[1:]}
    assert in_tests >= TEST_ONLY - {"nbconvert"}
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "pip install -q -r requirements-test.txt" in ci
    make = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "pip install -q -r requirements.txt" in make and "pip install -q -r requirements-test.txt" in make
