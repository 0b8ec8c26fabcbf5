"""``python -m cnnlib.course.images [outdir]`` regenerates the README figures."""

import sys

from . import main

sys.exit(main())
