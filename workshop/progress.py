"""Progress for long work (builds, cluster start, waiting for nodes).

A step prints what it is doing, then keeps showing elapsed time so a 4-minute compile
never looks like a hang: on a terminal one line is rewritten in place, elsewhere (CI,
`make` piped to a file) a line is printed every `every_s` seconds.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from typing import Iterator, TextIO


def _fmt(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


@contextlib.contextmanager
def step(label: str, *, out: TextIO | None = None, every_s: float = 20.0) -> Iterator[dict]:
    """Show `label` with a running clock; the caller may set info["status"] for the end line."""
    out = out or sys.stderr
    tty = out.isatty()
    info: dict = {"status": "done"}
    start = time.monotonic()
    stop = threading.Event()

    def ticker() -> None:
        interval = 1.0 if tty else every_s
        while not stop.wait(interval):
            elapsed = _fmt(time.monotonic() - start)
            if tty:
                out.write(f"\r  {label} ... {elapsed}")
            else:
                out.write(f"  {label} ... still working, {elapsed}\n")
            out.flush()

    out.write(f"  {label} ...{'' if tty else chr(10)}")
    out.flush()
    thread = threading.Thread(target=ticker, daemon=True)
    thread.start()
    try:
        yield info
    except BaseException:
        info["status"] = "failed"
        raise
    finally:
        stop.set()
        thread.join()
        elapsed = _fmt(time.monotonic() - start)
        prefix = "\r" if tty else ""
        out.write(f"{prefix}  {label} ... {info['status']} ({elapsed})\n")
        out.flush()


def say(message: str, *, out: TextIO | None = None) -> None:
    """One line of narration on stderr (stdout is kept for machine-readable output)."""
    out = out or sys.stderr
    out.write(message + "\n")
    out.flush()
