"""Lesson 06 on the real cluster: start state, reference solution (GPU pods on GPU nodes,
team-ml-gpu stopped by its GPU limit), every mistake in tests/mistakes/lesson-06/."""

from __future__ import annotations

import pytest

from workshop.k8s import kube, observe
from workshop.grading import lessons

from lesson_harness import check_start_state

pytestmark = pytest.mark.cluster
LESSON = 6


def test_start_state_does_not_pass(cluster):
    results = {r.id: r for r in check_start_state(6).results}
    assert "team-ml-gpu" in results["6.3.nodepool"].hint
    assert "lesson-06" in results["6.1.deployment"].hint


# The kwok provider records a node's capacity as its pods' requests; the kit's kwok Stage
# (cluster/kwok-stages.yaml) makes it the instance's, as on EKS.
def test_gpu_pool_usage_counts_the_instance_not_the_pods(cluster):
    """As on EKS: one trainer pod (2 GPUs) on a g5.12xlarge uses 4 GPUs of the pool's limit."""
    lessons.reset(6)
    objs = kube.load_manifest_files(lessons.solution_files("6.3"))
    for obj in objs:
        if obj["kind"] == "Deployment":
            obj["spec"]["replicas"] = 1
    kube.apply(objs, field_manager="lesson-tests", default_namespace="lesson-06")
    observe.wait_pods_ready("lesson-06", "app=trainer", 1, timeout_s=60)
    kube.wait_until(lambda: observe.pool_usage("team-ml-gpu").used.get("nvidia.com/gpu") == "4",
                    15, 0.5, "team-ml-gpu's usage to count the instance's 4 GPUs")
    assert observe.pool_usage("team-ml-gpu").instance_types == {"g5.12xlarge": 1}


from lesson_harness import (  # noqa: E402,F401
    test_mistake_is_diagnosed, test_reference_solution_passes)
