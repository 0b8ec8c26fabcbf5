"""What a check returns: one record per case, the verdict, the diagnosis, and how it prints."""

from __future__ import annotations

from dataclasses import dataclass, field

from .refusals import core_missing

__all__ = ["CaseResult", "FirstWrong", "Report", "VERDICTS", "error_text"]

VERDICTS = ("pass", "fail", "error", "refused", "skipped", "not run")


def error_text(err):
    """A relative error as printed: "< 1e-12" below that (the last bits of a right answer differ
    from machine to machine, so a notebook stores only the bound), else one significant digit."""
    return "< 1e-12" if err < 1e-12 else f"{err:.0e}"


@dataclass(frozen=True)
class FirstWrong:
    """The first wrong entry (row-major) of one output, in the convention's layout."""

    output: str
    index: tuple
    expected: float
    got: float

    def __str__(self):
        idx = ", ".join(str(i) for i in self.index)
        return f"{self.output}[{idx}]: expected {self.expected:.6g}, got {self.got:.6g}"


@dataclass
class CaseResult:
    """The outcome of one case.

    Attributes
    ----------
    number : int
        1-based position in the report.
    shapes : dict of str -> tuple
        The inputs' shapes in the convention's layout and names ({"A_prev": (2, 5, 5, 3), ...}).
    stride, padding : tuple of int
        (h, w) pairs; padding is (0, 0) for pooling.
    size : tuple of int or None
        Pool window (kh, kw); None for convolutions.
    verdict : str
        "pass", "fail", "error" (the learner's code raised), "refused" (the learner's own
        code refused the case on purpose: see ``check.refusals``), "skipped" (the convention
        cannot express the case) or "not run" (the time limit ran out first).
    max_error : float or None
        Largest relative error over the outputs, max|got - expected| / max|got| + |expected|
        (one scale per output); None when nothing could be compared.
    message : str
        The exception, the wrong shape or why the case was skipped; "" when it passed.
    wrong : tuple of str
        The outputs that are wrong (the convention's names).
    first_wrong : FirstWrong or None
    """

    number: int
    shapes: dict
    stride: tuple
    padding: tuple
    size: tuple | None
    verdict: str
    max_error: float | None = None
    message: str = ""
    wrong: tuple = ()
    first_wrong: FirstWrong | None = None
    # evidence for the diagnosis: the case spec, its inputs and, per internal output name,
    # (got, expected) as NCHW arrays when the shapes agreed
    spec: object = field(default=None, repr=False, compare=False)
    inputs: dict = field(default_factory=dict, repr=False, compare=False)
    outputs: dict = field(default_factory=dict, repr=False, compare=False)
    exception: BaseException | None = field(default=None, repr=False, compare=False)
    got_shapes: dict = field(default_factory=dict, repr=False, compare=False)
    # (label, array returned, copy at return) until every case has run; then the labels of those a later
    # call changed (views of one reused buffer)
    returned: list = field(default_factory=list, repr=False, compare=False)
    overwritten: tuple = field(default=(), repr=False, compare=False)

    def row(self):
        """The table columns as strings."""
        shapes = ", ".join(f"{k} {'x'.join(str(n) for n in v)}" for k, v in self.shapes.items())
        hyper = f"s {_pair(self.stride)}"
        if self.size is not None:
            hyper = f"size {_pair(self.size)}, " + hyper
        else:
            hyper += f", p {_pair(self.padding)}"
            dilation, groups = getattr(self.spec, "dilation", (1, 1)), getattr(self.spec, "groups", 1)
            if dilation != (1, 1):  # only the cases of a dilated or grouped check carry these
                hyper += f", d {_pair(dilation)}"
            if groups != 1:
                hyper += f", g {groups}"
        if self.got_shapes:  # the error of the outputs that could be compared would read as a pass
            err = "wrong shape"
        elif self.overwritten:
            err = "overwritten"
        elif self.max_error is None:
            err = ""
        elif self.max_error == float("inf"):
            err = "NaN/inf"
        else:
            err = error_text(self.max_error)
        return [str(self.number), shapes, hyper, self.verdict, err]


def _pair(p):
    return str(p[0]) if p[0] == p[1] else f"({p[0]}, {p[1]})"


@dataclass
class Report:
    """The result of checking a learner's function.

    ``bool(report)`` is ``report.passed``: True only when at least one case passed, none
    failed or raised, none was left unrun, and the cases that passed still hold the core
    ones (N, C, D > 1, stride 1 and 2+, padding 0 and 1+, kernels wider than 1) wherever
    the cases run had them: refusing a non-square kernel is fine, refusing padding 0 is not.
    Printing it (or ending a notebook cell with it) shows the verdict, what the code
    refuses, the per-case table, the first wrong entry and the diagnosis.

    Attributes
    ----------
    operation : str
        "conv_backward", "conv_forward", "maxpool_backward" or "avgpool_backward".
    convention : str
        "cnnlib", "cs231n" or "coursera".
    cases : list of CaseResult
    diagnosis : list of str
        Sentences naming the likely bug; [] when the check passed.
    bugs : tuple of str
        The stable id of each finding (``check.BUG_IDS``), in the diagnosis's order, each
        once; () when the check passed. Match these, not the sentences' words.
    notes : list of str
        Remarks that are not verdicts (float32 answers, skipped cases, tie rule).
    refused : dict of str -> list of int
        What the learner's code refuses on purpose ("non-square kernels") -> the case numbers.
    scope : list of str
        One line each: what the code refuses and what that means; the assumptions stated
        with ``assume=``. Printed under the verdict.
    """

    operation: str
    convention: str
    cases: list
    diagnosis: list = field(default_factory=list)
    bugs: tuple = ()
    notes: list = field(default_factory=list)
    refused: dict = field(default_factory=dict)
    scope: list = field(default_factory=list)

    @property
    def ran(self):
        """The cases the learner's function was called on (not skipped, not cut by the time limit)."""
        return [c for c in self.cases if c.verdict not in ("skipped", "not run")]

    @property
    def passed(self):
        verdicts = {c.verdict for c in self.cases}
        return (
            "pass" in verdicts
            and not verdicts & {"fail", "error", "not run"}
            and not core_missing(self.cases)
        )

    def __bool__(self):
        return self.passed

    @property
    def tally(self):
        """ "7 of 9 cases pass", plus how many were skipped, failed and raised."""
        ran = self.ran
        n_pass = sum(c.verdict == "pass" for c in ran)
        text = f"{n_pass} of {len(ran)} cases pass"
        extra = [
            f"{n} {word}"
            for word, n in (
                ("fail", sum(c.verdict == "fail" for c in ran)),
                ("raise an exception", sum(c.verdict == "error" for c in ran)),
                ("refused", sum(c.verdict == "refused" for c in ran)),
                ("skipped", sum(c.verdict == "skipped" for c in self.cases)),
                ("not run", sum(c.verdict == "not run" for c in self.cases)),
            )
            if n
        ]
        return text + (f" ({', '.join(extra)})" if extra else "")

    def first_failure(self):
        """The first case that failed or raised, or None."""
        return next((c for c in self.cases if c.verdict in ("fail", "error")), None)

    def __str__(self):
        head = f"check.{self.operation} ({self.convention} convention): "
        head += ("PASSED" if self.passed else "FAILED") + f", {self.tally}"
        rows = [["case", "shapes", "hyper-parameters", "verdict", "max error"]]
        rows += [c.row() for c in self.cases]
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = [head] + self.scope + [""]
        for r in rows:
            lines.append("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())
        details = [c for c in self.cases if c.message]
        if details:
            lines.append("")
            lines += [f"case {c.number} ({c.verdict}): {c.message}" for c in details]
        first = self.first_failure()
        if first is not None and first.first_wrong is not None:
            lines += ["", f"first wrong entry (case {first.number}): {first.first_wrong}"]
        if self.diagnosis:
            lines += ["", "Diagnosis:"] + [f"- {d}" for d in self.diagnosis]
        if self.notes:
            lines += ["", "Notes:"] + [f"- {n}" for n in self.notes]
        return "\n".join(lines)

    def __repr__(self):
        return str(self)

    def _repr_pretty_(self, p, cycle):
        p.text("Report(...)" if cycle else str(self))
