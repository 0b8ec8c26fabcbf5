"""Running every case in turn: a line per case as it finishes, and the time limit.

A slow learner function (2 s a call) would leave a notebook silent for half a minute,
and an endless loop would hang it. So, once a check has run for ``PROGRESS_AFTER``
seconds (never for an ordinary check, which takes a fraction of a second, so stored
notebook outputs stay the same), each case's verdict is printed as it finishes; the
report still prints whole at the end. ``time_limit`` bounds the whole check: on Unix
the main thread is interrupted by a timer (SIGALRM) even inside an endless loop; the
case it interrupts and the ones after it are "not run".
"""

from __future__ import annotations

import numbers
import signal
import threading
import time

from .conventions import TimeUp
from .report import CaseResult
from .run import mark_overwritten, run_case

__all__ = ["PROGRESS_AFTER", "run_cases", "validate_time_limit"]

PROGRESS_AFTER = 1.5  # seconds of silence before the per-case lines start


def validate_time_limit(time_limit):
    """None or a positive number of seconds."""
    if time_limit is None:
        return None
    if isinstance(time_limit, bool) or not isinstance(time_limit, numbers.Real):
        raise TypeError(f"time_limit must be a number of seconds or None, got {time_limit!r}")
    if not time_limit > 0:
        raise ValueError(f"time_limit must be > 0 seconds, got {time_limit!r}")
    return float(time_limit)


class _Alarm:
    """SIGALRM after ``seconds`` raises TimeUp in the main thread; a no-op elsewhere (Windows,
    threads), where the limit is checked between cases only."""

    def __init__(self, seconds):
        self.seconds = seconds
        self.usable = (
            seconds is not None
            and hasattr(signal, "setitimer")
            and threading.current_thread() is threading.main_thread()
        )

    def __enter__(self):
        if self.usable:
            self.old = signal.signal(signal.SIGALRM, self._fire)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return self

    @staticmethod
    def _fire(signum, frame):
        raise TimeUp()

    def __exit__(self, *exc):
        if self.usable:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.old)
        return False


def _not_run(number, case, shapes, why):
    return CaseResult(
        number=number,
        shapes=shapes,
        stride=case.stride,
        padding=getattr(case, "padding", (0, 0)),
        size=getattr(case, "size", None),
        verdict="not run",
        message=why,
        spec=case,
    )


def run_cases(op, conv, fn, forward, cases, shapes, time_limit=None, progress=None):
    """Run every case; return the CaseResults in order.

    Parameters
    ----------
    cases : list of ConvCase or PoolCase
    shapes : callable
        case -> the inputs' shapes for the table.
    time_limit : float or None
        Seconds for the whole check.
    progress : bool or None
        True: print every case's line as it finishes; False: never; None: once the check
        has run for ``PROGRESS_AFTER`` seconds.
    """
    start, results, shown = time.perf_counter(), [], 0
    why = f"not run: the time limit of {time_limit:g} s ran out" if time_limit else ""
    try:
        with _Alarm(time_limit):
            for number, case in enumerate(cases, 1):
                if time_limit is not None and time.perf_counter() - start >= time_limit:
                    raise TimeUp()
                results.append(run_case(number, op, conv, fn, forward, case, shapes(case)))
                elapsed = time.perf_counter() - start
                if progress or (progress is None and elapsed >= PROGRESS_AFTER):
                    for r in results[shown:]:
                        extra = f": {r.message}" if r.verdict in ("error", "refused") else ""
                        print(
                            f"case {r.number} of {len(cases)}: {r.verdict}{extra} ({elapsed:.1f} s)",
                            flush=True,
                        )
                    shown = len(results)
    except TimeUp:
        pass
    mark_overwritten(results)
    for number, case in enumerate(cases[len(results) :], len(results) + 1):
        results.append(_not_run(number, case, shapes(case), why))
    return results
