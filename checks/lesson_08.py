"""Lesson 08, the platform capstone: default or custom? Three teams; the defaults serve the
first, the other two get a custom NodePool as the platform's generator makes it from their
request, and their workloads land there."""

from workshop.builders import gpu, nodepools, workloads
from workshop.grading import core as grading
from workshop.platform import defaults as platform
from workshop.builders import platform as p
from workshop.platform.request import POOL_LABEL, Request

GENERAL = platform.DEFAULT_NODEPOOLS[0]
GPU_TAINT = "nvidia.com/gpu=true:NoSchedule"

# The two requests of the lesson, as the teams send them (the notebook's stories).
VISION = Request("vision", vcpu=64, memory_gi=256, gpus=4, families=("g5",),
                 taints=("team=vision:NoSchedule",), labels=("team=vision",))
ETL = Request("etl", vcpu=32, memory_gi=256, gpus=0, families=("r6g",),
              taints=("team=etl:NoSchedule",), labels=("team=etl",), capacity_types=("spot",))

NODEPOOLS = ["team-storefront", VISION.pool_name, ETL.pool_name]


def _pool_checks(n: str, req: Request) -> list[grading.Check]:
    """The pool is what the generator makes from `req`: one check a fact, each its hint."""
    pool = req.pool_name
    after = {"depends_on": [f"{n}.nodepool"]}
    taints = list(req.taints) + ([GPU_TAINT] if req.gpus else [])
    others = "other teams' GPU pods (they tolerate nvidia.com/gpu)" if req.gpus else \
        "other teams' pods"
    why = {"team": f"no `team={req.team}` taint: {others} can land on this pool; a custom "
                   "pool repels everyone else with the team's taint",
           "nvidia.com/gpu": "no nvidia.com/gpu taint: the platform taints every GPU pool so "
                             "pods that need no GPU stay off these expensive nodes"}
    limits = {"cpu": str(req.vcpu), "memory": f"{req.memory_gi}Gi"}
    if req.gpus:
        limits["nvidia.com/gpu"] = str(req.gpus)
    return [
        nodepools.nodepool_exists(f"{n}.nodepool", pool),
        nodepools.nodepool_ready(f"{n}.ready-pool", pool, **after),
        p.nodepool_families(f"{n}.families", pool, list(req.families), **after),
        p.nodepool_capacity_types(f"{n}.capacity", pool, list(req.capacity), **after),
        nodepools.nodepool_template_labels(f"{n}.labels", pool,
                                           {"team": req.team, POOL_LABEL: pool}, **after),
        p.nodepool_taints(f"{n}.taints", pool, taints, why, **after),
        nodepools.nodepool_limits(f"{n}.limits", pool, limits, **after),
        p.nodepool_as_generated(f"{n}.conventions", req, **after),
    ]


def _workload_checks(n: str, app: str, req: Request, replicas: int, misplaced: str,
                     extra: list[grading.Check]) -> list[grading.Check]:
    after = {"depends_on": [f"{n}.deployment"]}
    taints = list(req.taints) + ([GPU_TAINT] if req.gpus else [])
    return [
        *workloads.learner_deployment(n, app, replicas),
        *extra,
        p.pod_template_tolerates(f"{n}.tolerations", app, taints, **after),
        workloads.pod_template_requires_label(
            f"{n}.selector", app, "team", [req.team], pool=req.pool_name, **after,
            unconstrained_hint=f"no selector on `team: {req.team}`: nothing keeps the pods on "
            f"{req.pool_name}"),
        workloads.pods_ready_on_pool(f"{n}.ready", app, replicas, req.pool_name,
                                     depends_on=[f"{n}.deployment", f"{n}.replicas"],
                                     misplaced_hint=misplaced),
    ]


LESSON = grading.Lesson(8, "Capstone: default or custom?", [
    grading.Exercise("8.1", "storefront: the defaults serve it", [
        *workloads.learner_deployment("8.1", "storefront", 3, cpu="1", memory="2Gi"),
        p.nodepool_absent(
            "8.1.no-custom-pool", "team-storefront", depends_on=["8.1.deployment"],
            hint="the defaults serve this: 1 CPU and 2Gi pods need nothing special, and a "
                 "dedicated pool wastes capacity (its own half-empty nodes, limits to tend); "
                 f"delete it and use {GENERAL}"),
        workloads.pods_ready_on_pool(
            "8.1.ready", "storefront", 3, GENERAL,
            depends_on=["8.1.deployment", "8.1.replicas"],
            misplaced_hint=f"the pods run on {{where}}: drop the selector, {GENERAL} serves "
            "them"),
    ]),
    grading.Exercise("8.2", "vision: a GPU team's pool, as requested", [
        *_pool_checks("8.2", VISION),
        *_workload_checks(
            "8.2", "vision-api", VISION, 2,
            "{where} serves these pods and team-vision sits unused: select `team: vision`",
            [gpu.container_gpu_limit("8.2.gpu", "vision-api", 1,
                                     depends_on=["8.2.deployment"])]),
    ]),
    grading.Exercise("8.3", "etl: spot Graviton for a batch team", [
        *_pool_checks("8.3", ETL),
        *_workload_checks(
            "8.3", "etl", ETL, 3,
            "{where} serves these pods and team-etl sits unused: select `team: etl`",
            [workloads.container_requests("8.3.requests", "etl", cpu="2", memory="12Gi",
                                          depends_on=["8.3.deployment"])]),
    ]),
])
