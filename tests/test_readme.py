"""The README, the course's landing page, stays true: its pictures, links, section citations and
commands match the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import notebook_headings

from cnnlib.course import images

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
TEST_COMMAND = "python -m pytest --nbval --nbval-current-env -n 2 --dist loadscope"


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
    assert "$(PY) -m pytest --nbval --nbval-current-env -n 2 --dist loadscope" in (
        ROOT / "Makefile"
    ).read_text(encoding="utf-8")
    commands = ["make lab", "make test", "pip install -r requirements.txt"]
    commands.append("python -m cnnlib.course.images images/")
    for command in commands:
        assert command in README
