"""Lesson 05, limits, weights, several NodePools: team-a stops at its limits, and a
lower-weighted spot pool takes what does not fit."""

from workshop.builders import nodepools, workloads
from workshop.grading import core as grading
from workshop.builders import limits as lim

POOL, OVERFLOW = "team-a", "team-a-overflow"
NODEPOOLS = [POOL, OVERFLOW]  # cluster-scoped: reset deletes them with namespace lesson-05

APP = "team-a-app"
LABEL = {"team": "a"}
CAPACITY, CATEGORY = "karpenter.sh/capacity-type", "karpenter.k8s.aws/instance-category"
ASKED = [
    {"key": CAPACITY, "operator": "In", "values": ["on-demand"]},
    {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]},
    {"key": CATEGORY, "operator": "In", "values": ["c", "m"]},
]
AFTER_POOL = {"depends_on": ["5.1.nodepool"]}
AFTER_APP = {"depends_on": ["5.1.deployment"]}
AFTER_OVERFLOW = {"depends_on": ["5.2.nodepool"]}

LESSON = grading.Lesson(5, "Limits, weights, several NodePools", [
    grading.Exercise("5.1", "team-a stops at its limits", [
        *nodepools.learner_nodepool("5.1", POOL),
        nodepools.nodepool_admits_exactly("5.1.offerings", POOL, ASKED,
                                          title="admits exactly amd64 on-demand c and m", **AFTER_POOL),
        nodepools.nodepool_template_labels("5.1.labels", POOL, LABEL, **AFTER_POOL),
        nodepools.nodepool_limits("5.1.limits", POOL, {"cpu": "8", "memory": "32Gi"}, **AFTER_POOL),
        *workloads.learner_deployment("5.1", APP, 10, cpu="1", memory="1Gi"),
        workloads.pod_template_requires_label(
            "5.1.selector", APP, "team", ["a"], pool=[POOL, OVERFLOW], **AFTER_APP,
            unconstrained_hint="no selector: nothing keeps the pods on team-a, so team-a's "
            "limit never bites"),
        lim.pool_stops_at_limit("5.1.limit", APP, POOL,
                                depends_on=["5.1.nodepool", "5.1.deployment", "5.1.replicas"]),
    ]),
    grading.Exercise("5.2", "team-a-overflow takes what team-a cannot", [
        *nodepools.learner_nodepool("5.2", OVERFLOW),
        lim.nodepool_admits_values("5.2.offerings", OVERFLOW,
                                   {CAPACITY: ["spot"], CATEGORY: ["c", "m"]}, **AFTER_OVERFLOW),
        nodepools.nodepool_template_labels(
            "5.2.labels", OVERFLOW, LABEL, **AFTER_OVERFLOW,
            absent_hint="no label `team: a` on its nodes: team-a-app selects `team: a`, so "
            "nothing can use this pool"),
        lim.nodepool_weights_order("5.2.weights", POOL, OVERFLOW, **AFTER_OVERFLOW),
        lim.waits_for_pool_changes(workloads.pods_ready_with_node_label(
            "5.2.all-ready", APP, 10, "team", "a", depends_on=["5.2.nodepool"],
            misplaced_hint="some pods run on nodes without `team: a`: the Deployment's "
            "selector must keep them on the team's pools")),
        lim.pool_filled_first("5.2.fill-order", POOL, OVERFLOW, depends_on=["5.2.all-ready"]),
    ]),
])
