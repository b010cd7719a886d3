"""How the room hangs off the core: the hooks the front ends call `connect()` to fill.

The stack and grading never import the board; the CLI (workshop/cli/__init__.py) and the
notebook surface (workshop/lab) call `connect()` so that a learner who joined a room fetches
its binaries and reports every check to it, from a terminal and from a notebook alike.
"""

from __future__ import annotations

from workshop.board import binaries, room
from workshop.grading import lessons
from workshop.stack import toolchain


def connect() -> None:
    """Idempotent: each hook is registered once, however often this runs."""
    toolchain.add_source(toolchain.BinarySource(
        name="the joined room's board",
        ready=lambda: room.load() is not None,
        fetch=binaries.fetch_for_build,
    ))
    lessons.add_report_listener(_report)


def _report(report) -> None:
    # Looked up at call time, so the room module's current sender is the one used.
    room.report_in_background(report)
