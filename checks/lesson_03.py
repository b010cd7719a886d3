"""Lesson 03, taints, tolerations and startup taints: a tainted pool keeps other pods off;
a toleration permits and a selector attracts; a startup taint holds pods until an agent
(the learner) removes it from the node."""

from workshop.builders import nodepools, workloads
from workshop.grading import core as grading
from workshop.k8s import node_agent
from workshop.builders import taints as t

BATCH, AGENT_POOL = "batch", "agent-ready"
NODEPOOLS = [BATCH, AGENT_POOL]  # cluster-scoped: reset deletes them with namespace lesson-03

WORKER, AGENT_APP = "batch-worker", "agent-app"
TAINT = ("workload", "batch")  # workload=batch:NoSchedule
STARTUP = ("example.com/agent-not-ready", "true")  # example.com/agent-not-ready=true:NoSchedule
# Every amd64 offering of categories c and m (both capacity types), whatever the catalog holds.
ASKED = [
    {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]},
    {"key": "karpenter.k8s.aws/instance-category", "operator": "In", "values": ["c", "m"]},
]
AFTER_BATCH = {"depends_on": ["3.1.nodepool"]}
AFTER_WORKER = {"depends_on": ["3.2.deployment"]}
AFTER_AGENT_POOL = {"depends_on": ["3.3.nodepool"]}
AFTER_AGENT_APP = {"depends_on": ["3.3.deployment"]}

# What the learner does in 3.3 besides applying YAML: play the node agent. `workshop solve`
# (and the lesson tests) run it after applying the reference solution.
SOLUTION_STEPS = {"3.3": lambda: node_agent.play_agent(AGENT_POOL, STARTUP[0])}

LESSON = grading.Lesson(3, "Taints, tolerations, startup taints", [
    grading.Exercise("3.1", "NodePool batch keeps other pods off", [
        *nodepools.learner_nodepool("3.1", BATCH),
        t.nodepool_taint("3.1.taint", BATCH, *TAINT, **AFTER_BATCH),
        nodepools.nodepool_template_labels("3.1.labels", BATCH, {"workload": "batch"}, **AFTER_BATCH),
        nodepools.nodepool_admits_exactly("3.1.offerings", BATCH, ASKED,
                                          title="admits exactly the amd64 offerings of categories c "
                                          "and m", **AFTER_BATCH),
        nodepools.nodepool_limits("3.1.limits", BATCH, {"cpu": "32"}, **AFTER_BATCH),
    ]),
    grading.Exercise("3.2", "batch-worker tolerates and selects the batch pool", [
        *workloads.learner_deployment("3.2", WORKER, 3, cpu="1", memory="2Gi"),
        t.pods_tolerate("3.2.toleration", WORKER, *TAINT, **AFTER_WORKER),
        workloads.pod_template_requires_label(
            "3.2.selector", WORKER, "workload", ["batch"], pool=BATCH, **AFTER_WORKER,
            unconstrained_hint="a toleration permits, it does not attract: without a selector "
            "on `workload: batch` nothing keeps the pods on the batch nodes"),
        workloads.pods_ready_on_pool(
            "3.2.ready", WORKER, 3, BATCH, depends_on=["3.2.deployment", "3.2.replicas"],
            misplaced_hint="pods landed on {where}: a toleration permits, it does not "
            "attract; select `workload: batch` too"),
    ]),
    grading.Exercise("3.3", "agent-app waits for the node agent", [
        *nodepools.learner_nodepool("3.3", AGENT_POOL, ready=False),
        t.nodepool_startup_taint("3.3.startup-taint", AGENT_POOL, *STARTUP, **AFTER_AGENT_POOL),
        nodepools.nodepool_template_labels("3.3.labels", AGENT_POOL, {"agent": "required"},
                                           **AFTER_AGENT_POOL),
        *workloads.learner_deployment("3.3", AGENT_APP, 2, cpu="500m"),
        workloads.pod_template_requires_label(
            "3.3.selector", AGENT_APP, "agent", ["required"], pool=AGENT_POOL,
            **AFTER_AGENT_APP,
            unconstrained_hint="nothing selects `agent: required`, so nothing keeps the pods "
            "on agent-ready nodes, where the startup taint is"),
        t.pods_do_not_tolerate(
            "3.3.no-toleration", AGENT_APP, *STARTUP, **AFTER_AGENT_APP,
            hint="the pods tolerate the startup taint, so they start as soon as the node "
            "exists, before the agent is ready: that defeats the purpose. Remove the "
            "toleration and play the agent instead"),
        t.nodes_free_of_taint("3.3.agent-done", AGENT_POOL, STARTUP[0],
                              depends_on=["3.3.nodepool", "3.3.startup-taint"]),
        t.pods_ready_once_untainted(
            "3.3.ready", AGENT_APP, 2, AGENT_POOL, STARTUP[0],
            depends_on=["3.3.deployment", "3.3.replicas"]),
    ]),
])
