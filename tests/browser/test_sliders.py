"""The sliders as a learner meets them: a real browser drives JupyterLab.

For 03_stride and 04_padding, a headless Chromium (Debian's, driven by Playwright) opens a
temporary copy of the notebook in a JupyterLab bound to 127.0.0.1 with a random token and
port, runs all cells, moves the slider named ``stride`` / ``padding`` with the keyboard,
and checks that the figure image changes and that no error or stderr output appears. It
prints the slider round trip (key press to new image) and saves a screenshot in pytest's
tmp dir.

Copies, not the committed notebooks: JupyterLab autosaves, which would write widget state
and new outputs into the course.

Without Chromium (/usr/bin/chromium) or Playwright the test is skipped with the reason; with
CNN_BACKPROP_REQUIRE_BROWSER=1 (set by .ci/run) it fails instead, so CI always runs it.
"""

from __future__ import annotations

import importlib.util
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
CHROMIUM = Path("/usr/bin/chromium")
REQUIRE = os.environ.get("CNN_BACKPROP_REQUIRE_BROWSER") == "1"
CASES = [("03_stride.ipynb", "stride"), ("04_padding.ipynb", "padding")]

# The notebook's kernel is connected and idle, and no cell is waiting or running ("[*]").
KERNEL_IDLE_JS = """() => {
  const nb = window.jupyterapp?.shell?.currentWidget;
  const k = nb?.sessionContext?.session?.kernel;
  if (!k || k.connectionStatus !== 'connected' || k.status !== 'idle') return false;
  const prompts = [...document.querySelectorAll('.jp-InputArea-prompt')].map(p => p.textContent);
  return !prompts.some(t => t.includes('*'));
}"""

# The src of the figure in the (current notebook's) interact widget that holds a slider with this description.
FIGURE_SRC_JS = """(desc) => {
  const nb = window.jupyterapp.shell.currentWidget;
  for (const w of nb.node.querySelectorAll('.widget-interact')) {
    const labels = [...w.querySelectorAll('.widget-slider label.widget-label')]
      .map(l => l.textContent.trim());
    if (labels.includes(desc)) {
      const img = w.querySelector('.widget-output img');
      return img ? img.getAttribute('src') : null;
    }
  }
  return null;
}"""

ERROR_OUTPUTS = (
    '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"], '
    '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"]'
)


def _missing_browser():
    """Why the browser test cannot run here, or None."""
    if importlib.util.find_spec("playwright") is None:
        return "Playwright is not installed (pip install playwright~=1.65.2)"
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM} (Debian: apt-get install -y chromium)"
    return None


@pytest.fixture(scope="module")
def browser():
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


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(browser, tmp_path_factory):
    """JupyterLab on 127.0.0.1 serving temporary copies of notebooks/*.ipynb; yields (url, root)."""
    root = tmp_path_factory.mktemp("lab")
    served = root / "notebooks"
    served.mkdir()
    for nb in NOTEBOOKS.glob("*.ipynb"):
        shutil.copy2(nb, served / nb.name)
    news = root / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True)
    news.write_text('{"fetchNews": "false"}')  # no "get notified about Jupyter news?" toast
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(root / "runtime"), JUPYTER_CONFIG_DIR=str(root / "config"))
    cmd = [
        sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
        "--ServerApp.ip=127.0.0.1", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
        "--allow-root", f"--ServerApp.root_dir={served}", "--LabApp.expose_app_in_browser=True",
        f"--LabApp.workspaces_dir={root / 'workspaces'}", f"--LabApp.user_settings_dir={root / 'settings'}",
    ]  # fmt: skip
    log = open(root / "jupyterlab.log", "w")  # noqa: SIM115 (closed in finally)
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=served)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                output = (root / "jupyterlab.log").read_text()
                pytest.fail(f"JupyterLab exited early:\n{output}", pytrace=False)
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("JupyterLab did not answer /api/status within 60 s", pytrace=False)
            time.sleep(0.25)
        yield base, token, served
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _figure_src(page, desc):
    return page.evaluate(FIGURE_SRC_JS, desc)


@pytest.mark.parametrize(("notebook", "slider"), CASES, ids=[c[0] for c in CASES])
def test_slider_redraws_figure_without_errors(lab, browser, notebook, slider, tmp_path, capsys):
    if not (NOTEBOOKS / notebook).exists():
        pytest.fail(f"notebooks/{notebook} does not exist", pytrace=False)
    base, token, served = lab
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        # ?reset: a fresh workspace, so no tab from an earlier test is restored
        page.goto(f"{base}/lab/tree/{notebook}?reset&token={token}")
        page.wait_for_function(KERNEL_IDLE_JS, timeout=60_000, polling=200)
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        # the widget appears once its cell has run; then wait for the whole notebook to finish
        label = page.locator("label.widget-label", has_text=re.compile(rf"^\s*{slider}\s*$"))
        slider_box = page.locator(".widget-interact .widget-slider").filter(has=label, visible=True)
        slider_box.first.wait_for(state="visible", timeout=60_000)
        page.wait_for_function(KERNEL_IDLE_JS, timeout=120_000, polling=200)
        page.wait_for_function(f"() => ({FIGURE_SRC_JS})({slider!r}) !== null", timeout=30_000)
        handle = slider_box.first.locator(".noUi-handle")
        interact = page.locator(".widget-interact", has=label).filter(visible=True)
        figure = interact.locator(".widget-output img")
        handle.scroll_into_view_if_needed()
        start = float(handle.get_attribute("aria-valuenow"))
        forward, back = ("ArrowLeft", "ArrowRight")
        if start < float(handle.get_attribute("aria-valuemax")):
            forward, back = back, forward
        values, round_trips = [start], []
        handle.focus()
        for key in (forward, back, forward):  # three moves: a median, and back-and-forth both redraw
            before = _figure_src(page, slider)
            t0 = time.perf_counter()
            handle.press(key)
            page.wait_for_function(
                f"(b) => {{ const s = ({FIGURE_SRC_JS})({slider!r}); return s !== null && s !== b; }}",
                arg=before,
                timeout=30_000,
                polling="raf",
            )
            round_trips.append(1e3 * (time.perf_counter() - t0))
            values.append(float(handle.get_attribute("aria-valuenow")))
            assert values[-1] != values[-2], f"the {slider} slider did not move with {key}"
        page.wait_for_function(KERNEL_IDLE_JS, timeout=30_000, polling=200)
        figure.first.scroll_into_view_if_needed()
        shot = tmp_path / f"{Path(notebook).stem}_{slider}.png"
        page.screenshot(path=str(shot))
        errors = page.locator(ERROR_OUTPUTS)
        texts = [errors.nth(i).inner_text()[:500] for i in range(errors.count())]
        assert not texts, f"{notebook} shows error/stderr output:\n" + "\n---\n".join(texts)
        with capsys.disabled():
            print(
                f"\n[browser] {notebook}: {slider} {' -> '.join(f'{v:g}' for v in values)}; "
                f"round trip (key press to new image) median {sorted(round_trips)[1]:.0f} ms, "
                f"all {', '.join(f'{t:.0f}' for t in round_trips)} ms; screenshot {shot}"
            )
    finally:
        context.close()
