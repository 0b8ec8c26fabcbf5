"""The Markdown headings of a notebook, for the tests that check links to them."""

from __future__ import annotations

import json
import re


def notebook_headings(notebook):
    """The Markdown headings of a notebook as a reader sees them (code and bold marks removed)."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    found = set()
    for cell in nb["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        fenced = False
        for line in "".join(cell["source"]).splitlines():
            if line.lstrip().startswith("```"):
                fenced = not fenced
            m = re.match(r"#{1,6}\s+(.*?)\s*$", line)
            if m and not fenced:
                found.add(re.sub(r"\*\*|__", "", re.sub(r"`([^`]*)`", r"\1", m.group(1))))
    return found
