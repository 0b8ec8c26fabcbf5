"""The notebooks as a learner meets them: a real browser drives JupyterLab.

One JupyterLab (127.0.0.1, random port and token) serves temporary copies of every notebook;
one headless Chromium (Debian's, driven by Playwright) opens each in turn at 1280x800 with the
file browser open, runs all cells, and then

- moves EVERY slider of EVERY explorer (each ``.widget-interact``) one step with the keyboard
  and back, and waits for the explorer's figure to change each time: a move that does not
  redraw within ``MOVE_TIMEOUT_MS``, or that shows an error, fails the test. Each round trip
  (key press to new image) is printed, and at the end a table of the median per explorer;
- counts the error outputs (tracebacks, stderr) and fails on any;
- counts the display equations (MathJax's ``mjx-container[display="true"]``) whose rendered
  formula is wider than the Markdown cell's box, i.e. cut off for the learner. Printed; the
  test fails on them only when ``FAIL_ON_CLIPPED`` is True. ``test_clip_measure_on_known_equations``
  checks the measure itself on a notebook with a narrow and a too-wide equation.

Copies, not the committed notebooks: JupyterLab autosaves, which would write widget state
and new outputs into the course. Reports go to stderr, which pytest-xdist workers pass on.

Without Chromium (/usr/bin/chromium) or Playwright the tests are skipped with the reason; with
CNN_BACKPROP_REQUIRE_BROWSER=1 (set by .ci/run) they fail instead, so CI always runs them.
CNN_BACKPROP_BROWSER_MOVES=N (default 1) moves each slider N times there and back, for a
steadier median (benchmarks/bench_browser.py uses it).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

import pytest
from lab_server import control_notebook, serve

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
CHROMIUM = Path("/usr/bin/chromium")
REQUIRE = os.environ.get("CNN_BACKPROP_REQUIRE_BROWSER") == "1"
MOVES = int(os.environ.get("CNN_BACKPROP_BROWSER_MOVES", "1"))
VIEWPORT = {"width": 1280, "height": 800}  # a laptop screen, with the file browser open
MOVE_TIMEOUT_MS = 15_000  # a redraw takes well under a second; this is "it never came"
ROUND_TRIP_TARGET_MS = 300  # reported against, not a gate (CI machines vary)
# Display equations cut off at the right edge of their cell fail the test: every derivation is laid
# out in narrow `aligned` blocks, so a clipped one is a regression a learner would see.
FAIL_ON_CLIPPED = True
CLIP_TOLERANCE_PX = 1  # sub-pixel rounding of a formula that fits exactly

NAMES = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
CONTROL = "clip_control.ipynb"  # written by the lab fixture; see test_clip_measure_on_known_equations
RESULTS: dict[str, list[dict]] = {}  # notebook -> one entry per explorer, for the summary table

# The notebook's kernel is connected and idle, and no cell is waiting or running ("[*]").
KERNEL_IDLE_JS = """() => {
  const nb = window.jupyterapp?.shell?.currentWidget;
  const k = nb?.sessionContext?.session?.kernel;
  if (!k || k.connectionStatus !== 'connected' || k.status !== 'idle') return false;
  const prompts = [...nb.node.querySelectorAll('.jp-InputArea-prompt')].map(p => p.textContent);
  return !prompts.some(t => t.includes('*'));
}"""

ERROR_OUTPUTS = (
    '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"], '
    '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"]'
)

# The explorer's figure: the src of the i-th interact widget's image, or an error mark.
FIGURE_JS = """(i) => {
  const w = window.jupyterapp.shell.currentWidget.node.querySelectorAll('.widget-interact')[i];
  if (!w) return null;
  if (w.querySelector(ERRORS)) return 'error';
  const img = w.querySelector('img.widget-image');
  return img ? img.getAttribute('src') : null;
}""".replace("ERRORS", json.dumps(ERROR_OUTPUTS))

# Every display equation of the notebook: the rendered formula (mjx-math: its width is the
# container's scrollWidth) against the Markdown cell's box, `.jp-RenderedMarkdown`, which has
# overflow-x: auto: what lies past the box's padding edge (left + clientWidth) is cut off, and
# reachable only by scrolling the cell sideways. `overflow` is how far the formula sticks out;
# `column` is the text column (clientWidth minus the padding): a formula between the two reaches
# into the 20 px right padding, still visible. Closed <details> (hidden solutions) are opened
# first, so they are measured as a learner sees them when opened. Checked against a screenshot:
# 03's three counted equations end mid-word at the box's edge.
EQUATIONS_JS = """() => {
  const root = window.jupyterapp.shell.currentWidget.node;
  root.querySelectorAll('details').forEach(d => { d.open = true; });
  const found = [];
  for (const c of root.querySelectorAll('mjx-container[display="true"]')) {
    const box = c.closest('.jp-RenderedMarkdown') || c.parentElement;
    const math = c.querySelector('mjx-math') || c;
    const b = box.getBoundingClientRect(), m = math.getBoundingClientRect();
    const left = b.left + box.clientLeft, right = left + box.clientWidth;
    const st = getComputedStyle(box);
    const column = box.clientWidth - parseFloat(st.paddingLeft) - parseFloat(st.paddingRight);
    const cell = c.closest('.jp-Cell');
    const cells = [...root.querySelectorAll('.jp-Cell')];
    found.push({
      cell: cells.indexOf(cell), width: m.width, box: box.clientWidth, column: column,
      overflow: Math.max(m.right - right, left - m.left, 0),
      text: (c.querySelector('mjx-assistive-mml math')?.textContent || '').slice(0, 60),
    });
  }
  return found;
}"""


def _missing_browser():
    """Why the browser test cannot run here, or None."""
    if importlib.util.find_spec("playwright") is None:
        return "Playwright is not installed (pip install -r requirements-test.txt)"
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM} (Debian: apt-get install -y chromium)"
    return None


@contextlib.contextmanager
def _report(request):
    """Print to the terminal past pytest's capture (stderr: pytest-xdist workers pass it on)."""
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        yield lambda *lines: print(*lines, sep="\n", file=sys.stderr, flush=True)


@pytest.fixture(scope="module")
def browser(request):
    reason = _missing_browser()
    if reason:
        if REQUIRE:
            pytest.fail(f"CNN_BACKPROP_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
        pytest.skip(f"browser test skipped: {reason}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        # Debian's wrapper script; never `playwright install` (it downloads another browser)
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()
            if RESULTS:
                with _report(request) as say:
                    say(*_summary())


@pytest.fixture(scope="module")
def lab(browser, tmp_path_factory):
    """JupyterLab on 127.0.0.1 serving temporary copies of notebooks/*.ipynb; yields (url, token)."""
    root = tmp_path_factory.mktemp("lab")
    served = root / "notebooks"
    served.mkdir()
    for name in NAMES:
        shutil.copy2(NOTEBOOKS / name, served / name)
    control_notebook(served / CONTROL)
    with serve(root, served) as (base, token):
        yield base, token


@contextlib.contextmanager
def _open(browser, lab, notebook):
    """A page with ``notebook`` open, its kernel idle and the file browser showing."""
    base, token = lab
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    try:
        # ?reset: a fresh workspace, so no tab from an earlier test is restored
        page.goto(f"{base}/lab/tree/{notebook}?reset&token={token}")
        page.wait_for_function(KERNEL_IDLE_JS, timeout=60_000, polling=200)
        page.evaluate("() => window.jupyterapp.shell.activateById('filebrowser')")
        page.wait_for_function("() => !window.jupyterapp.shell.leftCollapsed", timeout=10_000)
        yield page
    finally:
        with contextlib.suppress(Exception):  # the kernel would idle on until the server stops
            page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")
        context.close()


def _equations(page, expected, settle_ms=1_000, timeout_s=30):
    """The display equations once MathJax has rendered them all (or their count stopped changing)."""
    deadline, last, since = time.monotonic() + timeout_s, None, time.monotonic()
    while True:
        count = page.evaluate("() => window.jupyterapp.shell.currentWidget.node"
                              ".querySelectorAll('mjx-container[display=\"true\"]').length")  # fmt: skip
        if count != last:
            last, since = count, time.monotonic()
        steady = time.monotonic() - since > settle_ms / 1e3
        if (count >= expected and steady) or time.monotonic() > deadline:
            return page.evaluate(EQUATIONS_JS)
        time.sleep(0.1)


def _display_math_in_source(notebook):
    """How many $$ ... $$ blocks the notebook's Markdown holds (what MathJax should render)."""
    nb = json.loads((NOTEBOOKS / notebook).read_text(encoding="utf-8"))
    return sum("".join(c["source"]).count("$$") // 2 for c in nb["cells"] if c["cell_type"] == "markdown")


def _explorers_in_source(notebook):
    """How many stored outputs are widgets (the explorers), so a widget that never renders is caught."""
    nb = json.loads((NOTEBOOKS / notebook).read_text(encoding="utf-8"))
    outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
    return sum("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)


def _errors(page):
    errors = page.locator(f"{ERROR_OUTPUTS}")
    return [errors.nth(i).inner_text()[:500] for i in range(errors.count())]


def _value(slider):
    """The slider's value as its readout shows it (aria-valuenow is rounded: 1.05 and 1.06 read 1.1)."""
    readout = slider.locator(".widget-readout")
    if readout.count():
        return readout.first.inner_text().strip() or readout.first.input_value().strip()
    return slider.locator(".noUi-handle").first.get_attribute("aria-valuenow")


def _move(page, index, slider, handle, key):
    """Press ``key`` on a slider handle; the round trip in ms until explorer ``index`` shows a new figure."""
    before = page.evaluate(FIGURE_JS, index)
    value = _value(slider)
    t0 = time.perf_counter()
    handle.press(key)
    try:
        page.wait_for_function(
            f"(b) => {{ const s = ({FIGURE_JS})({index}); return s !== null && s !== b; }}",
            arg=before,
            timeout=MOVE_TIMEOUT_MS,
            polling="raf",
        )
    except Exception as err:  # playwright's TimeoutError
        raise AssertionError(f"no new figure within {MOVE_TIMEOUT_MS} ms") from err
    ms = 1e3 * (time.perf_counter() - t0)
    if page.evaluate(FIGURE_JS, index) == "error":
        raise AssertionError("the explorer shows an error")
    after = _value(slider)
    if after == value:
        raise AssertionError(f"the slider did not move with {key} (value {value})")
    return ms, value, after


def _move_every_slider(page, say):
    """Each slider of each explorer one step (and back), timed; returns (explorers, failures)."""
    explorers, failures = [], []
    interacts = page.locator(".widget-interact")
    for i in range(interacts.count()):
        widget = interacts.nth(i)
        sliders = widget.locator(".widget-slider")
        entry = {"explorer": i, "sliders": [], "round_trips": []}
        for j in range(sliders.count()):
            slider = sliders.nth(j)
            name = slider.locator("label.widget-label").first.inner_text().strip() or f"slider {j}"
            handle = slider.locator(".noUi-handle").first
            handle.scroll_into_view_if_needed()
            now, top = (float(handle.get_attribute(a)) for a in ("aria-valuenow", "aria-valuemax"))
            at_max = now >= top  # aria rounds (1.46 of 1.5 reads 1.5): then ArrowLeft, which moves too
            forward, back = ("ArrowLeft", "ArrowRight") if at_max else ("ArrowRight", "ArrowLeft")
            handle.focus()
            times, path = [], []
            try:
                for _ in range(MOVES):
                    for key in (forward, back):
                        ms, before, after = _move(page, i, slider, handle, key)
                        times.append(ms)
                        path += [before, after] if not path else [after]
            except AssertionError as err:
                failures.append(f"explorer {i}, slider {name!r}: {err}")
                say(f"    explorer {i} slider {name:<14} FAILED: {err}")
                continue
            entry["sliders"].append(name)
            entry["round_trips"] += times
            say(
                f"    explorer {i} slider {name:<14} {' -> '.join(path)}: "
                f"round trips {', '.join(f'{t:.0f}' for t in times)} ms"
            )
        if not entry["sliders"] and sliders.count() == 0:
            failures.append(f"explorer {i} has no slider")
        explorers.append(entry)
    return explorers, failures


@pytest.mark.parametrize("notebook", NAMES, ids=[n.removesuffix(".ipynb") for n in NAMES])
def test_notebook_runs_and_every_slider_redraws(lab, browser, notebook, request):
    stem = notebook.removesuffix(".ipynb")
    with _open(browser, lab, notebook) as page, _report(request) as say:
        t0 = time.perf_counter()
        # resolves once every cell has run
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        page.wait_for_function(KERNEL_IDLE_JS, timeout=120_000, polling=200)
        run_s = time.perf_counter() - t0
        expected_explorers = _explorers_in_source(notebook)
        if expected_explorers:
            page.wait_for_function(
                "(n) => window.jupyterapp.shell.currentWidget.node"
                ".querySelectorAll('.widget-interact img.widget-image').length >= n",
                arg=expected_explorers,
                timeout=30_000,
            )
        errors = _errors(page)
        equations = _equations(page, _display_math_in_source(notebook))
        clipped = [e for e in equations if e["overflow"] > CLIP_TOLERANCE_PX]
        wide = [e for e in equations if e["width"] > e["column"] + CLIP_TOLERANCE_PX]
        say(
            f"\n[browser] {stem}: ran in {run_s:.1f} s; {len(errors)} error outputs; "
            f"{len(clipped)} of {len(equations)} display equations clipped at {VIEWPORT['width']}x"
            f"{VIEWPORT['height']}, {len(wide)} wider than the text column "
            f"(source: {_display_math_in_source(notebook)} $$ blocks)"
        )
        for e in wide:
            what = "clipped" if e in clipped else "in the padding"
            say(
                f"    {what}: cell {e['cell']}, {e['width']:.0f} px, column {e['column']:.0f} px, "
                f"box {e['box']} px: {e['text']}"
            )
        explorers, failures = _move_every_slider(page, say)
        shown = page.locator(".widget-interact").count()
        if shown != expected_explorers:
            failures.append(f"{shown} explorers shown, {expected_explorers} stored in the notebook")
        for entry in explorers:
            entry["notebook"] = stem
        RESULTS[stem] = explorers
        errors += [e for e in _errors(page) if e not in errors]
    assert not errors, f"{notebook} shows error/stderr output:\n" + "\n---\n".join(errors)
    assert not failures, f"{notebook}: " + "; ".join(failures)
    if FAIL_ON_CLIPPED:
        assert not clipped, f"{notebook}: {len(clipped)} display equations are wider than their cell"


def test_clip_measure_on_known_equations(lab, browser, request):
    """The clipped-equation measure itself: a short formula fits, an 80-term sum does not."""
    with _open(browser, lab, CONTROL) as page, _report(request) as say:
        narrow, wide = _equations(page, expected=2)
        say(
            f"\n[browser] clip measure check: narrow {narrow['width']:.0f} px, wide {wide['width']:.0f} px, "
            f"box {wide['box']} px at {VIEWPORT['width']}x{VIEWPORT['height']}, file browser open"
        )
    assert narrow["overflow"] <= CLIP_TOLERANCE_PX < wide["overflow"]
    assert narrow["width"] < narrow["box"] < wide["width"]
    # the box is the Markdown text column: narrower than the window by the sidebar and margins
    assert 500 < wide["box"] < VIEWPORT["width"] - 250


def _summary():
    """The median round trip per explorer, against the target."""
    lines = [
        "",
        f"[browser] slider round trips (key press to new image), median per explorer; "
        f"target <= {ROUND_TRIP_TARGET_MS} ms (reported, not a gate)",
        f"    {'notebook':<30} {'sliders':<48} {'moves':>5} {'median':>7} {'max':>6}",
    ]
    for stem, explorers in RESULTS.items():
        for e in explorers:
            if not e["round_trips"]:
                continue
            median = statistics.median(e["round_trips"])
            flag = "" if median <= ROUND_TRIP_TARGET_MS else "  > target"
            lines.append(
                f"    {stem:<30} {', '.join(e['sliders'])[:48]:<48} {len(e['round_trips']):>5} "
                f"{median:>5.0f}ms {max(e['round_trips']):>4.0f}ms{flag}"
            )
    return lines
