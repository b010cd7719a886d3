"""Lesson 02, your own NodePool: team-payments admits only what the team asked for, and
the team's workload lands only there."""

from workshop.builders import nodepools, workloads
from workshop.grading import core as grading

POOL = "team-payments"
NODEPOOLS = [POOL]  # cluster-scoped: reset deletes it along with namespace lesson-02

APP = "payments-api"
LABEL = {"team": "payments"}
# The offerings the team asked for; any requirements admitting the same set pass.
ASKED = [
    {"key": "kubernetes.io/arch", "operator": "In", "values": ["arm64"]},
    {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["spot"]},
    {"key": "karpenter.k8s.aws/instance-family", "operator": "In", "values": ["m6g", "c6g"]},
]
AFTER_POOL = {"depends_on": ["2.1.nodepool"]}
AFTER_APP = {"depends_on": ["2.2.deployment"]}

LESSON = grading.Lesson(2, "Your own NodePool", [
    grading.Exercise("2.1", "NodePool team-payments", [
        *nodepools.learner_nodepool("2.1", POOL),
        nodepools.nodepool_admits_exactly("2.1.offerings", POOL, ASKED,
                                          title="admits exactly arm64 spot m6g and c6g", **AFTER_POOL),
        nodepools.nodepool_template_labels("2.1.labels", POOL, LABEL, **AFTER_POOL),
        nodepools.nodepool_limits("2.1.limits", POOL, {"cpu": "16", "memory": "64Gi"}, **AFTER_POOL),
    ]),
    grading.Exercise("2.2", "payments-api runs on team-payments nodes", [
        *workloads.learner_deployment("2.2", APP, 4, cpu="500m", memory="512Mi"),
        workloads.pod_template_requires_label(
            "2.2.selector", APP, "team", ["payments"], pool=POOL, **AFTER_APP,
            unconstrained_hint="no selector: nothing keeps these pods on the team's nodes"),
        workloads.pods_ready_on_pool(
            "2.2.ready", APP, 4, POOL, depends_on=["2.2.deployment", "2.2.replicas"],
            misplaced_hint="pods landed on {where}: without a selector on the team's label "
            "nothing keeps them on team-payments"),
    ]),
])
