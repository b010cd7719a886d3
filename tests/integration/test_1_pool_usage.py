"""A NodePool's usage and limits count instance sizes, as on EKS; no node outlives its claim.

Karpenter's kwok provider would record a node's capacity as its pods' requests; the kit's
kwok Stage (cluster/kwok-stages.yaml) makes it the instance type's. These tests read what
Karpenter itself reports (NodePool.status.resources, its limit events) on the real cluster.
"""

from __future__ import annotations

import time

import pytest

from workshop.instances import catalog
from workshop.k8s import kube, observe, orphans
from workshop.grading import lessons
from workshop.platform import defaults as platform
from workshop.instances.catalog import parse_quantity
from workshop.k8s.workloads import GPU_TOLERATION, deployment

pytestmark = pytest.mark.cluster

POOL_API = "karpenter.sh/v1"
GPU = "nvidia.com/gpu"
NEURON = catalog.NEURON_RESOURCE


def apply(*objs):
    return kube.apply(list(objs), field_manager="tests")


def nodepool(name: str, families: list[str], nodeclass: str = platform.NODECLASS,
             requirements: tuple[dict, ...] = (), **spec) -> dict:
    return {
        "apiVersion": POOL_API, "kind": "NodePool", "metadata": {"name": name},
        "spec": {"template": {"metadata": {"labels": {"test-pool": name}}, "spec": {
            "nodeClassRef": {"group": "karpenter.kwok.sh", "kind": "KWOKNodeClass",
                             "name": nodeclass},
            "requirements": [{"key": "karpenter.k8s.aws/instance-family", "operator": "In",
                              "values": families},
                             {"key": "karpenter.sh/capacity-type", "operator": "In",
                              "values": ["on-demand"]}, *requirements]}},
                 "disruption": {"consolidateAfter": "5s", "budgets": [{"nodes": "100%"}]},
                 **spec},
    }


@pytest.fixture
def pools(cluster):
    created = []

    def make(obj):
        apply(obj)
        created.append(obj["metadata"]["name"])
        return obj["metadata"]["name"]

    yield make
    # Wait for the pools' nodes to go: a test pool has no taint, so a node of it left with
    # spare room would take the next test's unselective pods.
    lessons.remove_nodepools(created)


def instance_totals(nodes: list[dict]) -> dict[str, float]:
    """What the pool's nodes are, by the catalog: vCPU, memory bytes, GPUs."""
    cat = catalog.load_catalog()
    totals = {"cpu": 0.0, "memory": 0.0, GPU: 0.0, NEURON: 0.0}
    for n in nodes:
        it = cat.by_name(n["metadata"]["labels"]["node.kubernetes.io/instance-type"])
        totals["cpu"] += it.vcpu
        totals["memory"] += it.memory_mib * 2**20
        totals[GPU] += it.gpus
        totals[NEURON] += it.accelerators
    return totals


def pool_usage(name: str) -> dict[str, float]:
    res = ((kube.get(POOL_API, "NodePool", name) or {}).get("status") or {}).get("resources") or {}
    return {k: float(parse_quantity(str(res.get(k, "0")))) for k in ("cpu", "memory", GPU, NEURON)}


def test_pool_usage_is_the_sum_of_its_instances(ns, pools):
    # A GPU node, an Inferentia node and a CPU node, each holding one small pod: requests
    # are far below the instances, so counting requests (the kwok provider's own
    # behaviour) fails. Extended resources (GPUs, Neuron devices) count as on EKS too.
    name = pools(nodepool("t-usage", ["g4dn", "inf2", "m5"]))
    select = {"test-pool": name}
    neuron = deployment("neuron", ns, cpu="500m", memory="512Mi", node_selector=select)
    neuron["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"][NEURON] = "1"
    neuron["spec"]["template"]["spec"]["containers"][0]["resources"].setdefault(
        "limits", {})[NEURON] = "1"
    apply(neuron, deployment("gpu", ns, cpu="500m", memory="512Mi", gpus=1, node_selector=select,
                             tolerations=[GPU_TOLERATION]),
          deployment("cpu", ns, cpu="500m", memory="512Mi", node_selector=select,
                     affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                         "nodeSelectorTerms": [{"matchExpressions": [{
                             "key": "karpenter.k8s.aws/instance-family", "operator": "In",
                             "values": ["m5"]}]}]}}}))
    observe.wait_pods_ready(ns, "app=gpu", 1, 60)
    observe.wait_pods_ready(ns, "app=cpu", 1, 60)
    observe.wait_pods_ready(ns, "app=neuron", 1, 60)
    nodes = observe.nodes(f"test-pool={name}")
    cat = catalog.load_catalog()
    for n in nodes:  # each node reports its instance type's capacity, as a kubelet would
        it = cat.by_name(n["metadata"]["labels"]["node.kubernetes.io/instance-type"])
        cap = n["status"]["capacity"]
        assert {k: parse_quantity(str(v)) for k, v in cap.items()} == {
            k: parse_quantity(v) for k, v in it.resources().items()}, n["metadata"]["name"]
    want = instance_totals(nodes)
    assert want[GPU] >= 1 and want[NEURON] >= 1 and want["cpu"] >= 4 + 4 + 2  # g4dn, inf2, m5
    kube.wait_until(lambda: pool_usage(name) == want, 30, 0.5,
                    f"NodePool {name} status.resources to equal {want}")


def claimed_vcpu(pool: str) -> int:
    """vCPU of every instance the pool has launched, registered or still launching."""
    cat = catalog.load_catalog()
    return sum(cat.by_name(c["metadata"]["labels"]["node.kubernetes.io/instance-type"]).vcpu
               for c in observe.nodeclaims(pool)
               if "node.kubernetes.io/instance-type" in c["metadata"].get("labels", {}))


def test_pool_limited_to_8_cpu_never_holds_more_than_8_vcpu(ns, pools):
    # Two 4-vCPU nodes hold three 1-CPU pods each (kube-reserved takes the fourth CPU).
    # Counting requests, the pool would look 6 CPU full and Karpenter would add a 2-vCPU
    # node for the pending pods (10 vCPU in all); counting instances it is full at 8.
    sizes = {"key": "karpenter.k8s.aws/instance-size", "operator": "In",
             "values": ["large", "xlarge"]}
    name = pools(nodepool("t-limit8", ["m5"], requirements=(sizes,), limits={"cpu": "8"}))
    # Six pods first, then ten: the second round sees two initialized nodes. (Within about
    # a second of a launch Karpenter still counts a new node by its pods' requests, which
    # is what the kwok provider reports at launch; see cluster/kwok-stages.yaml.)
    apply(deployment("ten", ns, replicas=6, cpu="1", memory="256Mi",
                     node_selector={"test-pool": name}))
    observe.wait_pods_ready(ns, "app=ten", 6, 60)
    kube.wait_until(lambda: pool_usage(name)["cpu"] == 8, 30, 0.5, "two initialized nodes")
    apply(deployment("ten", ns, replicas=10, cpu="1", memory="256Mi",
                     node_selector={"test-pool": name}))

    def limit_event():
        return any("exceed limits for nodepool" in (observe.pending_reason(p) or "")
                   for p in observe.pods(ns, "app=ten") if observe.is_pending(p))

    kube.wait_until(limit_event, 30, 0.5, "Karpenter's exceed-limits event")
    # Watch several provisioning rounds after the nodes initialized: none may add a node.
    seen = []
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        seen.append(claimed_vcpu(name))
        time.sleep(0.5)
    assert max(seen) == 8, f"pool {name} held {max(seen)} vCPU of instances"
    ready = [p for p in observe.pods(ns, "app=ten") if observe.is_ready(p)]
    assert len(ready) == 6
    assert pool_usage(name)["cpu"] == 8


def test_node_launching_when_its_pool_is_deleted_is_swept(ns, pools):
    # A node class whose nodes register 4 s after launch: time to delete the pool (and
    # with it the NodeClaim) while the node is still launching, as a reset mid-launch does.
    slow = "t-slow-register"
    apply({"apiVersion": platform.NODECLASS_API, "kind": "KWOKNodeClass",
           "metadata": {"name": slow}, "spec": {"nodeRegistrationDelay": "4s"}})
    platform.mark_nodeclass_ready(slow)
    try:
        name = pools(nodepool("t-orphan", ["m5"], nodeclass=slow))
        kube.wait_until(lambda: kube.is_true(kube.get(POOL_API, "NodePool", name)), 30, 0.2,
                        f"NodePool {name} Ready")
        apply(deployment("app", ns, cpu="500m", memory="256Mi", node_selector={"test-pool": name}))
        claim = kube.wait_until(lambda: observe.nodeclaims(name), 30, 0.1, "a NodeClaim")[0]
        assert not observe.nodes(f"test-pool={name}"), "the node registered too early"
        kube.delete(POOL_API, "NodePool", name)  # and its claim at once, as a reset does
        kube.delete(POOL_API, "NodeClaim", claim["metadata"]["name"])
        kube.wait_until(lambda: not observe.nodeclaims(name), 30, 0.1, "the NodeClaim to go")
        # The provider still creates the Node once the delay is over: an orphan.
        orphan = kube.wait_until(lambda: observe.nodes(f"test-pool={name}"), 15, 0.2,
                                 "the late Node")[0]
        assert orphan["metadata"]["labels"]["kubernetes.io/hostname"] == claim["metadata"]["name"]
        assert orphans.sweep() == []  # younger than the grace period: left alone
        kube.wait_until(lambda: orphans.sweep(), orphans.GRACE_S + 10, 0.5, "the sweep")
        assert not observe.nodes(f"test-pool={name}")
    finally:
        kube.delete(platform.NODECLASS_API, "KWOKNodeClass", slow)
