"""The platform's DaemonSets and the overhead Karpenter adds for them (workshop daemonsets).

The rules mirror Karpenter v1.14.1's isDaemonPodCompatible (scheduling/scheduler.go:1020);
each test below is one of them, on the platform's real manifests where it can be.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from workshop.instances import catalog as cat
from workshop.k8s import daemonsets as ds
from workshop.k8s.usage import Requests

REPO = Path(__file__).resolve().parents[2]
PLATFORM = REPO / "cluster" / "platform"


def docs(name: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((PLATFORM / name).read_text()) if d]


@pytest.fixture(scope="module")
def daemonsets() -> list[dict]:
    return [d for d in docs("30-daemonsets.yaml") if d["kind"] == "DaemonSet"]


@pytest.fixture(scope="module")
def general() -> dict:
    (pool,) = docs("10-system-service-general-purpose.yaml")
    return pool


@pytest.fixture(scope="module")
def gpu() -> dict:
    (pool,) = docs("20-system-service-gpu.yaml")
    return pool


@pytest.fixture(scope="module")
def catalog():
    return cat.load_catalog()


def one(spec_patch: dict, name: str = "agent") -> dict:
    spec = {"containers": [{"name": "c", "image": "x",
                            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}
    spec.update(spec_patch)
    return {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": name, "namespace": "kube-system"},
            "spec": {"template": {"spec": spec}}}


def with_template(pool: dict, **spec) -> dict:
    pool = copy.deepcopy(pool)
    pool["spec"]["template"]["spec"].update(spec)
    return pool


def test_the_platform_runs_eks_like_daemonsets_that_tolerate_everything(daemonsets):
    names = {d["metadata"]["name"] for d in daemonsets}
    assert names == {"aws-node", "kube-proxy", "ebs-csi-node", "fluent-bit"}
    for d in daemonsets:
        assert d["metadata"]["namespace"] == "kube-system", "reset never touches kube-system"
        spec = d["spec"]["template"]["spec"]
        # operator Exists without a key tolerates every taint: GPU pools, team taints, and the
        # startup taint a node carries until its agent is ready.
        assert {"operator": "Exists"} in spec["tolerations"], d["metadata"]["name"]
        assert d["spec"]["selector"]["matchLabels"].items() <= \
            d["spec"]["template"]["metadata"]["labels"].items()


def test_every_default_pool_pays_the_same_overhead(daemonsets, general, gpu):
    for pool in (general, gpu):
        o = ds.overhead(pool, daemonsets)
        # aws-node 2 x 25m, kube-proxy 100m, ebs-csi-node 10m/40Mi, fluent-bit 50m/50Mi
        assert (o.cpu_millis, o.memory_mib, o.pods) == (210, 90, 4)
        assert set(o.names) == {f"kube-system/{n}" for n in
                                ("aws-node", "kube-proxy", "ebs-csi-node", "fluent-bit")}
    assert str(ds.overhead(general, daemonsets)) == "210m CPU, 90Mi in 4 DaemonSet pods"


def test_limits_count_as_requests_when_requests_are_missing(general):
    only_limit = one({"containers": [{"name": "c", "image": "x",
                                      "resources": {"limits": {"cpu": "200m", "memory": "1Gi"}}}]})
    assert ds.overhead(general, [only_limit]).requests == Requests(200, 2**30)


def test_a_daemonset_that_does_not_tolerate_the_pools_taint_is_not_counted(gpu, general):
    plain = one({})
    assert ds.overhead(gpu, [plain]).pods == 0, "nvidia.com/gpu=true:NoSchedule keeps it off"
    assert ds.overhead(general, [plain]).pods == 1
    tolerant = one({"tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists"}]})
    assert ds.overhead(gpu, [tolerant]).pods == 1


def test_startup_taints_and_prefer_no_schedule_never_keep_a_daemon_off(general):
    plain = one({})
    startup = with_template(general, startupTaints=[
        {"key": "example.com/agent-not-ready", "value": "true", "effect": "NoSchedule"}])
    prefer = with_template(general, taints=[{"key": "k", "value": "v", "effect": "PreferNoSchedule"}])
    assert ds.overhead(startup, [plain]).pods == 1
    assert ds.overhead(prefer, [plain]).pods == 1


def test_node_selection_must_be_compatible_with_the_pool(general):
    team = one({"nodeSelector": {"team": "vision"}})
    assert ds.overhead(general, [team]).pods == 0, "the pool's nodes carry no `team` label"
    labelled = copy.deepcopy(general)
    labelled["spec"]["template"]["metadata"]["labels"]["team"] = "vision"
    assert ds.overhead(labelled, [team]).pods == 1
    labelled["spec"]["template"]["metadata"]["labels"]["team"] = "ml"
    assert ds.overhead(labelled, [team]).pods == 0
    by_pool = one({"nodeSelector": {"karpenter.sh/nodepool": "system-service-general-purpose"}})
    assert ds.overhead(general, [by_pool]).pods == 1
    windows = one({"nodeSelector": {"kubernetes.io/os": "windows"}})
    assert ds.overhead(general, [windows]).pods == 0, "the pool requires os In [linux]"


def test_instance_type_labels_decide_per_offering(general, catalog):
    arm_only = one({"nodeSelector": {"kubernetes.io/arch": "arm64"}})
    offerings = catalog.admitted(general["spec"]["template"]["spec"]["requirements"])
    arm = next(o for o in offerings if o.arch == "arm64")
    amd = next(o for o in offerings if o.arch == "amd64")
    assert ds.overhead(general, [arm_only], arm).pods == 1
    assert ds.overhead(general, [arm_only], amd).pods == 0
    of = ds.per_offering(general, [arm_only])
    assert of(arm) == (100, 64, 1) and of(amd) == (0, 0, 0)


def test_the_next_affinity_term_is_tried_when_one_fails(general):
    terms = one({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [
            {"matchExpressions": [{"key": "team", "operator": "In", "values": ["x"]}]},
            {"matchExpressions": [{"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]}]},
        ]}}}})
    assert ds.overhead(general, [terms]).pods == 1
    none = one({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [
            {"matchExpressions": [{"key": "team", "operator": "In", "values": ["x"]}]},
        ]}}}})
    assert ds.overhead(general, [none]).pods == 0


def test_daemon_pods_are_told_apart_by_their_owner():
    assert ds.is_daemon_pod({"metadata": {"ownerReferences": [{"kind": "DaemonSet", "name": "x"}]}})
    assert not ds.is_daemon_pod({"metadata": {"ownerReferences": [{"kind": "ReplicaSet", "name": "x"}]}})
    assert not ds.is_daemon_pod({"metadata": {}})


def test_cheapest_leaves_room_for_the_daemonsets(catalog, general, daemonsets):
    """The same boundary the cluster test finds on the real Karpenter (test_1_daemonsets)."""
    c5 = [{"key": cat.AWS_FAMILY, "operator": "In", "values": ["c5"]}]
    room = ds.per_offering(general, daemonsets)
    exact = catalog.by_name("c5.xlarge").allocatable_cpu_millis - 210
    assert catalog.cheapest(c5, exact, 1024, pods=1, overhead=room).instance_type == "c5.xlarge"
    assert catalog.cheapest(c5, exact + 1, 1024, pods=1, overhead=room).instance_type == "c5.2xlarge"
    assert catalog.cheapest(c5, exact + 1, 1024).instance_type == "c5.xlarge", "without them"


def test_daemon_pods_take_pod_slots_too(catalog, general, daemonsets):
    t3_small = catalog.by_name("t3.small")
    small = [{"key": cat.INSTANCE_TYPE, "operator": "In", "values": ["t3.small"]}]
    room = ds.per_offering(general, daemonsets)
    free = t3_small.pods - 4
    assert catalog.cheapest(small, free * 10, 10, pods=free, overhead=room) is not None
    assert catalog.cheapest(small, (free + 1) * 10, 10, pods=free + 1, overhead=room) is None


def test_a_selection_on_an_instance_label_counts_only_where_it_matches(general, catalog):
    c5_only = one({"nodeSelector": {cat.AWS_FAMILY: "c5"}})
    offerings = catalog.admitted(general["spec"]["template"]["spec"]["requirements"])
    c5 = next(o for o in offerings if o.instance_type.startswith("c5."))
    m5 = next(o for o in offerings if o.instance_type.startswith("m5."))
    assert ds.overhead(general, [c5_only]).pods == 1, "the pool may launch c5"
    assert (ds.overhead(general, [c5_only], c5).pods, ds.overhead(general, [c5_only], m5).pods) == (1, 0)


def test_the_readme_states_the_overhead(general, daemonsets):
    o = ds.overhead(general, daemonsets)
    readme = " ".join((REPO / "README.md").read_text().split())
    assert f"{o.cpu_millis}m CPU and {o.memory_mib}Mi per node" in readme
    assert all(n.split("/")[1] in readme for n in o.names)
