"""Lesson 08 on the real cluster: start state, reference solutions, every mistake in
tests/mistakes/lesson-08/, the request form's submit, and a reset that removes only the
lesson's team pools."""

from __future__ import annotations

import pytest

from checks import lesson_08
from workshop.instances import catalog
from workshop.grading import core as grading, lessons
from workshop.k8s import kube
from workshop.platform import defaults as platform
from workshop.platform import request as pr
from workshop.lab.request_form import request_form

from lesson_harness import check_start_state, cli, grade_checks

pytestmark = pytest.mark.cluster
LESSON = 8


def test_start_state_does_not_pass(cluster):
    results = {r.id: r for r in check_start_state(8).results}
    assert "lesson-08" in results["8.1.deployment"].hint
    assert "team-vision" in results["8.2.nodepool"].hint
    assert results["8.1.no-custom-pool"].status is grading.Status.MISSING


def test_the_forms_submit_applies_the_generated_pool(cluster):
    """What the platform team does with a request: the pool is exactly the generator's,
    and every check on the pool passes."""
    lessons.reset(8)
    req = lesson_08.VISION
    form = request_form(team=req.team, vcpu=req.vcpu, memory_gi=req.memory_gi, gpus=req.gpus,
                        families=req.families, taints="\n".join(req.taints),
                        labels="\n".join(req.labels))
    applied = form.submit()
    assert [str(a) for a in applied] == ["nodepool/team-vision created"], applied
    live = kube.get(platform.NODEPOOL_API, "NodePool", "team-vision")
    managers = {m["manager"] for m in live["metadata"]["managedFields"]}
    assert pr.REQUESTS_MANAGER in managers
    pool_checks = [c.id for c in grading.find_exercise("8.2").checks
                   if c.id.split(".")[-1] in ("ready-pool", "families", "capacity", "labels",
                                              "taints", "limits", "conventions")]
    results = grade_checks("8.2", pool_checks)
    failing = [f"{r.id}: {r.found} / {r.hint}" for r in results.values()
               if r.status is not grading.Status.PASS]
    assert not failing, failing


def test_cli_request_apply_applies_the_same_pool(cluster):
    lessons.reset(8)
    result = cli("request", "--team", "etl", "--vcpu", "32", "--memory-gi", "256",
                 "--families", "r6g", "--capacity-type", "spot",
                 "--taint", "team=etl:NoSchedule", "--label", "team=etl", "--apply")
    assert result.returncode == 0, result.stderr
    assert "nodepool/team-etl created" in result.stdout
    live = kube.get(platform.NODEPOOL_API, "NodePool", "team-etl")
    want = pr.nodepool(lesson_08.ETL)["spec"]
    assert live["spec"]["template"]["spec"]["requirements"] == \
        want["template"]["spec"]["requirements"]
    assert live["spec"]["limits"] == want["limits"]


def test_reset_removes_only_the_lessons_pools(cluster):
    pr.submit(lesson_08.VISION, catalog.load_catalog())
    defaults = {n: kube.get(platform.NODEPOOL_API, "NodePool", n)["metadata"]["uid"]
                for n in platform.DEFAULT_NODEPOOLS}
    result = cli("reset", "8")
    assert result.returncode == 0 and "NodePool team-vision" in result.stdout, result.stdout
    assert kube.get(platform.NODEPOOL_API, "NodePool", "team-vision") is None
    assert {n: kube.get(platform.NODEPOOL_API, "NodePool", n)["metadata"]["uid"]
            for n in platform.DEFAULT_NODEPOOLS} == defaults


# The tests every lesson shares (its reference solution, each of its mistakes), imported
# last so pytest runs them after the tests above.
from lesson_harness import (  # noqa: E402,F401
    test_mistake_is_diagnosed, test_reference_solution_passes)
