"""Every number a lesson's text states is computed here from the catalog and the manifests,
so the text and the catalog cannot drift apart (edit the catalog, and this says which
sentence to change).

No cluster needed: the catalog model answers what Karpenter's kwok provider would pick
(the cheapest fitting offering; see workshop/instances/catalog.py `Catalog.cheapest`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from workshop.instances import catalog as cat

REPO = Path(__file__).resolve().parents[2]


def text_of(notebook: str, cell_id: str) -> str:
    """A markdown cell's text with runs of whitespace folded (lines wrap anywhere)."""
    nb = json.loads((REPO / "notebooks" / notebook).read_text())
    (cell,) = [c for c in nb["cells"] if c.get("id") == cell_id]
    return re.sub(r"\s+", " ", "".join(cell["source"]))


def pool_requirements(path: str, kind_name: str | None = None) -> list[dict]:
    docs = [d for d in yaml.safe_load_all((REPO / path).read_text()) if d]
    (pool,) = [d for d in docs if d["kind"] == "NodePool"]
    return pool["spec"]["template"]["spec"]["requirements"]


@pytest.fixture(scope="module")
def catalog():
    return cat.load_catalog()


GENERAL = "cluster/platform/10-system-service-general-purpose.yaml"
ON_DEMAND = {"key": cat.CAPACITY_TYPE, "operator": "In", "values": ["on-demand"]}
L01, L02 = "01-first-provisioning.ipynb", "02-your-own-nodepool.ipynb"


def test_lesson_01_names_the_offerings_karpenter_picks(catalog):
    general = pool_requirements(GENERAL)
    five = catalog.cheapest(general, 5000, 5 * 1024)  # 1.1: 5 pods of 1 CPU and 1Gi
    assert five.capacity_type == "spot"
    one = catalog.cheapest(general, 1000, 1024)
    text = text_of(L01, "l01-17")
    assert f"a `{five.instance_type}` spot node for the five pods" in text
    assert f"Five `{one.instance_type}` spot nodes" in text
    assert 5 * one.price < five.price, "the text says five small nodes would cost less in total"


def test_lesson_01_on_demand_pick_is_graviton(catalog):
    pick = catalog.cheapest(pool_requirements(GENERAL) + [ON_DEMAND], 5000, 5 * 1024)
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
    pick = catalog.by_name(catalog.cheapest(reqs, 2000, 2048).instance_type)  # 4 × (500m, 512Mi)
    assert f"A **`{pick.name}`**" in text
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
