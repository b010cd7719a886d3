"""Lesson 03 on the real cluster: start state, reference solution (the solver plays the
node agent), every mistake in tests/mistakes/lesson-03/, the node agent helper, and a reset
that removes both NodePools and their nodes."""

from __future__ import annotations

import pytest

from workshop.grading import core as grading, lessons
from workshop.k8s import kube, node_agent, observe, taints
from workshop.platform import defaults as platform
from workshop.errors import WorkshopError

from lesson_harness import check_start_state, cli, grade_checks

pytestmark = pytest.mark.cluster
LESSON = 3
POOL, KEY = "agent-ready", "example.com/agent-not-ready"


def test_start_state_does_not_pass(cluster):
    results = {r.id: r for r in check_start_state(3).results}
    assert "batch" in results["3.1.nodepool"].hint
    assert "lesson-03" in results["3.2.deployment"].hint


def _agent_node() -> dict:
    """Apply 3.3's solution and wait for its node, which arrives with the startup taint."""
    lessons.reset(3)
    lessons.apply_solution("3.3")
    name = kube.wait_until(lambda: node_agent.tainted_nodes(POOL, KEY), 60, 0.5,
                           "the agent-ready node")[0]
    return kube.get("v1", "Node", name)


def test_node_agent_removes_only_its_taint(cluster):
    node = _agent_node()
    name = node["metadata"]["name"]
    # Another taint the agent must leave alone (as if someone else put it there).
    others = [t for t in node["spec"]["taints"] if t["key"] != KEY]
    extra = {"key": "example.com/other", "value": "x", "effect": "NoSchedule"}
    assert kube.json_patch("v1", "Node", name, [
        {"op": "add", "path": "/spec/taints/-", "value": extra}])
    removed = node_agent.remove_taint(name, KEY)
    assert removed == taints.Taint(KEY, "true", "NoSchedule")
    left = kube.get("v1", "Node", name)["spec"]["taints"]
    assert [t["key"] for t in left] == [t["key"] for t in others] + ["example.com/other"]
    # Removing it again says what the node has instead of failing silently.
    with pytest.raises(WorkshopError, match="carries no taint"):
        node_agent.remove_taint(name, KEY)
    assert taints.kubectl_untaint(name, KEY, "NoSchedule") == \
        f"kubectl taint nodes {name} {KEY}:NoSchedule-"


def test_startup_taint_removed_from_nodepool_names_the_stuck_node(cluster):
    # The contract's mistake as it happens: the node exists tainted, then the learner
    # deletes the startup taint from the NodePool instead of from the node.
    name = _agent_node()["metadata"]["name"]
    pool = kube.get(platform.NODEPOOL_API, "NodePool", POOL)
    spec = pool["spec"]["template"]["spec"]
    spec.pop("startupTaints")
    kube.apply([{"apiVersion": platform.NODEPOOL_API, "kind": "NodePool",
                 "metadata": {"name": POOL},
                 "spec": {**pool["spec"], "template": {**pool["spec"]["template"], "spec": spec}}}],
               field_manager=lessons.SOLVER)
    r = grade_checks("3.3", ["3.3.startup-taint"])["3.3.startup-taint"]
    assert r.status is grading.Status.FAIL and name in r.hint and "never frees" in r.hint, r
    assert any(t.key == KEY for t in taints.node_taints(kube.get("v1", "Node", name)))


def test_reset_removes_both_pools_and_their_nodes(cluster):
    lessons.apply_solution("3.1")
    _agent_node()
    result = cli("reset", "3")
    assert result.returncode == 0, result.stderr
    assert "NodePool agent-ready" in result.stdout, result.stdout
    for pool in ("batch", POOL):
        assert kube.get(platform.NODEPOOL_API, "NodePool", pool) is None
        assert not observe.nodeclaims(pool)


# The tests every lesson shares (its reference solution, each of its mistakes), imported
# last so pytest runs them after the start-state test above.
from lesson_harness import (  # noqa: E402,F401
    test_mistake_is_diagnosed, test_reference_solution_passes)
