"""Back-links from the library to the course stay true: every notebook a docstring or comment in
cnnlib names exists, and a back-link that quotes a section names a heading of that notebook.

Format of a quoted back-link: ``Derived in notebooks/03_stride.ipynb, "2 · The derivation"``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from headings import notebook_headings

ROOT = Path(__file__).resolve().parents[1]
NAMED = re.compile(r"\b(\d\d_[a-z0-9_]+)\.ipynb")
QUOTED = re.compile(r"notebooks/(\d\d_[a-z0-9_]+)\.ipynb,\s+\"([^\"]+)\"")


def _sources():
    return sorted((ROOT / "cnnlib").rglob("*.py"))


def _links(pattern):
    found = []
    for path in _sources():
        text = path.read_text(encoding="utf-8")
        # a docstring may wrap a quoted section over two lines: join them with single spaces
        flat = re.sub(r"\s*\n\s*", " ", text)
        found += [(path.relative_to(ROOT).as_posix(), *m.groups()) for m in pattern.finditer(flat)]
    return found


def test_the_library_links_back_to_the_course():
    assert len(_links(NAMED)) >= 50  # the scan finds the back-links (a wrong pattern would find none)
    assert len(_links(QUOTED)) >= 3


@pytest.mark.parametrize("source, notebook", sorted(set(_links(NAMED))))
def test_named_notebook_exists(source, notebook):
    assert (ROOT / "notebooks" / f"{notebook}.ipynb").is_file(), f"{source} names {notebook}.ipynb"


@pytest.mark.parametrize("source, notebook, section", sorted(set(_links(QUOTED))))
def test_quoted_section_is_a_heading(source, notebook, section):
    headings = notebook_headings(ROOT / "notebooks" / f"{notebook}.ipynb")
    assert section in headings, f"{source} quotes {section!r}, not a heading of {notebook}.ipynb"
