"""`explain` against Karpenter itself: for every solved exercise's workload (every lesson,
with the NodePools its solutions make), one pod alone in its launch lands on exactly the
instance type and capacity type explain predicts; a pod
no NodePool can serve is explained pool by pool (the taint named, the label's key named);
the viewer's terminal twin shows the nodes and the pending pod's reason.
"""

from __future__ import annotations

import copy
import re
import subprocess
import sys

import pytest

from workshop.lab import explanation
from workshop.grading import core as grading, lessons
from workshop.k8s import kube, observe
from workshop import paths
from workshop.k8s.workloads import deployment

pytestmark = pytest.mark.cluster

ALONE = {"explain-test": "alone"}
# Each test pod on its own node: the launch is sized for it alone, so the prediction for
# one pod is exactly Karpenter's choice.
ANTI_AFFINITY = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
    {"labelSelector": {"matchLabels": ALONE}, "topologyKey": "kubernetes.io/hostname"}]}}


def _solved_workloads() -> list[tuple[str, list[dict], dict]]:
    """(exercise, objects to apply first, Deployment) for each solution with pods."""
    out = []
    for n in grading.lesson_numbers():
        if n == 0:
            continue
        earlier: list[dict] = []
        for path in sorted((paths.SOLUTIONS_DIR / lessons.namespace(n)).glob("*.yaml")):
            objs = kube.load_manifest_files([path])
            earlier += [o for o in objs if o["kind"] != "Deployment"]  # e.g. its NodePool
            for obj in objs:
                if obj["kind"] == "Deployment" and obj["spec"].get("replicas", 1) > 0:
                    out.append((path.stem, list(earlier), obj))
    return out


def _alone(dep: dict, ns: str, name: str) -> dict:
    dep = copy.deepcopy(dep)
    dep["metadata"] = {"name": name, "namespace": ns}
    dep["spec"]["replicas"] = 1
    dep["spec"]["selector"] = {"matchLabels": {"app": name}}
    tmpl = dep["spec"]["template"]
    tmpl["metadata"] = {"labels": {"app": name, **ALONE}}
    tmpl["spec"]["affinity"] = {**(tmpl["spec"].get("affinity") or {}), **ANTI_AFFINITY}
    return dep


WORKLOADS = _solved_workloads()


@pytest.mark.parametrize("exercise,before,dep", WORKLOADS, ids=[w[0] for w in WORKLOADS])
def test_prediction_matches_karpenters_choice(ns, exercise, before, dep):
    if any(((o.get("spec") or {}).get("template") or {}).get("spec", {}).get("startupTaints")
           for o in before if o["kind"] == "NodePool"):
        pytest.skip(f"{exercise}: its pods wait for an agent to lift a startup taint "
                    "(the notebook does it by hand)")
    name = f"alone-{exercise.replace('.', '-')}"
    try:
        _predict_and_launch(ns, exercise, before, _alone(dep, ns, name))
    finally:
        # Whatever way the test ends (a skip too), the lesson's NodePools would compete
        # for the next lesson's pods, and the lessons' own tests expect none left.
        kube.delete("apps/v1", "Deployment", name, ns)
        if before:
            lessons.reset(int(exercise.split(".")[0]))


def _predict_and_launch(ns: str, exercise: str, before: list[dict], dep: dict) -> None:
    if before:
        kube.apply(before, field_manager="tests")
    # Nodes left by earlier tests (empty until consolidated) would take the pod: cordoned,
    # they cannot, so Karpenter launches a node for this pod alone.
    for node in observe.nodes():
        kube.core().patch_node(node["metadata"]["name"], {"spec": {"unschedulable": True}})
    kube.apply([dep], field_manager="tests")
    name = dep["metadata"]["name"]
    (pod,) = observe.wait_pods_ready(ns, f"app={name}", 1, 60)
    node = kube.get("v1", "Node", pod["spec"]["nodeName"])
    labels = node["metadata"]["labels"]
    story = explanation.explain_pod(pod["metadata"]["name"], ns)
    text = story.text()
    if "already existed" in text:
        pytest.skip(f"{exercise}: the pod reused a node left by an earlier test")
    line = next(l for _, l in story.lines if l.startswith("For this pod alone"))
    assert "that is what it launched" in line, text
    want = f"{labels['node.kubernetes.io/instance-type']} {labels['karpenter.sh/capacity-type']}"
    assert want in line, text
    served = [l for _, l in story.lines if "could launch a node" in l]
    assert served and served[0].startswith(labels["karpenter.sh/nodepool"]), text

def test_pending_pod_is_explained_pool_by_pool(ns):
    kube.apply([deployment("nowhere", ns, cpu="1", memory="1Gi", gpus=1,
                           node_selector={"team": "nobody"})], field_manager="tests")
    pod = kube.wait_until(lambda: next(iter(observe.pods(ns, "app=nowhere")), None), 30, 0.2,
                          "the pod")
    text = explanation.explain_pod(pod["metadata"]["name"], ns).text()
    assert "Pending: " in text, text
    gpu = re.search(r"system-service-gpu \(weight \d+\): ✗ (.*)", text)
    assert gpu and "nvidia.com/gpu=true:NoSchedule" in gpu.group(1), text
    general = re.search(r"system-service-general-purpose \(weight \d+\): ✗ (.*)", text)
    assert general and "team" in general.group(1), text
    # The same pod in the terminal viewer, with Karpenter's (or the scheduler's) reason.
    out = subprocess.run([sys.executable, "-m", "workshop.cli", "nodes", "--once", "-n", ns],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert f"{ns}/{pod['metadata']['name']}" in out.stdout, out.stdout
    cli = subprocess.run([sys.executable, "-m", "workshop.cli", "explain", "nowhere", "-n", ns],
                         capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0 and "Pending: " in cli.stdout, cli.stdout + cli.stderr
