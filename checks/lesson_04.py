"""Lesson 04, selectors, affinity and spread: required vs preferred node affinity, zone
spread that Karpenter launches across zones, arm64 and spot, Gt on the instance's vCPUs."""

from workshop.builders import affinity as a
from workshop.instances import catalog
from workshop.grading import core as grading
from workshop.builders import workloads
from workshop.builders import spread as s

NODEPOOLS: list[str] = []  # the platform's general pool serves every exercise

WEB, ARM, BIG = "web", "arm-api", "big-cpu"
AFTER_WEB = {"depends_on": ["4.1.deployment"]}
AFTER_ARM = {"depends_on": ["4.2.deployment"]}
AFTER_BIG = {"depends_on": ["4.3.deployment"]}

LESSON = grading.Lesson(4, "Selectors, affinity, spread", [
    grading.Exercise("4.1", "web spreads over the three zones", [
        *workloads.learner_deployment("4.1", WEB, 6, cpu="500m", memory="512Mi"),
        s.topology_spread("4.1.spread", WEB, catalog.ZONE, **AFTER_WEB),
        s.pods_ready_anywhere("4.1.ready", WEB, 6, depends_on=["4.1.deployment", "4.1.replicas"]),
        s.pods_spread_evenly("4.1.zones", WEB, 2, catalog.ZONES, depends_on=["4.1.ready"]),
    ]),
    grading.Exercise("4.2", "arm-api requires arm64 and prefers spot", [
        *workloads.learner_deployment("4.2", ARM, 2, cpu="250m"),
        a.pod_template_requires_label_or_deprecated(
            "4.2.arch", ARM, catalog.ARCH, ["arm64"], **AFTER_ARM,
            unconstrained_hint="nothing requires arm64, so Karpenter may pick a cheaper amd64 "
            "node"),
        a.pod_template_prefers_label(
            "4.2.spot", ARM, catalog.CAPACITY_TYPE, "spot", **AFTER_ARM,
            required_remark="accepted, but spot is now required: if no spot capacity is left "
            "the pods wait instead of falling back to on-demand"),
        workloads.pods_ready_with_node_label(
            "4.2.ready", ARM, 2, catalog.ARCH, "arm64",
            depends_on=["4.2.deployment", "4.2.replicas"],
            misplaced_hint="some pods run on amd64 nodes: the pod template only prefers arm64 "
            "(or does not ask for it)"),
    ]),
    grading.Exercise("4.3", "big-cpu runs only on instances with more than 8 vCPUs", [
        *workloads.learner_deployment("4.3", BIG, 1, cpu="1"),
        a.pod_template_requires_more_than("4.3.instance-cpu", BIG, catalog.AWS_CPU, 8,
                                          **AFTER_BIG),
        a.pods_ready_on_nodes_over("4.3.ready", BIG, 1, catalog.AWS_CPU, 8,
                                   depends_on=["4.3.deployment", "4.3.replicas"]),
    ]),
])
