"""CLI verb for `make bench`: speed and memory numbers as one JSON object (workshop/bench/)."""

from __future__ import annotations

import json
import os
import sys

from workshop import paths


def _bench(args) -> int:
    from workshop.bench import run

    if paths.STATE != run.BENCH_STATE:
        # Never measure (or delete) the learner's cluster: run again on the bench's own
        # state folder; every module reads its paths at import.
        env = dict(os.environ, WORKSHOP_STATE=str(run.BENCH_STATE))
        os.execve(sys.executable, [sys.executable, "-m", "workshop.cli", "bench"], env)
    print(json.dumps(run.run(), indent=2))
    return 0


def add_parsers(sub) -> None:
    sub.add_parser("bench", help="speed and memory numbers (one JSON object)")


# The verbs this module adds to `workshop` (read by workshop/cli/__init__.py).
VERBS = {"bench": _bench}
