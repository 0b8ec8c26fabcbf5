"""A throw-away JupyterLab for the browser tests: its settings, a control notebook, the server itself."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request

import pytest


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_settings(root):
    """JupyterLab user settings for the test: no news toast; every cell attached to the page.

    JupyterLab's default windowing mode skips the layout of cells out of view, which would hide
    the equations and widgets from the measurements; "none" lays out all of them.
    """
    for name, value in [
        ("apputils-extension/notification", {"fetchNews": "false"}),
        ("notebook-extension/tracker", {"windowingMode": "none"}),
    ]:
        path = root / "settings" / "@jupyterlab" / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))


def control_notebook(path):
    """A notebook with one narrow and one far too wide display equation (the clip measure's check)."""
    wide = " + ".join(f"x_{{{i}}} w_{{{i}}}" for i in range(80))
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": ["$$\n", "y = x \\star w\n", "$$"]},
        {"cell_type": "markdown", "metadata": {}, "source": ["$$\n", f"y = {wide}\n", "$$"]},
    ]
    meta = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    path.write_text(json.dumps({"cells": cells, "metadata": meta, "nbformat": 4, "nbformat_minor": 5}))


@contextlib.contextmanager
def serve(root, served):
    """JupyterLab on 127.0.0.1 (random port and token) serving the folder ``served``; yields (url, token).

    Its settings, runtime and workspaces live under ``root``; it is stopped on exit.
    """
    write_settings(root)
    port, token = free_port(), secrets.token_hex(16)
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
        yield base, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
