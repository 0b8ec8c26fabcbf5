"""Slider round trips in a real browser: key press to new figure, median per explorer.

Runs tests/browser (one JupyterLab, one headless Chromium, every notebook) with each slider
moved --moves times there and back, and prints its table. A figure to report, not a gate:
the target is a median <= 300 ms per explorer in headless Chromium on 2 cores. Needs what the
browser test needs: the test requirements and /usr/bin/chromium.

    python benchmarks/bench_browser.py              # every notebook, 3 moves there and back
    python benchmarks/bench_browser.py -k 03 --moves 5
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--moves", type=int, default=3, help="moves there and back per slider (default 3)")
    parser.add_argument("-k", default="redraws", help="pytest -k expression (default: every notebook)")
    args = parser.parse_args()
    env = dict(os.environ, CNN_BACKPROP_BROWSER_MOVES=str(args.moves), CNN_BACKPROP_REQUIRE_BROWSER="1")
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/browser", "-k", args.k]
    return subprocess.call(cmd, cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main())
