"""Kubernetes' toleration rules as workshop.k8s.taints implements them (the graders and the
node agent helper rely on them), and the spread check's label-selector reading."""

from __future__ import annotations

import pytest

from workshop.builders.spread import _selects
from workshop.k8s.taints import Taint, describe_toleration, kubectl_untaint, tolerates, value_hint

BATCH = Taint("workload", "batch", "NoSchedule")


@pytest.mark.parametrize("toleration, ok", [
    ({"key": "workload", "operator": "Equal", "value": "batch", "effect": "NoSchedule"}, True),
    ({"key": "workload", "value": "batch", "effect": "NoSchedule"}, True),   # Equal by default
    ({"key": "workload", "operator": "Exists", "effect": "NoSchedule"}, True),
    ({"key": "workload", "operator": "Exists"}, True),                       # any effect
    ({"operator": "Exists"}, True),                                          # everything
    ({"key": "workload", "operator": "Equal", "effect": "NoSchedule"}, False),  # no value
    ({"key": "workload", "operator": "Equal", "value": "batch", "effect": "NoExecute"}, False),
    ({"key": "workloads", "operator": "Exists"}, False),
    ({"key": "workload", "value": "bacth", "effect": "NoSchedule"}, False),
])
def test_tolerates_follows_kubernetes(toleration, ok):
    assert tolerates(toleration, BATCH) is ok


def test_taint_and_toleration_read_as_kubectl_writes_them():
    assert str(BATCH) == "workload=batch:NoSchedule"
    assert str(Taint("example.com/x", "", "NoSchedule")) == "example.com/x:NoSchedule"
    assert describe_toleration({"key": "workload", "operator": "Exists"}) == \
        "workload Exists (any effect)"
    assert kubectl_untaint("n1", "example.com/x", "NoSchedule") == \
        "kubectl taint nodes n1 example.com/x:NoSchedule-"


@pytest.mark.parametrize("selector, ok", [
    ({"matchLabels": {"app": "web"}}, True),
    ({"matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]}, True),
    ({"matchLabels": {"app": "webapp"}}, False),
    (None, False),                                # a spread without a selector counts nothing
])
def test_spread_selector_matches_like_kubernetes(selector, ok):
    assert _selects(selector, {"app": "web", "tier": "front"}) is ok


def test_a_taint_without_its_value_is_named_as_missing():
    have, want = Taint("nvidia.com/gpu", "", "NoSchedule"), Taint("nvidia.com/gpu", "true", "NoSchedule")
    hint = value_hint(have, want)
    assert "has no value" in hint and "`nvidia.com/gpu:NoSchedule`" in hint and "``" not in hint
    # ...which is why the value matters: an Equal toleration of "true" does not tolerate it.
    assert not tolerates({"key": "nvidia.com/gpu", "operator": "Equal", "value": "true"}, have)


def test_a_misspelt_value_is_named():
    hint = value_hint(Taint("workload", "bacth", "NoSchedule"), BATCH)
    assert "has value `bacth`" in hint

