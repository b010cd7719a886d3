"""Lesson 07 on the real cluster: start state, reference solution (consolidation, drift,
do-not-disrupt and expiry watched for real), every mistake in tests/mistakes/lesson-07/,
the one mistake a manifest cannot make (a node labelled by hand), and reset."""

from __future__ import annotations

import pytest

from workshop.grading import core as grading, lessons
from workshop.k8s import kube, observe
from workshop import paths
from workshop.platform import defaults as platform

from lesson_harness import check_start_state, cli, grade_checks

pytestmark = pytest.mark.cluster
LESSON = 7
POOLS = ("steady", "short-lived")


def test_start_state_does_not_pass(cluster):
    results = {r.id: r for r in check_start_state(7).results}
    assert "steady" in results["7.1.nodepool"].hint
    assert "lesson-07" in results["7.3.deployment"].hint
    assert "short-lived" in results["7.4.nodepool"].hint


def test_label_changed_on_nodes_by_hand_is_not_drift(cluster):
    # A learner's `kubectl label node ... revision=2`: the template still says "1".
    lessons.reset(7)
    step1 = paths.SOLUTIONS_DIR / "lesson-07" / "7.1-1.yaml"
    pool = [o for o in kube.load_manifest_files([step1]) if o["kind"] == "NodePool"]
    kube.apply(pool, field_manager="lesson-tests")
    kube.apply([{"apiVersion": "v1", "kind": "Pod",
                 "metadata": {"name": "one", "namespace": "lesson-07"},
                 "spec": {"nodeSelector": {"tier": "steady"},
                          "terminationGracePeriodSeconds": 0,
                          "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10",
                                          "resources": {"requests": {"cpu": "100m"}}}]}}],
               field_manager="lesson-tests")
    # Ready: its node is registered to its NodeClaim (a Node alone is not yet the pool's).
    pod = observe.wait_pods_ready("lesson-07", None, 1, 60)[0]
    kube.call(kube.core().patch_node, pod["spec"]["nodeName"],
              {"metadata": {"labels": {"revision": "2"}}})
    r = grade_checks("7.2", ["7.2.revision"])["7.2.revision"]
    assert r.status is grading.Status.FAIL, r
    assert "by hand" in r.hint and "not drift" in r.hint, r
    lessons.reset(7)


def test_reset_removes_only_the_lessons_nodepools(cluster):
    lessons.apply_solution("7.2")
    before = {n: kube.get(platform.NODEPOOL_API, "NodePool", n)["metadata"]["uid"]
              for n in platform.DEFAULT_NODEPOOLS}
    result = cli("reset", "7")
    assert result.returncode == 0 and "NodePool steady" in result.stdout, result.stdout
    for pool in POOLS:
        assert kube.get(platform.NODEPOOL_API, "NodePool", pool) is None
        assert not observe.nodeclaims(pool)
    assert {n: kube.get(platform.NODEPOOL_API, "NodePool", n)["metadata"]["uid"]
            for n in platform.DEFAULT_NODEPOOLS} == before


# The tests every lesson shares (its reference solution, each of its mistakes), imported
# last so pytest runs them after the tests above.
from lesson_harness import (  # noqa: E402,F401
    test_mistake_is_diagnosed, test_reference_solution_passes)


def test_finished_lesson_grades_as_finished(cluster):
    # Runs right after the reference solution: 7.3 declares it undoes 7.1 (precious adds a
    # node) and 7.2 (revision "3"), yet a lesson solved in order grades as finished.
    whole = lessons.grade(7)
    assert whole.passed, grading.render_text(whole)
    carried = {r.id.rsplit(".", 1)[0] for r in whole.results if "undoes" in r.found}
    assert carried == {"7.1", "7.2"}, grading.render_text(whole)
