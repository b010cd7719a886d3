"""`make lab`: JupyterLab on 127.0.0.1 with token auth, opened on notebooks/.

The kernel is this virtualenv's Python, so `workshop` is importable and KUBECONFIG (set
here) points at the workshop cluster. Lab's news popup is turned off so learners see only
the course.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from workshop import paths
from workshop.stack import procs
from workshop.errors import WorkshopError
from workshop.progress import say

DEFAULT_PORT = 8888

# Settings every learner gets (an app-level overrides.json, not their own settings).
OVERRIDES = {
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false",
                                                    "checkForUpdates": False},
}


def _write_overrides() -> None:
    settings = Path(sys.prefix) / "share" / "jupyter" / "lab" / "settings"
    settings.mkdir(parents=True, exist_ok=True)
    target = settings / "overrides.json"
    current = {}
    if target.exists():
        try:
            current = json.loads(target.read_text())
        except ValueError:
            current = {}
    current.update(OVERRIDES)
    target.write_text(json.dumps(current, indent=2))


def pick_port(preferred: int) -> int:
    for port in range(preferred, preferred + 50):
        if not procs.port_in_use(port):
            return port
    raise WorkshopError(f"ports {preferred}-{preferred + 49} on 127.0.0.1 are all taken",
                        fix="stop another Jupyter, or `make lab LAB_PORT=9999`")


def command(port: int, token: str) -> list[str]:
    argv = [
        sys.executable, "-m", "jupyterlab",
        "--no-browser", "--ip=127.0.0.1", f"--port={port}", "--port-retries=0",
        f"--ServerApp.root_dir={paths.NOTEBOOKS_DIR}",
        f"--IdentityProvider.token={token}",
        "--ServerApp.disable_check_xsrf=False",
    ]
    if os.geteuid() == 0:  # Jupyter refuses to run as root without it (CI runs as root)
        argv.append("--allow-root")
    return argv


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["KUBECONFIG"] = str(paths.KUBECONFIG)
    e["WORKSHOP_STATE"] = str(paths.STATE)
    e["PATH"] = f"{paths.BIN_LINK}{os.pathsep}{e.get('PATH', '')}"
    # Lab's own state (workspaces, settings a learner changes) stays with the checkout.
    e.setdefault("JUPYTERLAB_WORKSPACES_DIR", str(paths.LAB_DIR / "workspaces"))
    return e


def answers(url: str, timeout_s: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as r:
            return r.status == 200
    except OSError:
        return False


def start(port: int | None = None, timeout_s: float = 60) -> tuple[subprocess.Popen, str]:
    """Start JupyterLab in the background; return the process and its URL once it answers."""
    _write_overrides()
    paths.LAB_DIR.mkdir(parents=True, exist_ok=True)
    port = pick_port(port or int(os.environ.get("LAB_PORT") or DEFAULT_PORT))
    token = secrets.token_hex(24)
    log = (paths.LAB_DIR / "jupyterlab.log").open("a")
    proc = subprocess.Popen(command(port, token), env=env(), stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, cwd=paths.NOTEBOOKS_DIR)
    url = f"http://127.0.0.1:{port}/lab?token={token}"
    api = f"http://127.0.0.1:{port}/api/status?token={token}"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = "\n".join((paths.LAB_DIR / "jupyterlab.log").read_text().splitlines()[-8:])
            raise WorkshopError("JupyterLab exited right after starting", detail=tail,
                                fix=f"see {paths.LAB_DIR / 'jupyterlab.log'}")
        if answers(api):
            return proc, url
        time.sleep(0.2)
    proc.terminate()
    raise WorkshopError(f"JupyterLab did not answer within {timeout_s:.0f}s",
                        fix=f"see {paths.LAB_DIR / 'jupyterlab.log'}")


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def serve(port: int | None = None) -> int:
    """Foreground: start Lab, print the URL, stop cleanly on Ctrl-C."""
    proc, url = start(port)
    # `make lab` stopped by a signal other than Ctrl-C (a closed terminal, a test harness)
    # must not leave Lab running on its own.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    say("\nJupyterLab is running. Open this link in your browser:\n")
    print(f"    {url}\n", flush=True)
    say("Start with 00-setup-and-tour.ipynb. Press Ctrl-C here to stop JupyterLab "
        "(the cluster keeps running; `make down` stops it).")
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        say("JupyterLab stopped.")
        return 0
