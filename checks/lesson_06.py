"""Lesson 06, GPU scheduling: GPU pods on the platform's GPU pool, a chosen GPU model, and a
team GPU pool whose GPU limit bites."""

from workshop.builders import nodepools, workloads
from workshop.builders import gpu
from workshop.grading import core as grading
from workshop.platform import defaults as platform
from workshop.builders import limits as lim
from workshop.builders import taints

GPU_POOL = platform.DEFAULT_NODEPOOLS[1]
TEAM_POOL = "team-ml-gpu"
NODEPOOLS = [TEAM_POOL]  # cluster-scoped: reset deletes it with namespace lesson-06

INFERENCE, A10G, TRAINER = "gpu-inference", "a10g-inference", "trainer"
TAINT = gpu.GPU_TAINT


def _pod_checks(n: str, app: str, replicas: int, gpus: int) -> list[grading.Check]:
    """What every GPU Deployment of this lesson needs: it exists, asks for its GPUs in limits,
    and tolerates the GPU taint."""
    after = {"depends_on": [f"{n}.deployment"]}
    return [
        *workloads.learner_deployment(n, app, replicas),
        gpu.container_gpu_limit(f"{n}.gpu", app, gpus, **after),
        taints.pods_tolerate(f"{n}.toleration", app, **TAINT, **after),
    ]


AFTER_TEAM_POOL = {"depends_on": ["6.3.nodepool"]}

LESSON = grading.Lesson(6, "GPU scheduling", [
    grading.Exercise("6.1", "gpu-inference runs on the platform's GPU pool", [
        *_pod_checks("6.1", INFERENCE, 1, 1),
        gpu.pods_reach_gpus("6.1.selection", INFERENCE, depends_on=["6.1.deployment"]),
        gpu.gpu_pods_ready("6.1.ready", INFERENCE, 1, pool=GPU_POOL,
                           depends_on=["6.1.deployment", "6.1.replicas"]),
    ]),
    grading.Exercise("6.2", "a10g-inference runs only on A10G GPUs", [
        *_pod_checks("6.2", A10G, 2, 1),
        gpu.pods_only_on_gpu("6.2.gpu-model", A10G, "a10g", depends_on=["6.2.deployment"]),
        gpu.gpu_pods_ready("6.2.ready", A10G, 2, gpu_name="a10g",
                           depends_on=["6.2.deployment", "6.2.replicas"]),
    ]),
    grading.Exercise("6.3", "team-ml-gpu stops at its GPU limit", [
        *nodepools.learner_nodepool("6.3", TEAM_POOL),
        taints.nodepool_taint("6.3.taint", TEAM_POOL, **TAINT, **AFTER_TEAM_POOL),
        nodepools.nodepool_template_labels("6.3.labels", TEAM_POOL, {"team": "ml"}, **AFTER_TEAM_POOL),
        lim.nodepool_admits_values("6.3.offerings", TEAM_POOL,
                                   {"karpenter.k8s.aws/instance-family": ["g5"]},
                                   **AFTER_TEAM_POOL),
        gpu.nodepool_gpu_limit("6.3.limit", TEAM_POOL, 4, **AFTER_TEAM_POOL),
        *_pod_checks("6.3", TRAINER, 3, 2),
        workloads.pod_template_requires_label(
            "6.3.selector", TRAINER, "team", ["ml"], pool=TEAM_POOL,
            depends_on=["6.3.deployment"],
            unconstrained_hint="no selector on `team: ml`: nothing keeps the pods on "
            "team-ml-gpu, and any GPU pool whose taint they tolerate may take them"),
        lim.pool_stops_at_limit("6.3.stops", TRAINER, TEAM_POOL, unit="pods",
                                depends_on=["6.3.nodepool", "6.3.deployment", "6.3.replicas"]),
    ]),
])
