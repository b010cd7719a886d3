"""`workshop try` on the real cluster: every lesson's solutions and a held-out set of
real-world manifests (tests/trial/) each report, per workload, the pool, instance types and
cost, or the reason and the fix; the drafted custom-pool request really serves the workload
it was drafted for; a trial leaves nothing behind; broken YAML and API rejections are short
messages. Each trial's seconds are printed (a measure, not an assertion: `make bench` owns
speed goals).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from workshop import paths
from workshop.grading import core as grading, lessons
from workshop.instances import catalog
from workshop.k8s import kube
from workshop.platform import request, trial, trial_draft

pytestmark = pytest.mark.cluster

HELD_OUT = Path(__file__).resolve().parent.parent / "trial"
DEFAULT = "system-service-general-purpose"
SECONDS: dict[str, float] = {}


@pytest.fixture(scope="module", autouse=True)
def _times():
    yield
    print("\nworkshop try, seconds per file (under the machine's load): "
          + ", ".join(f"{k} {v:.1f}" for k, v in SECONDS.items()))


def _try(name: str, files, **kwargs) -> trial.Report:
    lines: list[str] = []
    report = trial.run(files, progress=lines.append, **kwargs)
    SECONDS[name] = report.seconds
    print(f"\n$ workshop try {name}\n" + "\n".join(lines) + "\n\n" + report.text())
    return report


def _outcome(report: trial.Report, kind: str, name: str) -> trial.Outcome:
    return next(o for o in report.outcomes if (o.workload.kind, o.workload.name) == (kind, name))


def _pools(report: trial.Report, o: trial.Outcome) -> set[str]:
    return {report.nodes[n].pool for n in o.placed.values()}


def _answered(report: trial.Report) -> None:
    """Every workload with pods: placed (pool, types, cost) or Pending (reason, fix)."""
    text = report.text()
    for o in report.outcomes:
        if o.workload.pods == 0:
            continue
        block = text.split(f"{o.workload} ({o.workload.source}):", 1)[1].split("\n\n", 1)[0]
        if o.waiting:
            assert "Pending" in block and ("fix:" in block), block
        else:
            assert len(o.placed) == o.workload.pods, block
            assert "NodePool " in block and "cost: $" in block, block
            for node in set(o.placed.values()):
                seen = report.nodes[node]
                assert seen.instance_type in block and seen.capacity_type in block
                assert seen.price is not None


def _lesson_files(n: int) -> list[Path]:
    """A lesson's solution files, leaving out a step that only scales to zero."""
    out = []
    for f in sorted((paths.SOLUTIONS_DIR / lessons.namespace(n)).glob("*.yaml")):
        objs = kube.load_manifest_files([f])
        if objs and all(o["kind"] == "Deployment" and o["spec"].get("replicas", 1) == 0
                        for o in objs):
            continue
        out.append(f)
    return out


def _left_behind(report: trial.Report) -> list[str]:
    ns = kube.get("v1", "Namespace", report.namespace)
    left = [f"namespace {report.namespace}"] if ns and not ns["metadata"].get("deletionTimestamp") else []
    left += [f"NodePool {p}" for p in report.plan.pools if kube.get("karpenter.sh/v1", "NodePool", p)]
    launched = {n.name for n in report.nodes.values() if n.new}
    left += [f"NodeClaim {c['metadata']['name']}" for c in kube.list_("karpenter.sh/v1", "NodeClaim")
             if (c.get("status") or {}).get("nodeName") in launched]
    return left


@pytest.mark.parametrize("n", [n for n in grading.lesson_numbers() if n > 0])
def test_each_lessons_solutions(cluster, n):
    report = _try(f"solutions/lesson-{n:02}", _lesson_files(n))
    assert report.outcomes
    _answered(report)
    assert not _left_behind(report)


def test_several_workloads_in_one_file(cluster):
    report = _try("shop.yaml", [HELD_OUT / "shop.yaml"])
    _answered(report)
    for name in ("shop-web", "shop-worker"):
        o = _outcome(report, "Deployment", name)
        assert _pools(report, o) == {DEFAULT}
    worker = _outcome(report, "Deployment", "shop-worker")
    cat = catalog.load_catalog()  # it selects arm64: Graviton nodes only
    assert {cat.by_name(report.nodes[n].instance_type).arch for n in worker.placed.values()} == {"arm64"}
    text = report.text()
    assert text.count("✓ the platform's default pools serve it") == 2
    assert "ClusterRole shop-reader: cluster-scoped, refused" in text
    assert "images are never pulled" in text
    assert not _left_behind(report)


def test_a_job_and_a_cronjob(cluster):
    report = _try("nightly-report.yaml", [HELD_OUT / "nightly-report.yaml"])
    _answered(report)
    reindex = _outcome(report, "Job", "reindex")
    assert len(reindex.placed) == 2
    assert {report.nodes[n].capacity_type for n in reindex.placed.values()} == {"spot"}
    assert len(_outcome(report, "Job", "nightly-report-trial").placed) == 1


def test_a_statefulset_with_a_volume_claim(cluster):
    report = _try("postgres.yaml", [HELD_OUT / "postgres.yaml"])
    _answered(report)
    assert len(_outcome(report, "StatefulSet", "postgres").placed) == 2
    assert "volumeClaimTemplates data → emptyDir" in report.text()


def test_pods_that_fit_no_pool_and_a_request_that_serves_them(cluster, tmp_path):
    report = _try("no-fit.yaml", [HELD_OUT / "no-fit.yaml"])
    _answered(report)
    giant = _outcome(report, "Pod", "genome-assembler")
    assert [p.verdict for p in giant.waiting.values()] == ["cannot"]
    text = report.text()
    assert "no custom pool would help: no instance type in the catalog holds one pod" in text
    vision = _outcome(report, "Deployment", "vision-inference")
    assert {p.verdict for p in vision.waiting.values()} == {"cannot"}
    assert "Subject: custom NodePool for team vision" in text
    # The draft, made into the platform's NodePool, serves the workload it was drafted for.
    cat = catalog.load_catalog()
    req, why = trial_draft.draft_request(vision.workload, vision.spec, cat)
    assert req is not None and request.validate(req, cat).ok, why
    workload = [o for o in yaml.safe_load_all((HELD_OUT / "no-fit.yaml").read_text())
                if o["kind"] == "Deployment"]
    drafted = tmp_path / "drafted.yaml"
    drafted.write_text(yaml.safe_dump_all([request.nodepool(req)] + workload))
    again = _try("no-fit.yaml's Deployment with the drafted pool", [drafted])
    served = _outcome(again, "Deployment", "vision-inference")
    assert len(served.placed) == 2 and _pools(again, served) == {req.pool_name}


def test_a_pool_whose_limits_hold_one_node_turns_the_second_pod_down_for_its_limits(
        cluster, tmp_path):
    # The draft's pool with room for one g4dn.xlarge (4 vCPU): the second pod waits for the
    # pool's limits. The trial must say so (the pool's labels are known keys while it
    # reads them), and only after Karpenter looked again with the first node's real size.
    cat = catalog.load_catalog()
    vision = next(o for o in yaml.safe_load_all((HELD_OUT / "no-fit.yaml").read_text())
                  if o["kind"] == "Deployment")
    req = request.Request(team="vision", vcpu=4, memory_gi=16, gpus=1, families=("g4dn",),
                          taints=("team=vision:NoSchedule",))
    assert request.validate(req, cat).ok
    files = tmp_path / "one-node.yaml"
    files.write_text(yaml.safe_dump_all([request.nodepool(req), vision]))
    report = _try("no-fit.yaml's Deployment, a pool with room for one node", [files])
    o = _outcome(report, "Deployment", "vision-inference")
    assert len(o.placed) == 1 and {p.verdict for p in o.waiting.values()} == {"cannot"}
    block = report.text().split("Deployment vision-inference", 1)[1]
    assert "the NodePool's limits are reached" in block, block
    assert "no NodePool makes nodes with the labels" not in block, block
    assert not _left_behind(report)


def test_a_team_pool_in_the_files_is_tried_on_the_local_node_class(cluster):
    report = _try("team-pool.yaml", [HELD_OUT / "team-pool.yaml"])
    _answered(report)
    o = _outcome(report, "Deployment", "feature-builder")
    assert _pools(report, o) == {"team-ml-batch"}
    types = {report.nodes[n].instance_type.split(".")[0] for n in o.placed.values()}
    assert types <= {"c7g", "c6i"}
    assert "EC2NodeClass/default → KWOKNodeClass/bottlerocket" in report.text()
    assert not _left_behind(report)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workshop.cli", "try", *args],
                          capture_output=True, text=True, timeout=180)


def test_the_verb_reports_and_never_changes_the_files(cluster, tmp_path):
    source = HELD_OUT / "postgres.yaml"
    before = source.read_bytes()
    out = _cli(str(source))
    assert out.returncode == 0, out.stderr
    assert "StatefulSet postgres (postgres.yaml): 2 of 2 pod(s) placed" in out.stdout
    assert "Cleaned up: namespace try-" in out.stdout
    assert source.read_bytes() == before

    broken = tmp_path / "broken.yaml"
    broken.write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n spec: {}\n")
    out = _cli(str(broken))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "is not valid YAML at line" in out.stderr

    rejected = tmp_path / "rejected.yaml"
    rejected.write_text(yaml.safe_dump({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "negative"},
        "spec": {"replicas": -1, "selector": {"matchLabels": {"app": "n"}},
                 "template": {"metadata": {"labels": {"app": "n"}},
                              "spec": {"containers": [{"name": "c", "image": "x"}]}}}}))
    out = _cli(str(rejected))
    assert out.returncode == 0 and "Traceback" not in out.stderr + out.stdout
    assert "Deployment negative (rejected.yaml): rejected by the API server: " in out.stdout
    assert "spec.replicas" in out.stdout
