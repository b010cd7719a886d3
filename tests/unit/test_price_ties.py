"""Price ties the lessons mention (lessons 01 and 05): two instance types offered at the same
price, where the kwok provider takes the first by name and EKS leaves the choice to EC2."""

from __future__ import annotations

from workshop.instances import catalog as cat


def _prices(catalog, instance_type: str, capacity_type: str) -> set[float]:
    return {o.price for o in catalog.offerings
            if o.instance_type == instance_type and o.capacity_type == capacity_type}


def test_c5_and_c6i_2xlarge_cost_the_same_on_demand():
    catalog = cat.load_catalog()
    c5 = _prices(catalog, "c5.2xlarge", "on-demand")
    assert c5 and c5 == _prices(catalog, "c6i.2xlarge", "on-demand"), \
        "lesson 05 (cell l05-09) says these two cost exactly the same on-demand"


def test_the_model_breaks_a_tie_by_name_as_kwok_does():
    # kwok/cloudprovider/cloudprovider.go toNode: the NodeClaim's instance types come sorted by
    # name (pkg/scheduling/requirement.go, sets.List) and only a strictly lower price replaces
    # the first, so of two equal prices the first name wins.
    catalog = cat.load_catalog()
    reqs = [{"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["on-demand"]},
            {"key": "node.kubernetes.io/instance-type", "operator": "In",
             "values": ["c6i.2xlarge", "c5.2xlarge"]}]
    assert catalog.cheapest(reqs, 7000, 1024).instance_type == "c5.2xlarge"
