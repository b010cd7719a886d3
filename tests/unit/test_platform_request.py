"""The platform's NodePool generator: every validation message, the conventions of the pool
it makes, the request text, the CLI verb, and the solutions it must keep equal."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from workshop.instances import catalog
from workshop import paths
from workshop.platform import defaults as platform
from workshop.platform import request as pr

REPO = Path(__file__).resolve().parents[2]
VISION = pr.Request("vision", vcpu=64, memory_gi=256, gpus=4, families=("g5",),
                    taints=("team=vision:NoSchedule",), labels=("team=vision",))


@pytest.fixture(scope="module")
def cat():
    return catalog.load_catalog()


def _errors(cat, **changes) -> list[str]:
    return pr.validate(replace(VISION, **changes), cat).errors


def _one_error(cat, **changes) -> str:
    errors = _errors(cat, **changes)
    assert len(errors) == 1, errors
    return errors[0]


def test_the_vision_request_is_clean(cat):
    problems = pr.validate(VISION, cat)
    assert problems.ok and not problems.warnings, problems


# ---------------------------------------------------------------- every validation message


@pytest.mark.parametrize("team, fix", [("Vision", "try `vision`"), ("vision_team", "try `vision-team`"),
                                       ("-vision", "try `vision`"), ("x" * 59, "at most 58")])
def test_team_must_be_a_dns_label(cat, team, fix):
    msg = _one_error(cat, team=team, labels=())
    assert "not a DNS label" in msg and fix in msg, msg


@pytest.mark.parametrize("family, near", [("G5", "did you mean g5?"), ("g5x", "g5"),
                                          ("m6", "m6g")])
def test_unknown_family_names_the_nearest(cat, family, near):
    msg = _one_error(cat, families=(family,))
    assert f"unknown instance family `{family}`" in msg and near in msg, msg


def test_unknown_family_far_from_everything_lists_the_catalog(cat):
    msg = _one_error(cat, families=("zzzzzz",))
    assert "the catalog has" in msg and "g5" in msg, msg


def test_no_families(cat):
    assert "no instance families" in _one_error(cat, families=())


def test_gpu_limit_with_a_family_without_nvidia_gpus(cat):
    msg = _one_error(cat, families=("g5", "m5"))
    assert "family m5 has no NVIDIA GPU" in msg and "set GPUs to 0" in msg, msg


def test_an_accelerator_that_is_not_nvidia_is_no_gpu(cat):
    """inf2 (AWS Inferentia2, aws.amazon.com/neuron) has no NVIDIA GPU."""
    msg = _one_error(cat, families=("inf2",))
    assert "inf2 has no NVIDIA GPU" in msg and "Inferentia" in msg, msg


def test_gpu_families_without_a_gpu_limit_warn(cat):
    problems = pr.validate(replace(VISION, gpus=0), cat)
    assert problems.ok
    assert any("g5 has NVIDIA GPUs but the request asks for none" in w for w in problems.warnings)


@pytest.mark.parametrize("taint, says", [
    ("team=vision", "has no effect: write key=value:Effect"),
    ("team=vision:noschedule", "use `NoSchedule` (case matters)"),
    ("team=vision:Always", "NoSchedule, PreferNoSchedule or NoExecute"),
    ("team vision:NoSchedule", "is not key=value:Effect"),
    ("Team.Example.COM/x=1:NoSchedule", "prefix (before '/') must be a lower-case DNS subdomain"),
    ("team=vision!:NoSchedule", "a value is at most 63"),
])
def test_taint_syntax(cat, taint, says):
    msg = _one_error(cat, taints=(taint,))
    assert msg.startswith(f"taint `{taint}`") and says in msg, msg


@pytest.mark.parametrize("key, domain", [
    ("karpenter.sh/team", "karpenter.sh"), ("kubernetes.io/arch", "kubernetes.io"),
    ("topology.kubernetes.io/zone", "kubernetes.io"), ("example.k8s.io/x", "k8s.io"),
    ("karpenter.k8s.aws/instance-family", "karpenter.k8s.aws"),
    ("karpenter.kwok.sh/instance-size", "karpenter.kwok.sh"),
    ("platform.workshop.dev/nodepool", "platform.workshop.dev"),
])
def test_labels_under_a_reserved_domain(cat, key, domain):
    msg = _one_error(cat, labels=(f"{key}=x",))
    assert f"`{key}` is under the reserved domain {domain}" in msg and "use a key of your own" in msg


@pytest.mark.parametrize("key", ["node.kubernetes.io/pool", "kubelet.kubernetes.io/x",
                                 "example.com/tier", "tier", "karpenter.shop/x"])
def test_karpenters_exceptions_and_own_keys_are_fine(cat, key):
    assert pr.validate(replace(VISION, labels=(f"{key}=x",)), cat).ok


def test_label_syntax(cat):
    assert "has no value: write key=value" in _one_error(cat, labels=("team",))
    assert "a value is at most 63" in _one_error(cat, labels=("tier=a b",))


def test_a_team_label_for_another_team(cat):
    assert "contradicts the platform's `team: vision`" in _one_error(cat, labels=("team=ml",))


@pytest.mark.parametrize("field, value, says", [
    ("vcpu", 0, "vCPU limit 0"), ("memory_gi", -1, "memory limit -1 Gi"),
    ("gpus", -2, "GPU limit -2")])
def test_limits_must_be_positive(cat, field, value, says):
    assert says in " ".join(_errors(cat, **{field: value}))


def test_capacity_type_spelling(cat):
    assert "use `on-demand` or `spot`" in _one_error(cat, capacity_types=("Spot",))


def test_limits_below_the_smallest_type(cat):
    msg = _one_error(cat, families=("p4d",), vcpu=64, memory_gi=256, gpus=4)
    assert "below the smallest admitted type p4d.24xlarge" in msg and "could never launch" in msg


def test_no_offering_for_the_capacity(cat):
    on_demand_only = catalog.Catalog(cat.types, [o for o in cat.offerings
                                                 if o.capacity_type == "on-demand"])
    msg = _one_error(on_demand_only, capacity_types=("spot",))
    assert msg == "no offering is spot in g5: widen the capacity types or families", msg
    assert pr.validate(replace(VISION, capacity_types=("spot",)), cat).ok  # spot g5 exists


def test_a_pool_without_a_taint_warns(cat):
    general = pr.Request("web", vcpu=16, memory_gi=64, families=("m5",))
    warnings = pr.validate(general, cat).warnings
    assert warnings == ["no taint: other teams' pods may land on this pool; add a team taint, "
                        "e.g. `team=web:NoSchedule`"]
    gpu_only = pr.validate(replace(VISION, taints=()), cat).warnings
    assert any("only the platform's nvidia.com/gpu taint: other teams' GPU pods" in w
               for w in gpu_only)


def test_every_message_is_one_line(cat):
    bad = pr.Request("Bad_Team", vcpu=0, memory_gi=0, gpus=1, families=("m5", "G5x"),
                     taints=("a", "b:c"), labels=("karpenter.sh/x=1", "y"))
    problems = pr.validate(bad, cat)
    assert len(problems.errors) >= 7
    for line in problems.errors + problems.warnings:
        assert "\n" not in line and len(line) < 260, line


# ---------------------------------------------------------------- the NodePool it makes


def _default_pool() -> dict:
    for path in platform.manifest_files():
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc["kind"] == "NodePool" and doc["metadata"]["name"] == platform.DEFAULT_NODEPOOLS[0]:
                return doc
    raise AssertionError("no default pool")


def test_the_vision_pool_follows_the_conventions():
    pool = pr.nodepool(VISION)
    spec, tmpl = pool["spec"], pool["spec"]["template"]
    default = _default_pool()["spec"]
    assert pool["metadata"] == {"name": "team-vision"}
    assert "weight" not in spec
    assert tmpl["metadata"]["labels"] == {"team": "vision",
                                          "platform.workshop.dev/nodepool": "team-vision"}
    assert tmpl["spec"]["nodeClassRef"] == {"group": "karpenter.kwok.sh", "kind": "KWOKNodeClass",
                                            "name": "bottlerocket"}
    assert tmpl["spec"]["requirements"] == [
        {"key": "karpenter.k8s.aws/instance-family", "operator": "In", "values": ["g5"]},
        {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["on-demand"]},
        {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]}]
    assert tmpl["spec"]["taints"] == [
        {"key": "team", "value": "vision", "effect": "NoSchedule"},
        {"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}]
    assert spec["limits"] == {"cpu": "64", "memory": "256Gi", "nvidia.com/gpu": "4"}
    assert spec["disruption"] == default["disruption"]
    assert tmpl["spec"]["expireAfter"] == default["template"]["spec"]["expireAfter"]


def test_a_cpu_pool_defaults_to_both_capacity_types_and_no_gpu_limit():
    pool = pr.nodepool(pr.Request("etl", vcpu=32, memory_gi=256, families=("m6g",),
                                  labels=("tier=batch",)))
    reqs = pool["spec"]["template"]["spec"]["requirements"]
    assert reqs[1]["values"] == ["on-demand", "spot"]
    assert "taints" not in pool["spec"]["template"]["spec"]
    assert pool["spec"]["limits"] == {"cpu": "32", "memory": "256Gi"}
    assert pool["spec"]["template"]["metadata"]["labels"]["tier"] == "batch"


def test_the_gpu_taint_is_not_doubled():
    req = replace(VISION, taints=("nvidia.com/gpu=true:NoSchedule", "team=vision:NoSchedule"))
    assert len(pr.taints(req)) == 2


@pytest.mark.parametrize("name", sorted(p.name for p in (paths.SOLUTIONS_DIR / "lesson-08")
                                        .glob("8.*-request.yaml")))
def test_solution_pools_are_the_generators_output(name):
    from checks import lesson_08

    doc = yaml.safe_load((paths.SOLUTIONS_DIR / "lesson-08" / name).read_text())
    req = {"team-vision": lesson_08.VISION, "team-etl": lesson_08.ETL}[doc["metadata"]["name"]]
    assert doc == pr.nodepool(req)


# ---------------------------------------------------------------- preview and text


def test_preview_of_the_vision_pool(cat):
    pv = pr.preview(VISION, cat)
    assert pv.offerings == 18 and pv.types == 6  # g5 on-demand in three zones
    assert pv.cheapest.instance_type == "g5.xlarge" and pv.dearest.instance_type == "g5.48xlarge"
    # Four GPUs: four 1-GPU nodes at the least, never a type that exceeds a limit.
    assert pv.low[0] == "g5.xlarge" and pv.low[1] == 4
    at_limits = [line for line in pv.lines() if line.startswith("at its limits")]
    assert at_limits and "g5.48xlarge" not in at_limits[0], at_limits


def test_request_text_states_the_six_things(cat):
    text = pr.request_text(VISION, cat)
    for part in ("team vision", "vCPU limit:        64", "memory limit:      256 Gi",
                 "GPU limit:         4", "g5 (amd64)", "team=vision:NoSchedule",
                 "extra labels:      team=vision", "nvidia.com/gpu=true:NoSchedule"):
        assert part in text, part


# ---------------------------------------------------------------- the CLI verb


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workshop.cli", *args], capture_output=True,
                          text=True, cwd=REPO, timeout=60)


VISION_ARGS = ["request", "--team", "vision", "--vcpu", "64", "--memory-gi", "256", "--gpus", "4",
               "--families", "g5", "--taint", "team=vision:NoSchedule", "--label", "team=vision"]


def test_cli_prints_the_nodepool():
    result = _cli(*VISION_ARGS)
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(result.stdout) == pr.nodepool(VISION)
    assert result.stderr == ""


def test_cli_prints_the_request_text():
    result = _cli(*VISION_ARGS, "--text")
    assert result.returncode == 0 and "custom NodePool for team vision" in result.stdout


def test_cli_lists_every_problem_in_one_line_each():
    result = _cli("request", "--team", "vision", "--vcpu", "64", "--memory-gi", "256",
                  "--gpus", "4", "--families", "g5x,m5", "--taint", "team=vision")
    assert result.returncode == 2 and result.stdout == ""
    assert "error: the request has 3 problems" in result.stderr
    assert re.search(r"- unknown instance family `g5x`: did you mean g5", result.stderr)
    assert "warning: only the platform's nvidia.com/gpu taint" in result.stderr
    assert "Traceback" not in result.stderr


# ---------------------------------------------------------------- Karpenter's source


def test_reserved_domains_match_karpenters_source():
    """Karpenter v1.14.1 restricts its own group and the provider's (labels.go, the kwok
    provider's init) and its NodePool CRD says so: checked when the Go module cache holds
    the source (it does once the binaries are built)."""
    found = sorted(paths.CACHE.glob("go/mod/sigs.k8s.io/karpenter@v*/"))
    if not found:
        pytest.skip("Karpenter's source is not in the Go module cache yet")
    src = found[-1]
    labels = (src / "pkg/apis/v1/labels.go").read_text()
    restricted = re.search(r"RestrictedLabelDomains = sets\.New\((.*?)\)", labels, re.S).group(1)
    assert restricted.split() == ["apis.Group,"]  # karpenter.sh, nothing else
    assert re.search(r'Group += "karpenter.sh"', (src / "pkg/apis/apis.go").read_text())
    kwok = (src / "kwok/apis/v1alpha1/labels.go").read_text()
    assert "v1.RestrictedLabelDomains.Insert(apis.Group)" in kwok
    assert re.search(r'Group += "karpenter.kwok.sh"', (src / "kwok/apis/apis.go").read_text())
    crd = (src / "pkg/apis/crds/karpenter.sh_nodepools.yaml").read_text()
    assert 'label domain "karpenter.sh" is restricted' in crd
    for domain in ("karpenter.sh", "karpenter.kwok.sh"):
        assert domain in pr.RESERVED_DOMAINS
