"""Test session setup.

Tests that need the cluster use the `cluster` fixture: the session builds what is missing,
creates a fresh cluster in its own state folder (.workshop-test/, never the learner's
.workshop/), and deletes it at the end, so `make test` starts and stops everything itself.
"""

from __future__ import annotations

import os
from pathlib import Path

# Before anything imports workshop.paths: a bare `pytest` must never touch (or delete)
# the learner's own cluster.
REPO = Path(__file__).resolve().parent.parent
os.environ.setdefault("WORKSHOP_STATE", str(REPO / ".workshop-test"))

import pytest  # noqa: E402

from workshop.stack import lifecycle
from workshop import paths  # noqa: E402

assert paths.STATE != REPO / ".workshop", "tests must not run against the learner's cluster"


@pytest.fixture(scope="session")
def cluster():
    """A running workshop cluster for the whole session (fresh state)."""
    lifecycle.clean_cluster()
    report = lifecycle.up()
    yield report
    lifecycle.clean_cluster()
