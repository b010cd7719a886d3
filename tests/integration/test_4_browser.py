"""JupyterLab in a real browser: headless Chromium runs lesson 01 in solution mode.

What a learner sees, not what nbval sees: Lab opens with its token, every cell runs,
no cell shows an error, check() renders its report with every check passed, and the live
viewer (a widget fed by watches) shows the new node and then shows it gone after the
scale to zero.

Needs Debian's `chromium` (`apt-get install chromium`, or WORKSHOP_CHROMIUM=/path) and the
`playwright` package (in the kit's test extras); without them the test skips and says why
(workshop/board/browser.py finds the browser). No browser is ever downloaded. VIEWER_SCREENSHOT=docs/x.png
saves a picture of the viewer while it shows nodes.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from workshop.grading import core as grading, lessons
from workshop.stack import jupyter
from workshop import paths
from workshop.board import browser

pytestmark = pytest.mark.cluster

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = "01-first-provisioning.ipynb"
RUN_TIMEOUT_S = 240
GENERAL = "system-service-general-purpose"


@pytest.fixture
def lab(cluster, tmp_path):
    """Lab in solution mode on a copy of the notebooks (Lab autosaves outputs, and
    committed notebooks carry none)."""
    why = browser.unavailable()
    if why:
        pytest.skip(f"the JupyterLab browser test: {why}")
    for n in grading.lesson_numbers():
        lessons.reset(n)
    root = tmp_path / "notebooks"
    shutil.copytree(paths.NOTEBOOKS_DIR, root)
    jupyter._write_overrides()  # no news popup over the notebook, as with `make lab`
    port = jupyter.pick_port(8960)
    token = os.urandom(12).hex()
    argv = [a if not a.startswith("--ServerApp.root_dir=") else f"--ServerApp.root_dir={root}"
            for a in jupyter.command(port, token)]
    # Lab 4 skips rendering cells scrolled out of view; the test watches the viewer cell
    # near the top while later cells run, so render every cell.
    settings = tmp_path / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    env = dict(jupyter.env(), WORKSHOP_SOLUTIONS="1",
               JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"))
    log = (tmp_path / "lab.log").open("w")
    proc = subprocess.Popen(argv, env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while not jupyter.answers(f"{base}/api/status?token={token}"):
        assert proc.poll() is None and time.monotonic() < deadline, \
            (tmp_path / "lab.log").read_text()[-2000:]
        time.sleep(0.2)
    yield base, token
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def _outputs(page) -> str:
    """What the cells printed, for a failure message."""
    texts = page.eval_on_selector_all(".jp-OutputArea-output",
                                      "els => els.map(e => e.innerText.slice(0, 300))")
    return "\n---\n".join(t for t in texts if t.strip())[-3000:]


def _prompts(page) -> list[str]:
    return page.eval_on_selector_all(".jp-CodeCell .jp-InputPrompt",
                                     "els => els.map(e => e.textContent.trim())")


def test_lesson_01_runs_in_chromium_with_a_live_viewer(lab):
    base, token = lab
    with browser.page(1700, 1000) as page:
        page.goto(f"{base}/lab/tree/{NOTEBOOK}?token={token}")
        page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=60_000)
        # The kernel first: before it is Idle, Run All Cells may do nothing.
        page.get_by_text("| Idle").first.wait_for(timeout=90_000)
        for _ in range(3):
            page.click(".lm-MenuBar-item:has-text('Run')")
            page.click(".lm-Menu-item:has-text('Run All Cells')")
            try:
                page.wait_for_function(
                    "() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]"
                    ".some(e => e.textContent.trim() !== '[ ]:')", timeout=10_000)
                break
            except Exception:
                continue

        # The viewer shows Karpenter's new node while the lesson runs.
        row = f".workshop-viewer tr.wv-node[data-pool='{GENERAL}']"
        try:
            page.wait_for_selector(row, state="attached", timeout=120_000)
        except Exception:
            pytest.fail(f"the viewer showed no {GENERAL} node; prompts {_prompts(page)}; "
                        f"outputs:\n{_outputs(page)}")
        shot = os.environ.get("VIEWER_SCREENSHOT")
        if shot:  # once the pods run on the node, so the bars show something
            page.wait_for_selector(".workshop-viewer .wv-pending", state="detached",
                                   timeout=30_000)
            viewer = page.locator(".widget-vbox", has=page.locator(".workshop-viewer")).first
            viewer.scroll_into_view_if_needed()
            viewer.screenshot(path=str(REPO / shot))

        deadline = time.monotonic() + RUN_TIMEOUT_S
        while True:
            prompts = _prompts(page)
            if prompts and all(p not in ("[*]:", "[ ]:", "") for p in prompts):
                break
            errors = page.locator("[data-mime-type='application/vnd.jupyter.error']").count()
            assert not errors, page.locator(
                "[data-mime-type='application/vnd.jupyter.error']").first.inner_text()[:2000]
            assert time.monotonic() < deadline, f"cells still running: {prompts}"
            time.sleep(1)

        errors = page.locator("[data-mime-type='application/vnd.jupyter.error']")
        assert errors.count() == 0, errors.first.inner_text()[:2000]
        # The kit's own error box (a learner-facing message instead of a traceback).
        assert page.locator(".jp-OutputArea-output div[style*='solid #d33']").count() == 0
        statuses = page.eval_on_selector_all(
            ".workshop-report span[title]", "els => els.map(e => e.title)")
        assert statuses and set(statuses) == {"pass"}, statuses
        # Scaled to zero and consolidated: the viewer shows the node gone by itself.
        page.wait_for_selector(row, state="detached", timeout=30_000)
        assert page.locator(".workshop-viewer").count() >= 1
