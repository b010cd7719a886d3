"""Headless Chromium through Playwright, with the system's browser (no browser download:
the kit never fetches one). Used by the page test, `make bench` and the docs screenshot."""

from __future__ import annotations

import contextlib
import os
import shutil
from typing import Iterator

CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")


def executable() -> str | None:
    env = os.environ.get("WORKSHOP_CHROMIUM")
    for path in ((env,) if env else ()) + CANDIDATES:
        if path and os.access(path, os.X_OK):
            return path
    return shutil.which("chromium")


def unavailable() -> str | None:
    """None when a page can be opened here, else why not (for a skip message)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[test]')"
    if executable() is None:
        return ("no Chromium found at " + ", ".join(CANDIDATES) +
                " (apt-get install chromium, or set WORKSHOP_CHROMIUM)")
    return None


@contextlib.contextmanager
def page(width: int = 1400, height: int = 900) -> Iterator:
    why = unavailable()
    if why:
        raise RuntimeError(why)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=executable(), args=["--no-sandbox"])
        try:
            ctx = b.new_context(viewport={"width": width, "height": height},
                                accept_downloads=True)
            yield ctx.new_page()
        finally:
            b.close()
