"""The course's teaching toolkit (matplotlib, ipywidgets): shared drawing, explorers, checkers,
and one module per notebook: ``from cnnlib.course import ch03_stride as ch``.

``import cnnlib`` never imports this package, so the maths needs NumPy only.
"""
