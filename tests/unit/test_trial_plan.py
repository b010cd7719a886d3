"""`workshop try`'s adaptation of a team's manifests (workshop/platform/trial_plan.py): pure,
so every rule is checked on the held-out files without a cluster."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from workshop.errors import WorkshopError
from workshop.platform import trial_plan

HELD_OUT = Path(__file__).resolve().parent.parent / "trial"
NAMESPACED = {"ServiceAccount", "ConfigMap", "Secret", "Service", "Deployment", "StatefulSet",
              "Job", "CronJob", "PersistentVolumeClaim", "Pod", "ReplicaSet", "DaemonSet"}
CLUSTER = {"ClusterRole", "StorageClass", "Namespace", "NodePool"}


def scope(api_version: str, kind: str) -> str | None:
    """What discovery answers on the local cluster for these kinds."""
    return "namespaced" if kind in NAMESPACED else "cluster" if kind in CLUSTER else None


def _plan(name: str) -> trial_plan.Plan:
    return trial_plan.plan(trial_plan.read([HELD_OUT / name]), "try-abc123", scope)


def _by_kind(pl: trial_plan.Plan, kind: str) -> list[dict]:
    return [o for o in pl.objects if o["kind"] == kind]


def test_several_workloads_in_one_file_move_to_the_scratch_namespace():
    pl = _plan("shop.yaml")
    assert [str(w) for w in pl.workloads] == ["Deployment shop-web", "Deployment shop-worker"]
    assert [w.pods for w in pl.workloads] == [3, 2]
    assert {o["metadata"]["namespace"] for o in pl.objects} == {"try-abc123"}
    # ConfigMap, Secret, Service, ServiceAccount applied as they are, before the pods.
    kinds = [o["kind"] for o in pl.objects]
    assert kinds[:4] == ["ServiceAccount", "ConfigMap", "Secret", "Service"]
    assert _by_kind(pl, "ConfigMap")[0]["data"] == {"LOG_LEVEL": "info"}
    assert not _by_kind(pl, "Namespace")
    assert any("ClusterRole shop-reader: cluster-scoped, refused" in r for r in pl.refused)
    assert any(n.startswith("namespace shop → try-abc123") for n in pl.notes)
    assert any(n.startswith("images are never pulled") for n in pl.notes)
    for dep in _by_kind(pl, "Deployment"):
        labels = dep["spec"]["template"]["metadata"]["labels"]
        assert labels[trial_plan.WORKLOAD_LABEL] == f"deployment.{dep['metadata']['name']}"


def test_the_learners_objects_are_never_changed():
    docs = trial_plan.read([HELD_OUT / "postgres.yaml"])
    before = copy.deepcopy(docs)
    text = (HELD_OUT / "postgres.yaml").read_text()
    trial_plan.plan(docs, "try-x", scope)
    assert docs == before
    assert (HELD_OUT / "postgres.yaml").read_text() == text


def test_claims_become_empty_dirs_and_the_statefulset_starts_its_pods_together():
    pl = _plan("postgres.yaml")
    (sts,) = _by_kind(pl, "StatefulSet")
    assert "volumeClaimTemplates" not in sts["spec"]
    assert sts["spec"]["podManagementPolicy"] == "Parallel"
    vols = {v["name"]: v for v in sts["spec"]["template"]["spec"]["volumes"]}
    assert vols == {"backups": {"name": "backups", "emptyDir": {}},
                    "data": {"name": "data", "emptyDir": {}}}
    assert not _by_kind(pl, "PersistentVolumeClaim")
    assert sum("→ emptyDir" in n for n in pl.notes) == 2
    assert any("PersistentVolumeClaim postgres-backups: skipped" in n for n in pl.notes)
    assert _by_kind(pl, "Service")


def test_a_cronjob_runs_once_as_a_job():
    pl = _plan("nightly-report.yaml")
    assert [(w.kind, w.name, w.pods) for w in pl.workloads] == [
        ("Job", "reindex", 2), ("Job", "nightly-report-trial", 1)]
    job = _by_kind(pl, "Job")[1]
    assert job["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["memory"] == "16Gi"
    assert any(n.startswith("CronJob nightly-report: its jobTemplate runs once") for n in pl.notes)


def test_nodepools_are_tried_on_the_local_node_class_and_named():
    pl = _plan("team-pool.yaml")
    assert pl.pools == ["team-ml-batch"]
    pool = pl.objects[0]
    assert pool["kind"] == "NodePool"
    assert pool["spec"]["template"]["spec"]["nodeClassRef"] == {
        "group": "karpenter.kwok.sh", "kind": "KWOKNodeClass", "name": "bottlerocket"}
    assert pool["metadata"]["labels"][trial_plan.TRIAL_LABEL] == "try-abc123"
    assert any("EC2NodeClass/default → KWOKNodeClass/bottlerocket" in n for n in pl.notes)


def test_unknown_kinds_are_skipped_with_a_line(tmp_path):
    f = tmp_path / "monitor.yaml"
    f.write_text("apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\n"
                 "metadata: {name: web, namespace: shop}\n")
    pl = trial_plan.plan(trial_plan.read([f]), "try-x", scope)
    assert not pl.objects
    assert pl.notes == ["ServiceMonitor web (monitoring.coreos.com/v1): skipped, this cluster "
                        "does not know the kind (a CRD the local platform lacks)"]


def test_a_directory_is_read_like_kubectl_apply_f(tmp_path):
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "b.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: b}\nspec: {containers: [{name: c, image: x}]}\n")
    (tmp_path / "a.yml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, image: x}]}\n")
    (tmp_path / "README.md").write_text("not a manifest")
    assert [o["metadata"]["name"] for _, o in trial_plan.read([tmp_path])] == ["a", "b"]


def test_broken_yaml_names_the_line(tmp_path):
    f = tmp_path / "broken.yaml"
    f.write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n spec: {}\n")
    with pytest.raises(WorkshopError) as err:
        trial_plan.read([f])
    assert "is not valid YAML at line" in err.value.message
    with pytest.raises(WorkshopError, match="no file"):
        trial_plan.read([tmp_path / "missing.yaml"])


def test_a_service_account_the_pods_name_is_made_when_the_files_lack_it(tmp_path):
    f = tmp_path / "web.yaml"
    f.write_text("""apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      serviceAccountName: web-sa
      containers: [{name: web, image: nginx}]
""")
    pl = trial_plan.plan(trial_plan.read([f]), "try-x", scope)
    assert pl.objects[0] == {"apiVersion": "v1", "kind": "ServiceAccount",
                             "metadata": {"name": "web-sa", "namespace": "try-x"}}
    assert any(n.startswith("ServiceAccount web-sa: not in the files") for n in pl.notes)
    assert not [o for o in _plan("shop.yaml").notes if "created empty" in o]  # shop has its own


def test_the_draft_request_asks_for_what_the_pods_select_and_tolerate():
    from workshop.instances import catalog
    from workshop.platform import request, trial_draft

    cat = catalog.load_catalog()
    pl = _plan("no-fit.yaml")
    specs = {o["metadata"]["name"]: (o["spec"] if o["kind"] == "Pod" else o["spec"]["template"]["spec"])
             for o in pl.objects}
    by_name = {w.name: w for w in pl.workloads}
    req, why = trial_draft.draft_request(by_name["vision-inference"], specs["vision-inference"], cat)
    # 2 pods of 1 GPU each: the cheapest type holding one (g4dn.xlarge, 1 T4) twice.
    assert (req.team, req.gpus, req.families, req.taints, req.vcpu, req.memory_gi) == (
        "vision", 2, ("g4dn",), ("team=vision:NoSchedule",), 8, 32)
    assert request.validate(req, cat).ok and why == ""
    assert trial_draft.command_line(req) == ("workshop request --team vision --vcpu 8 --memory-gi 32 "
                                             "--gpus 2 --families g4dn --taint team=vision:NoSchedule")
    req, why = trial_draft.draft_request(by_name["genome-assembler"], specs["genome-assembler"], cat)
    assert req is None and why.startswith("no instance type in the catalog holds one pod (512 CPU, 64Gi)")
