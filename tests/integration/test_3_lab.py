"""`make lab` in the background: answers on 127.0.0.1 with token auth, stops cleanly."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from workshop.stack import jupyter, procs

pytestmark = pytest.mark.cluster


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_lab_serves_notebooks_with_a_token_and_stops_cleanly(cluster):
    port = jupyter.pick_port(8931)
    proc = subprocess.Popen([sys.executable, "-m", "workshop.cli", "lab", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = ""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and "token=" not in url:
            url = proc.stdout.readline()
            assert url or proc.poll() is None, proc.stderr.read()
        url = url.strip()
        assert url.startswith(f"http://127.0.0.1:{port}/lab?token=")
        token = url.split("token=", 1)[1]
        assert status(url) == 200
        assert status(f"http://127.0.0.1:{port}/api/contents") == 403  # no token, no entry
        listing = status(f"http://127.0.0.1:{port}/api/contents?token={token}")
        assert listing == 200
        holder = procs.port_holder(port)
        assert holder is not None
        # Loopback only: the port is not open on the machine's other address.
        other = socket.gethostbyname(socket.gethostname())
        if not other.startswith("127."):
            with pytest.raises(OSError):
                socket.create_connection((other, port), timeout=2).close()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert not procs.port_in_use(port), "JupyterLab kept running after `make lab` stopped"
