"""Every hidden solution in the notebooks passes its exercise's checker.

The solutions live in Markdown (``<details><summary>Solution</summary>`` with a python
block) so that a learner sees them only on request; nbval never runs Markdown, so this
test does: it takes each solution, runs it with the notebook's usual names in scope, finds
the checker the exercise cell above it calls (``ok = ch.check_...(name)``), and asserts that
the checker accepts the solution. A solution that drifts from its checker fails here.
"""

from __future__ import annotations

import ast
import importlib
import json
import re
from pathlib import Path

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

import cnnlib as cl
from cnnlib import reference

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
SOLUTION = re.compile(r"<summary>Solution</summary>\s*```python\n(.*?)```", re.S)
CHECKER_CALL = re.compile(r"\bch\.(check_\w+)\((\w+)\)")


def _earlier_functions(cells):
    """Source of the top-level functions the notebook's code cells define (a solution may call them)."""
    defs = []
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        text = "".join(cell["source"])
        lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in text.splitlines()]
        try:
            tree = ast.parse("\n".join(lines))
        except SyntaxError:
            continue
        defs += [
            ast.get_source_segment("\n".join(lines), n) for n in tree.body if isinstance(n, ast.FunctionDef)
        ]
    return defs


def _solutions():
    """(chapter module, checker name, function name, earlier functions, solution code) per solution."""
    found = []
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        module = f"cnnlib.course.ch{path.stem}"
        for i, cell in enumerate(cells):
            text = "".join(cell["source"])
            match = SOLUTION.search(text) if cell["cell_type"] == "markdown" else None
            if not match:
                continue
            # the exercise: the nearest code cell above that calls a checker on the learner's function
            calls = next(
                CHECKER_CALL.findall("".join(c["source"]))
                for c in reversed(cells[:i])
                if c["cell_type"] == "code" and CHECKER_CALL.search("".join(c["source"]))
            )
            checker, name = calls[-1]
            helpers = _earlier_functions(cells[:i])
            found.append(
                pytest.param(module, checker, name, helpers, match.group(1), id=f"{path.stem[:2]}-{name}")
            )
    return found


SOLUTIONS = _solutions()


def test_every_notebook_with_exercises_has_its_solutions_found():
    per_notebook = {}
    for p in SOLUTIONS:
        per_notebook[p.values[0]] = per_notebook.get(p.values[0], 0) + 1
    assert len(SOLUTIONS) >= 21 and all(n >= 2 for n in per_notebook.values()), per_notebook


@pytest.mark.parametrize("module, checker, name, helpers, code", SOLUTIONS)
def test_hidden_solution_passes_its_checker(module, checker, name, helpers, code, capsys):
    ch = importlib.import_module(module)
    scope = {"np": np, "cl": cl, "reference": reference, "ch": ch, "sliding_window_view": sliding_window_view}
    # the notebook's own code, as a learner runs it: its functions so far, then the solution
    for source in helpers:
        try:
            exec(compile(source, f"<{module} function>", "exec"), scope)
        except NameError:  # a default argument that names a notebook variable: not a helper
            pass
    exec(compile(code, f"<solution {name}>", "exec"), scope)
    verdict = getattr(ch, checker)(scope[name])
    out = capsys.readouterr().out
    assert verdict, out
    assert "correct on all" in out or "PASSED" in out
