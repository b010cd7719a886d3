"""The platform's DaemonSets run on every node, and Karpenter sizes nodes for them exactly as
workshop.daemonsets predicts (Karpenter v1.14.1, scheduling/scheduler.go buildDaemonOverheadGroups)."""

from __future__ import annotations

import pytest

from workshop.instances import catalog
from workshop.k8s import daemonsets, kube, observe
from workshop.k8s.workloads import GPU_TOLERATION, deployment

pytestmark = pytest.mark.cluster

GENERAL = "system-service-general-purpose"
PLATFORM_DS = ("aws-node", "kube-proxy", "ebs-csi-node", "fluent-bit")


def apply(*objs):
    return kube.apply(list(objs), field_manager="tests")


def daemon_pods_on(node: str) -> list[dict]:
    return [p for p in kube.list_("v1", "Pod", namespace="kube-system")
            if (p.get("spec") or {}).get("nodeName") == node and daemonsets.is_daemon_pod(p)
            and observe.is_ready(p)]


def test_up_applies_the_platform_daemonsets(cluster):
    for name in PLATFORM_DS:
        ds = kube.get("apps/v1", "DaemonSet", name, "kube-system")
        assert ds is not None, f"`up` did not apply DaemonSet kube-system/{name}"
        assert {"operator": "Exists"} in ds["spec"]["template"]["spec"]["tolerations"]


def test_karpenter_leaves_room_for_the_daemonsets_exactly(ns):
    """A pod of allocatable minus the overhead fits a c5.xlarge; one millicore more does not."""
    cat = catalog.load_catalog()
    pool = kube.get("karpenter.sh/v1", "NodePool", GENERAL)
    live = kube.list_("apps/v1", "DaemonSet")
    xlarge = cat.by_name("c5.xlarge")
    offering = next(o for o in cat.offerings if o.instance_type == xlarge.name)
    room = daemonsets.overhead(pool, live, offering)
    assert room.pods >= len(PLATFORM_DS)
    exact = xlarge.allocatable_cpu_millis - room.cpu_millis
    c5 = {"karpenter.k8s.aws/instance-family": "c5"}
    apply(deployment("exact", ns, cpu=f"{exact}m", memory="1Gi", node_selector=c5))
    observe.wait_pods_ready(ns, "app=exact", 1, 60)
    ((_, info),) = observe.placement(ns, "app=exact")
    assert info.instance_type == "c5.xlarge", info.instance_type
    apply(deployment("over", ns, cpu=f"{exact + 1}m", memory="1Gi", node_selector=c5))
    observe.wait_pods_ready(ns, "app=over", 1, 60)
    ((_, bigger),) = observe.placement(ns, "app=over")
    assert bigger.instance_type == "c5.2xlarge", bigger.instance_type
    # and the DaemonSets' pods really run there, one of each
    for node in (info.name, bigger.name):
        running = kube.wait_until(lambda n=node: len(daemon_pods_on(n)) >= len(PLATFORM_DS) and
                                  daemon_pods_on(n), 30, 0.5, f"the DaemonSet pods on {node}")
        owners = sorted(p["metadata"]["ownerReferences"][0]["name"] for p in running)
        assert owners == sorted(PLATFORM_DS)


def test_daemonsets_land_on_tainted_gpu_nodes_too(ns):
    apply(deployment("train", ns, cpu="1", memory="4Gi", gpus=1, tolerations=[GPU_TOLERATION]))
    observe.wait_pods_ready(ns, "app=train", 1, 60)
    ((_, info),) = observe.placement(ns, "app=train")
    assert "nvidia.com/gpu=true:NoSchedule" in info.taints
    kube.wait_until(lambda: len(daemon_pods_on(info.name)) >= len(PLATFORM_DS), 30, 0.5,
                    f"the DaemonSet pods on {info.name}")
