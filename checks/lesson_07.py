"""Lesson 07, disruption: consolidation, drift under a budget, do-not-disrupt, expiry.

The exercises build on each other: 7.2 drifts the node 7.1 consolidated to (7.1 still holds:
one node of the cheapest type), and 7.3 undoes both: `precious` adds a node to `steady`, and a
second drift leaves the pool at revision "3".
"""

from workshop.builders import nodepools, workloads
from workshop.builders import disruption as d
from workshop.grading import core as grading
from workshop.names import CAPACITY_TYPE_LABEL as CAPACITY, DO_NOT_DISRUPT

STEADY, SHORT = "steady", "short-lived"
NODEPOOLS = [STEADY, SHORT]  # cluster-scoped: reset deletes them with namespace lesson-07

APP, PRECIOUS = "steady-app", "precious"
AFTER_POOL = {"depends_on": ["7.1.nodepool"]}

LESSON = grading.Lesson(7, "Disruption", [
    grading.Exercise("7.1", "Consolidation: steady ends on one node of the cheapest type", [
        nodepools.nodepool_exists("7.1.nodepool", STEADY),
        d.nodepool_admits_only(
            "7.1.on-demand", STEADY, CAPACITY, ["on-demand"], **AFTER_POOL,
            why="spot is admitted: replacing a spot node with a cheaper spot node is off by "
            "default (feature gate SpotToSpotConsolidation), so keep this pool on-demand"),
        nodepools.nodepool_template_labels("7.1.label", STEADY, {"tier": "steady"}, **AFTER_POOL),
        d.nodepool_consolidation("7.1.consolidation", STEADY, "WhenEmptyOrUnderutilized",
                                 "10s", **AFTER_POOL),
        *workloads.learner_deployment("7.1", APP, 2),
        workloads.pods_ready_on_pool("7.1.ready", APP, 2, STEADY,
                                     depends_on=["7.1.nodepool", "7.1.deployment", "7.1.replicas"]),
        d.pool_consolidated_to_cheapest(
            "7.1.consolidated", STEADY, APP,
            depends_on=["7.1.on-demand", "7.1.consolidation", "7.1.ready"]),
    ]),
    grading.Exercise("7.2", "Drift: every steady node replaced, one at a time", [
        nodepools.nodepool_exists("7.2.nodepool", STEADY),
        d.nodepool_budget("7.2.budget", STEADY, "1", depends_on=["7.2.nodepool"]),
        d.nodepool_template_label_changed("7.2.revision", STEADY, "revision", "2",
                                          depends_on=["7.2.nodepool"]),
        d.nodes_replaced_with_label("7.2.replaced", STEADY, "revision", "2",
                                    depends_on=["7.2.budget", "7.2.revision"]),
    ]),
    grading.Exercise("7.3", "do-not-disrupt: drift passes precious's node by", [
        *workloads.learner_deployment("7.3", PRECIOUS, 1),
        d.pods_annotated("7.3.annotation", PRECIOUS, DO_NOT_DISRUPT, "true", STEADY,
                         depends_on=["7.3.deployment"]),
        workloads.pods_ready_on_pool("7.3.ready", PRECIOUS, 1, STEADY,
                                     depends_on=["7.3.deployment", "7.3.replicas"]),
        d.node_not_replaced("7.3.kept", PRECIOUS, STEADY,
                            depends_on=["7.3.annotation", "7.3.ready"]),
        # precious's node joins steady (7.1 ends with one node) and revision "3" replaces
        # the "2" that 7.2 asked every node to carry.
    ], undoes=["7.1", "7.2"]),
    grading.Exercise("7.4", "Expiry: a short-lived node is replaced, its workload runs on", [
        nodepools.nodepool_exists("7.4.nodepool", SHORT),
        nodepools.nodepool_ready("7.4.ready", SHORT, depends_on=["7.4.nodepool"]),
        d.nodepool_expire_after("7.4.expire-after", SHORT, depends_on=["7.4.nodepool"]),
        d.node_expired_and_replaced("7.4.replaced", SHORT, others=[APP, PRECIOUS],
                                    depends_on=["7.4.ready", "7.4.expire-after"]),
    ]),
])
