"""Look-alike learner implementations for the tests of ``cnnlib.check``.

Written from scratch in each course's style (NumPy only, never calling cnnlib), so
that "correct" means correct by an independent route, and each planted bug sits in
the line where learners put it.
"""
