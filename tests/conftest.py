"""pytest set-up shared by every test; the maths tests need NumPy, pytest and hypothesis only.

Shared strategies and case records are in ``strategies.py``; plotting set-up is in
``course/conftest.py``, so that ``pytest tests --ignore=tests/course --ignore=tests/browser``
runs without matplotlib. Being here also puts this folder on ``sys.path``, so that the
tests below it import ``strategies`` and ``headings``.
"""
