"""One lifecycle verb at a time per cluster: `up`, `down`, `clean-cluster` (and `lab`'s up).

Two `make up` at once (say `make lab` in one terminal, `make up` in another) would both run
`kwokctl start`: the second start's processes die on ports the first one's hold and
overwrite the pid files, leaving live components the kit lists as stopped. A lock on a file
in the state folder makes the second caller wait, and say so. filelock takes an OS lock
(flock on Unix), which the OS releases when its holder dies: a crashed `up` never leaves
the cluster locked.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Iterator

from filelock import FileLock, Timeout

from workshop import paths
from workshop.errors import WorkshopError

# Long enough for a cold build inside someone else's `up` (~10 minutes on 2 cores).
WAIT_S = 1800


def _lock_file():
    return paths.STATE / "lifecycle.lock"


def _holder_file():
    return paths.STATE / "lifecycle.holder"


_locks: dict[str, FileLock] = {}


def _lock() -> FileLock:
    path = str(_lock_file())
    if path not in _locks:  # one object per path: re-entering from the same process is free
        _locks[path] = FileLock(path)
    return _locks[path]


@contextlib.contextmanager
def exclusive(verb: str, wait_s: float = WAIT_S) -> Iterator[None]:
    """Hold the cluster's lifecycle lock while `verb` runs; wait (and say so) if another
    command holds it."""
    paths.STATE.mkdir(parents=True, exist_ok=True)
    os.chmod(paths.STATE, 0o700)
    lock = _lock()
    try:
        lock.acquire(timeout=0)
    except Timeout:
        holder = _read_holder()
        print(f"Another workshop command ({holder}) is starting or stopping this cluster; "
              f"`{verb}` waits for it to finish ...", file=sys.stderr, flush=True)
        try:
            lock.acquire(timeout=wait_s)
        except Timeout:
            raise WorkshopError(
                f"`{verb}` waited {wait_s / 60:.0f} minutes for {holder} to finish",
                fix="if that command is stuck, stop it (Ctrl-C in its terminal), then run "
                f"`make {verb}` again",
            ) from None
    try:
        if lock.lock_counter == 1:
            _holder_file().write_text(f"`workshop {verb}`, pid {os.getpid()}")
        yield
    finally:
        lock.release()


def _read_holder() -> str:
    try:
        return _holder_file().read_text().strip() or "another command"
    except OSError:
        return "another command"
