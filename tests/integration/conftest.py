"""Fixtures for tests on the real cluster: a namespace per test, deleted afterwards."""

from __future__ import annotations

import itertools

import pytest

from workshop import kube, observe

_counter = itertools.count()


@pytest.fixture
def ns(cluster, request):
    name = f"t{next(_counter)}-{request.node.name.lower().replace('_', '-')}"[:50].rstrip("-")
    kube.ensure_namespace(name, field_manager="tests")
    yield name
    observe.delete_namespace(name)


def apply(*objs, namespace=None):
    return kube.apply(list(objs), field_manager="tests", default_namespace=namespace)
