"""Karpenter provisions real nodes for real pods: the behaviours every lesson relies on."""

from __future__ import annotations

import pytest

from workshop.k8s import kube, observe
from workshop.grading import lessons
from workshop.platform import defaults as platform
from workshop.k8s.workloads import GPU_TOLERATION, deployment


pytestmark = pytest.mark.cluster

GENERAL = "system-service-general-purpose"


def apply(*objs):
    return kube.apply(list(objs), field_manager="tests")


def landed(ns: str, app: str, count: int = 1, timeout_s: float = 60):
    observe.wait_pods_ready(ns, f"app={app}", count, timeout_s)
    return [info for _, info in observe.placement(ns, f"app={app}")]


def test_defaults_ready(cluster):
    for name in platform.DEFAULT_NODEPOOLS:
        assert kube.is_true(kube.get("karpenter.sh/v1", "NodePool", name), "Ready"), name
    assert kube.is_true(kube.get("karpenter.kwok.sh/v1alpha1", "KWOKNodeClass", "bottlerocket"))


def test_pending_pod_gets_nodeclaim_node_and_runs(ns):
    apply(deployment("web", ns, replicas=2, cpu="1", memory="1Gi"))
    infos = landed(ns, "web", 2)
    assert all(i and i.nodepool == GENERAL for i in infos)
    claims = {c["status"].get("nodeName") for c in observe.nodeclaims(GENERAL)}
    assert {i.name for i in infos} <= claims, "every node came from a NodeClaim"
    assert all(i.instance_type and i.zone.startswith("us-west-2") for i in infos)
    # The AWS well-known labels are real node labels here.
    assert all("karpenter.k8s.aws/instance-family" in i.labels for i in infos)


def test_gpu_pod_lands_on_gpu_type(ns):
    apply(deployment("train", ns, cpu="1", memory="4Gi", gpus=1, tolerations=[GPU_TOLERATION]))
    (info,) = landed(ns, "train")
    assert info.nodepool == "system-service-gpu"
    assert int(info.labels["karpenter.k8s.aws/instance-gpu-count"]) >= 1
    assert info.labels["karpenter.k8s.aws/instance-gpu-manufacturer"] == "nvidia"
    assert "nvidia.com/gpu=true:NoSchedule" in info.taints


def test_gpu_pod_without_toleration_stays_pending_with_event(ns):
    apply(deployment("train", ns, cpu="1", memory="4Gi", gpus=1))

    def event():
        pods = observe.pods(ns, "app=train")
        return pods and observe.is_pending(pods[0]) and observe.pending_reason(pods[0])

    message = kube.wait_until(event, 30, 0.5, "a FailedScheduling event")
    assert "taint" in message.lower() or "incompatible" in message.lower(), message
    pods = observe.pods(ns, "app=train")
    assert not pods[0]["spec"].get("nodeName")


@pytest.mark.parametrize("selector,label,value", [
    ({"kubernetes.io/arch": "arm64"}, "kubernetes.io/arch", "arm64"),
    ({"karpenter.sh/capacity-type": "spot"}, "karpenter.sh/capacity-type", "spot"),
    ({"karpenter.k8s.aws/instance-family": "c5"}, "karpenter.k8s.aws/instance-family", "c5"),
])
def test_selectors_choose_the_offering(ns, selector, label, value):
    apply(deployment("sel", ns, cpu="500m", memory="512Mi", node_selector=selector))
    (info,) = landed(ns, "sel")
    assert info.labels[label] == value


def test_gt_lt_on_instance_cpu_and_gpu_count(ns):
    big_cpu = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [
            {"key": "karpenter.k8s.aws/instance-cpu", "operator": "Gt", "values": ["15"]},
            {"key": "karpenter.k8s.aws/instance-category", "operator": "In", "values": ["m"]},
        ]}]}}}
    multi_gpu = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [
            {"key": "karpenter.k8s.aws/instance-gpu-count", "operator": "Gt", "values": ["3"]},
            {"key": "karpenter.k8s.aws/instance-gpu-count", "operator": "Lt", "values": ["8"]},
        ]}]}}}
    apply(deployment("big", ns, cpu="1", memory="1Gi", affinity=big_cpu),
          deployment("multi", ns, cpu="1", memory="1Gi", gpus=1, affinity=multi_gpu,
                     tolerations=[GPU_TOLERATION]))
    (big,) = landed(ns, "big")
    (multi,) = landed(ns, "multi")
    assert int(big.labels["karpenter.k8s.aws/instance-cpu"]) > 15
    assert 3 < int(multi.labels["karpenter.k8s.aws/instance-gpu-count"]) < 8


def nodepool(name: str, **spec_extra) -> dict:
    template_spec = {
        "nodeClassRef": {"group": "karpenter.kwok.sh", "kind": "KWOKNodeClass",
                         "name": "bottlerocket"},
        "requirements": [{"key": "karpenter.k8s.aws/instance-family", "operator": "In",
                          "values": ["m5"]}],
    }
    template_spec.update(spec_extra.pop("template_spec", {}))
    return {
        "apiVersion": "karpenter.sh/v1", "kind": "NodePool", "metadata": {"name": name},
        "spec": {"template": {"metadata": {"labels": {"test-pool": name}},
                              "spec": template_spec},
                 "disruption": {"consolidateAfter": "5s", "budgets": [{"nodes": "100%"}]},
                 **spec_extra},
    }


@pytest.fixture
def pool(cluster):
    created = []

    def make(name, **kw):
        apply(nodepool(name, **kw))
        created.append(name)
        return name

    yield make
    lessons.remove_nodepools(created)  # untainted test pools must not take later tests' pods


def test_startup_taint_keeps_pods_off_until_removed(ns, pool):
    taint = {"key": "example.com/agent-not-ready", "value": "true", "effect": "NoSchedule"}
    name = pool("t-startup", template_spec={"startupTaints": [taint]})
    apply(deployment("app", ns, cpu="500m", memory="256Mi", node_selector={"test-pool": name}))

    def tainted_node():
        found = [n for n in observe.nodes(f"test-pool={name}")
                 if any(t["key"] == taint["key"] for t in n["spec"].get("taints") or [])]
        return found[0] if found else None

    node = kube.wait_until(tainted_node, 60, 0.5, "a node with the startup taint")
    pods = observe.pods(ns, "app=app")
    assert pods and not observe.is_ready(pods[0]), "pod must wait for the startup taint"
    # Play the agent: remove the startup taint.
    taints = [t for t in node["spec"]["taints"] if t["key"] != taint["key"]]
    kube.core().patch_node(node["metadata"]["name"], {"spec": {"taints": taints}})
    landed(ns, "app")


def test_nodepool_limit_gives_exceed_limits_event(ns, pool):
    name = pool("t-limited", limits={"cpu": "4"})
    apply(deployment("big", ns, replicas=3, cpu="3", memory="1Gi",
                     node_selector={"test-pool": name}))

    def limit_event():
        for p in observe.pods(ns, "app=big"):
            if observe.is_pending(p):
                reason = observe.pending_reason(p) or ""
                if "exceed limits for nodepool" in reason:
                    return reason
        return None

    assert name in kube.wait_until(limit_event, 60, 0.5, "Karpenter's limit event")


def test_scale_to_zero_removes_the_nodes(ns):
    apply(deployment("burst", ns, replicas=3, cpu="2", memory="2Gi",
                     node_selector={"karpenter.k8s.aws/instance-family": "m5"}))
    infos = landed(ns, "burst", 3)
    used = {i.name for i in infos}
    apply(deployment("burst", ns, replicas=0, cpu="2", memory="2Gi",
                     node_selector={"karpenter.k8s.aws/instance-family": "m5"}))
    kube.wait_until(lambda: not (used & set(observe.node_infos())), 60, 1,
                    "the emptied nodes to be consolidated away")
