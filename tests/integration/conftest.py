"""Fixtures for tests on the real cluster: a namespace per test, deleted afterwards."""

from __future__ import annotations

import itertools
import re

import pytest

from workshop.k8s import kube, observe

_counter = itertools.count()


@pytest.fixture
def ns(cluster, request):
    slug = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower().removeprefix("test_"))
    name = f"t{next(_counter)}-{slug}"[:40].strip("-")
    kube.ensure_namespace(name, field_manager="tests")
    yield name
    observe.delete_namespace(name)

