"""Exit 1 with one line of advice when this Python is too old for the course.

Run by the Makefile and .ci/run with the interpreter that is about to create .venv, before
pip can end in screens of "No matching distribution found for numpy~=...". Kept runnable
by old Pythons (no f-strings, no annotations): it exists to talk to them.
"""

import sys

NEEDED = (3, 11)

if sys.version_info[:2] < NEEDED:
    sys.stderr.write(
        "cnn-backprop needs Python >= %d.%d, but %s is Python %d.%d.%d; install a newer Python and "
        "name it, e.g. `make lab PYTHON=python3.12` (or `PYTHON=python3.12 bash .ci/run`).\n"
        % (NEEDED + (sys.executable or "this interpreter",) + tuple(sys.version_info[:3]))
    )
    sys.exit(1)
