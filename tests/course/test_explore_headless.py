"""An explorer cell finishes in a headless run (nbconvert --execute, nbclient).

nbclient plays the front end of ipywidgets' Output widget: every output displayed into one is
answered with a comm message on the kernel's shell socket while nbclient awaits the cell's reply
on that same socket, and the two race (nbclient issue 312: one run in a few waited forever after
an explorer cell). ``explore`` therefore shows its figure in an Image widget and sends nothing into
the interactive's Output widget; this runs an explorer through nbclient, as nbconvert does, and
checks that the Output widget stayed empty and the Image holds the figure.
"""

from __future__ import annotations

import nbformat
import pytest

nbclient = pytest.importorskip("nbclient")

CELLS = [
    "import matplotlib.pyplot as plt\n"
    "from cnnlib.course.explore import explore\n"
    "fig, ax = plt.subplots(figsize=(2, 2))\n"
    "line, = ax.plot([0, 1], [0, 1])\n"
    "def update(slope=1):\n"
    "    line.set_ydata([0, slope])\n"
    "    return {'slope': slope}",
    "explorer = explore(fig, update, slope=(0, 3))\nexplorer",
    "explorer.ui.children[0].value = 2  # a slider move, as a front end would send it",
    "print('done')",
]


def test_an_explorer_sends_nothing_into_the_output_widget_when_run_headless(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    assert nb.cells[-1].outputs[0]["text"] == "done\n"
    states = [
        m["state"]
        for m in nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"].values()
    ]
    outputs = [s for s in states if s["_model_name"] == "OutputModel"]
    images = [s for s in states if s["_model_name"] == "ImageModel"]
    assert len(outputs) == 1 and outputs[0]["outputs"] == []
    assert len(images) == 1
