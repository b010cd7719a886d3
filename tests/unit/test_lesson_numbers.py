"""Every number a lesson's text states is computed here from the catalog and the manifests,
so the text and the catalog cannot drift apart (edit the catalog, and this says which
sentence to change).

No cluster needed: the catalog model answers what Karpenter's kwok provider would pick
(the cheapest fitting offering; see workshop/instances/catalog.py `Catalog.cheapest`), with
the platform's DaemonSets (cluster/platform/30-daemonsets.yaml) counted on every node as
Karpenter counts them (workshop/k8s/daemonsets.py).
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import pytest
import yaml

from workshop.instances import catalog as cat
from workshop.k8s import daemonsets as ds

REPO = Path(__file__).resolve().parents[2]


def text_of(notebook: str, cell_id: str) -> str:
    """A markdown cell's text with runs of whitespace folded (lines wrap anywhere)."""
    nb = json.loads((REPO / "notebooks" / notebook).read_text())
    (cell,) = [c for c in nb["cells"] if c.get("id") == cell_id]
    return re.sub(r"\s+", " ", "".join(cell["source"]))


def docs(path: str, kind: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((REPO / path).read_text()) if d and d["kind"] == kind]


def nodepool(path: str) -> dict:
    (pool,) = docs(path, "NodePool")
    return pool


def pool_requirements(path: str) -> list[dict]:
    return nodepool(path)["spec"]["template"]["spec"]["requirements"]


@pytest.fixture(scope="module")
def catalog():
    return cat.load_catalog()


DAEMONSETS = docs("cluster/platform/30-daemonsets.yaml", "DaemonSet")


@functools.cache
def daemons(path: str):
    """What every node of the pool in `path` runs besides: Catalog.cheapest(overhead=...)."""
    return ds.per_offering(nodepool(path), DAEMONSETS)


def cheapest(catalog, path: str, cpu_millis: int, memory_mib: int, pods: int, extra=()):
    """Karpenter's pick for `pods` pods of these total requests on the pool in `path`."""
    return catalog.cheapest(pool_requirements(path) + list(extra), cpu_millis, memory_mib,
                            pods=pods, overhead=daemons(path))


def most_pods(catalog, path: str, cpu_millis: int, memory_mib: int, extra=(), max_vcpu=None):
    """(n, offering): the most pods of this size one node of the pool holds, and the cheapest
    type holding that many (Karpenter packs a node while some type still fits)."""
    reqs = pool_requirements(path) + list(extra)
    if max_vcpu is not None:
        reqs.append({"key": cat.AWS_CPU, "operator": "Lt", "values": [str(max_vcpu + 1)]})
    best = (0, None)
    for n in range(1, 1000):
        pick = catalog.cheapest(reqs, n * cpu_millis, n * memory_mib, pods=n,
                                overhead=daemons(path))
        if pick is None:
            return best
        best = (n, pick)
    raise AssertionError("no limit in sight")


GENERAL = "cluster/platform/10-system-service-general-purpose.yaml"
ON_DEMAND = {"key": cat.CAPACITY_TYPE, "operator": "In", "values": ["on-demand"]}
L00, L01, L02 = "00-setup-and-tour.ipynb", "01-first-provisioning.ipynb", "02-your-own-nodepool.ipynb"
L05, L07 = "05-limits-and-weights.ipynb", "07-disruption.ipynb"


def overhead_text(o: ds.Overhead) -> str:
    return f"{o.cpu_millis}m CPU and {o.memory_mib}Mi"


def test_lessons_state_the_daemonsets_overhead():
    general = ds.overhead(nodepool(GENERAL), DAEMONSETS)
    cpu = f"{general.cpu_millis}m"
    assert overhead_text(general) + " here" in text_of(L01, "l01-05")
    assert f"plus the DaemonSets' {cpu} CPU and {general.memory_mib}Mi" in text_of(L01, "l01-15")
    assert (f"{cpu} CPU, {general.memory_mib}Mi, {general.pods} pods per node"
            in text_of(L01, "l01-31"))
    names = [n.split("/")[1] for n in general.names]
    tour = text_of(L00, "l00-03")
    assert f"{['no', 'one', 'two', 'three', 'four', 'five'][len(names)]} **DaemonSets**" in tour
    assert all(f"`{n}`" in tour for n in names)
    assert f"the {cpu} the platform's DaemonSets request on every node" in text_of(L02, "l02-07")
    assert f"DaemonSets request {cpu} on every node" in text_of(L05, "l05-05")
    assert f"the DaemonSets' {cpu})?" in text_of(L07, "7b397c0b")
    # The same on every pool the lessons use: they tolerate every taint.
    for path in ("cluster/platform/20-system-service-gpu.yaml", "solutions/lesson-02/2.1.yaml",
                 "solutions/lesson-05/5.1.yaml", "solutions/lesson-07/7.1-1.yaml"):
        assert ds.overhead(nodepool(path), DAEMONSETS) == general, path


def test_lesson_01_names_the_offerings_karpenter_picks(catalog):
    five = cheapest(catalog, GENERAL, 5000, 5 * 1024, 5)  # 1.1: 5 pods of 1 CPU and 1Gi
    assert five.capacity_type == "spot"
    one = cheapest(catalog, GENERAL, 1000, 1024, 1)
    text = text_of(L01, "l01-17")
    assert f"a `{five.instance_type}` spot node for the five pods" in text
    assert f"Five `{one.instance_type}` spot nodes" in text
    assert 5 * one.price < five.price, "the text says five small nodes would cost less in total"


def test_lesson_01_on_demand_pick_is_graviton(catalog):
    pick = cheapest(catalog, GENERAL, 5000, 5 * 1024, 5, [ON_DEMAND])
    it = catalog.by_name(pick.instance_type)
    assert it.arch == "arm64", "the text warns that 1.2 lands on Graviton"
    assert f"is a `{it.name}`: Graviton, **arm64**" in text_of(L01, "l01-22")


def test_lesson_02_answers_match_the_catalog(catalog):
    reqs = pool_requirements("solutions/lesson-02/2.1.yaml")
    admitted = catalog.admitted(reqs)
    families = sorted({catalog.by_name(o.instance_type).family for o in admitted})
    sizes = {catalog.by_name(o.instance_type).size for o in admitted}
    text = text_of(L02, "l02-12")
    assert f"**{len(admitted)} offerings**" in text
    assert f"{len(families)} families × {len(sizes)} sizes × {len(cat.ZONES)} zones" in text
    pick = catalog.by_name(cheapest(catalog, "solutions/lesson-02/2.1.yaml", 2000, 2048, 4)
                           .instance_type)  # 4 × (500m, 512Mi)
    assert f"A **`{pick.name}`**" in text
    large = catalog.by_name(pick.name.replace("xlarge", "large"))
    room = ds.overhead(nodepool("solutions/lesson-02/2.1.yaml"), DAEMONSETS)
    assert 2000 + room.cpu_millis > large.allocatable_cpu_millis
    assert (f"2 CPU plus the DaemonSets' {room.cpu_millis}m do not fit a {large.vcpu}-vCPU `large` "
            f"({large.allocatable_cpu_millis}m allocatable)") in text
    others = sorted({t.family for t in catalog.types if t.arch == "arm64"} - set(families))
    assert all(f"{family}" in text for family in others), (others, text)
    limit_cpu = int(cat.parse_quantity(yaml.safe_load(
        (REPO / "solutions/lesson-02/2.1.yaml").read_text())["spec"]["limits"]["cpu"]))
    answer3 = text_of(L02, "l02-14")
    nodes = limit_cpu // catalog.by_name("c6g.xlarge").vcpu
    assert f"{nodes} × {catalog.by_name('c6g.xlarge').vcpu} vCPU = {limit_cpu}" in answer3


def test_lesson_07_states_the_platforms_disruption_settings():
    """The "On the platform" note quotes the default pool's disruption block, expiry and
    terminationGracePeriod, and the do-not-disrupt row of "What you control" its grace period."""
    docs = [d for d in yaml.safe_load_all((REPO / GENERAL).read_text()) if d]
    (pool,) = [d for d in docs if d["kind"] == "NodePool"]
    spec, tmpl = pool["spec"], pool["spec"]["template"]["spec"]
    text = text_of("07-disruption.ipynb", "a817ac98")
    assert f"after `{spec['disruption']['consolidateAfter']}` here" in text
    (budget,) = spec["disruption"]["budgets"]
    assert f'a budget of `nodes: "{budget["nodes"]}"`' in text
    hours = int(tmpl["expireAfter"].removesuffix("h"))
    assert f"`expireAfter: {tmpl['expireAfter']}` ({hours // 24} days)" in text
    grace = tmpl["terminationGracePeriod"]
    assert f"`terminationGracePeriod: {grace}`" in text
    assert f"({grace} on the platform's defaults)" in text_of("07-disruption.ipynb", "l07-yours")
    assert f"platform's default pools set `{grace}`" in text_of("07-disruption.ipynb", "e8b494b1")


def test_lesson_05_one_node_holds_seven_of_team_a(catalog):
    """5.1: 10 pods of 1 CPU/1Gi on team-a (limit 8 CPU: types over 8 vCPU are dropped)."""
    path = "solutions/lesson-05/5.1.yaml"
    limit = int(cat.parse_quantity(nodepool(path)["spec"]["limits"]["cpu"]))
    n, pick = most_pods(catalog, path, 1000, 1024, max_vcpu=limit)
    it = catalog.by_name(pick.instance_type)
    room = ds.overhead(nodepool(path), DAEMONSETS)
    left = (it.allocatable_cpu_millis - room.cpu_millis) / 1000
    answer = text_of(L05, "l05-11")
    assert (f"`{it.name}` ({it.vcpu} vCPU, {it.allocatable_cpu_millis / 1000:g} allocatable, "
            f"{left:g} after the DaemonSets' {room.cpu_millis}m) with **{n} pods**") in answer
    assert f"**{n} Ready, {10 - n} Pending.**" in answer
    assert f"`cpu {it.vcpu}/{limit}`" in answer and f"its pods asked for {n}" in answer


def test_lesson_07_steady_sizes(catalog):
    """7.1: 8 pods of 1 CPU on `steady` (on-demand), then 2: one node of the cheapest type each
    time (the notebook shows the catalog's answer; this checks the story holds)."""
    path = "solutions/lesson-07/7.1-1.yaml"
    eight = catalog.by_name(cheapest(catalog, path, 8000, 0, 8).instance_type)
    two = catalog.by_name(cheapest(catalog, path, 2000, 0, 2).instance_type)
    assert eight.vcpu > 8 and two.vcpu < eight.vcpu, (eight, two)
