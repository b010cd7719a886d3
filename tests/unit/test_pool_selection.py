"""Which NodePools a pod's required node selection admits (workshop/k8s/selection.py), on
the platform's real default pools and the lessons' reference pools."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from workshop.k8s import selection

REPO = Path(__file__).resolve().parents[2]


def _pools(*paths: str) -> list[dict]:
    docs = [d for p in paths for d in yaml.safe_load_all((REPO / p).read_text()) if d]
    return [d for d in docs if d["kind"] == "NodePool"]


DEFAULTS = ("cluster/platform/10-system-service-general-purpose.yaml",
            "cluster/platform/20-system-service-gpu.yaml")
LESSON_08 = (*DEFAULTS, "solutions/lesson-08/8.2-request.yaml",
             "solutions/lesson-08/8.3-request.yaml")


def _required(key: str, op: str, values: list[str]) -> dict:
    return {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [
            {"key": key, "operator": op, "values": values}]}]}}}}


@pytest.mark.parametrize("spec", [
    {"nodeSelector": {"team": "vision"}},
    {"nodeSelector": {"platform.workshop.dev/nodepool": "team-vision"}},
    {"nodeSelector": {"karpenter.sh/nodepool": "team-vision"}},
    _required("team", "In", ["vision"]),
    _required("karpenter.sh/nodepool", "In", ["team-vision"]),
], ids=["team", "platform-label", "karpenter-label", "team-affinity", "karpenter-affinity"])
def test_every_label_that_pins_the_team_pool_admits_only_it(spec):
    assert selection.pools_admitting(spec, _pools(*LESSON_08)) == ["team-vision"]


def test_no_selection_admits_every_pool():
    assert selection.pools_admitting({}, _pools(*LESSON_08)) == [
        "system-service-general-purpose", "system-service-gpu", "team-etl", "team-vision"]


def test_catalog_keys_do_not_pin_a_pool():
    # arm64 spot is what team-etl gives, but the general pool offers it too.
    spec = {"nodeSelector": {"kubernetes.io/arch": "arm64", "karpenter.sh/capacity-type": "spot"}}
    assert "system-service-general-purpose" in selection.pools_admitting(spec, _pools(*LESSON_08))


def test_excluding_a_label_admits_pools_without_it():
    spec = _required("team", "NotIn", ["vision"])
    assert selection.pools_admitting(spec, _pools(*LESSON_08)) == [
        "system-service-general-purpose", "system-service-gpu", "team-etl"]


def test_terms_are_ored():
    spec = {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [
            {"matchExpressions": [{"key": "team", "operator": "In", "values": ["etl"]}]},
            {"matchExpressions": [{"key": "karpenter.sh/nodepool", "operator": "In",
                                   "values": ["team-vision"]}]}]}}}}
    assert selection.pools_admitting(spec, _pools(*LESSON_08)) == ["team-etl", "team-vision"]


def test_a_pool_that_does_not_exist_admits_nothing():
    spec = {"nodeSelector": {"karpenter.sh/nodepool": "team-visoin"}}
    assert selection.pools_admitting(spec, _pools(*LESSON_08)) == []


def test_the_rules_are_named_as_written():
    spec = {"nodeSelector": {"platform.workshop.dev/nodepool": "team-vision",
                             "kubernetes.io/arch": "amd64"}}
    assert selection.pinning_rules(spec, _pools(*LESSON_08)) == \
        "`platform.workshop.dev/nodepool: team-vision`"
