"""Lesson 01, first provisioning: a Deployment makes Karpenter launch nodes from the
default pool; scaling it to zero makes them go."""

from workshop.builders import workloads
from workshop.grading import core as grading
from workshop.platform import defaults as platform
from workshop.names import CAPACITY_TYPE_LABEL as CAPACITY

NODEPOOLS: list[str] = []  # only the platform's default pool is used (reset never touches it)

APP = "inflate"
GENERAL = platform.DEFAULT_NODEPOOLS[0]
EXISTS = "1.1.deployment"

LESSON = grading.Lesson(1, "First provisioning", [
    grading.Exercise("1.1", "inflate gets nodes from the default pool", [
        workloads.deployment_in_namespace(EXISTS, APP),
        workloads.deployment_image("1.1.image", APP, "registry.k8s.io/pause:3.10", depends_on=[EXISTS]),
        workloads.deployment_replicas("1.1.replicas", APP, 5, depends_on=[EXISTS]),
        workloads.container_requests("1.1.requests", APP, cpu="1", memory="1Gi", depends_on=[EXISTS]),
        workloads.pods_ready_on_pool("1.1.ready", APP, 5, GENERAL,
                                     depends_on=[EXISTS, "1.1.replicas"]),
    ]),
    grading.Exercise("1.2", "inflate runs on on-demand capacity only", [
        workloads.deployment_in_namespace("1.2.deployment", APP),
        workloads.pod_template_requires_label(
            "1.2.selector", APP, CAPACITY, ["on-demand"], depends_on=["1.2.deployment"],
            unconstrained_hint="nothing in the pod template requires a capacity type, so "
            "Karpenter may pick the cheaper spot capacity"),
        workloads.pods_ready_with_node_label(
            "1.2.ready", APP, 5, CAPACITY, "on-demand", depends_on=["1.2.deployment"],
            misplaced_hint="some pods run on spot nodes: the pod template does not keep "
            "them off spot"),
    ]),
    grading.Exercise("1.3", "Scale inflate to zero; its nodes go away", [
        workloads.deployment_scaled_to_zero("1.3.scaled", APP),
        workloads.no_pods_left("1.3.leftovers", APP, depends_on=["1.3.scaled"]),
        workloads.no_empty_nodes("1.3.consolidated", GENERAL, depends_on=["1.3.leftovers"]),
    ], undoes=["1.1", "1.2"]),  # scaling to zero takes back their 5 Ready replicas
])
