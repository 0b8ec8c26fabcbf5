"""Every figure a notebook draws, as the notebook shows it: run its code cells in this process.

The inline backend shows (and then closes) every open figure at the end of a cell; so does
``figures(path)``: it runs the code cells in order in one namespace and hands back each figure open
at the end of a cell, then closes them. IPython magics (``%config``) are dropped; cells marked
``NBVAL_SKIP`` are skipped and those marked ``NBVAL_RAISES_EXCEPTION`` may raise.
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import matplotlib.pyplot as plt
import nbformat


def figures(path):
    """Yield (cell index, first source line, Figure) for every figure open at the end of a cell."""
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    namespace = {"__name__": "__main__"}
    old = os.getcwd()
    os.chdir(path.parent)
    plt.close("all")
    try:
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code" or "NBVAL_SKIP" in cell.source:
                continue
            lines = cell.source.splitlines()
            source = "\n".join(line for line in lines if not line.lstrip().startswith(("%", "!")))
            with contextlib.redirect_stdout(io.StringIO()):
                try:
                    exec(compile(source, f"{path.name}[{index}]", "exec"), namespace)
                except Exception:
                    if "NBVAL_RAISES_EXCEPTION" not in cell.source:
                        raise
            first = next((s for s in cell.source.splitlines() if s.strip() and not s.startswith("#")), "")
            for num in plt.get_fignums():
                yield index, first, plt.figure(num)
            plt.close("all")
    finally:
        os.chdir(old)
        plt.close("all")
