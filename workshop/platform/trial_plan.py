"""What `workshop try` will apply: a team's manifests adapted to the local platform mirror.

Pure: the files' objects in, the objects to apply and one line per change out. The cluster
is asked only one thing, through `scope` (is this kind namespaced, cluster-scoped, or
unknown here?), so every rule below is tested without a cluster.

What cannot run here, and what the trial does instead (one note line each):
- images are never pulled (kwok runs no containers): nothing to change, said once;
- volume claims cannot bind (no storage here): a pod's `persistentVolumeClaim` or
  `ephemeral` volume and a StatefulSet's `volumeClaimTemplates` become `emptyDir`s,
  and PersistentVolumeClaim objects are skipped;
- every `namespace:` is replaced by the trial's scratch namespace (Namespace objects too);
- a CronJob's jobTemplate runs once, now, as a Job; a StatefulSet starts its pods together
  (podManagementPolicy: Parallel) so the trial does not wait for them one by one;
- NodePools are tried too, their nodeClassRef pointed at the local node class;
- other cluster-scoped objects (ClusterRoles, CRDs, StorageClasses, ...) are refused.
The learner's files are only read; the adapted copies live in memory.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from workshop.errors import WorkshopError
from workshop.k8s import kube
from workshop.names import NODECLASS_API
from workshop.platform import defaults

# Every pod of a trial carries this label (value: `kind.name` of its workload), so the
# report finds a workload's pods without following owner references.
WORKLOAD_LABEL = "trial.workshop.dev/workload"
# NodePools from the files carry this label (value: the scratch namespace): cleanup finds them.
TRIAL_LABEL = "trial.workshop.dev/namespace"
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "ReplicaSet", "Job", "CronJob", "Pod")
SUFFIXES = (".yaml", ".yml", ".json")
MAX_FILES = 200  # a directory of manifests, not a repository

Scope = Callable[[str, str], str | None]  # (apiVersion, kind) -> "namespaced" | "cluster" | None


@dataclass
class Workload:
    kind: str
    name: str
    source: str
    pods: int  # how many pods it should make at once

    @property
    def key(self) -> str:
        return f"{self.kind.lower()}.{self.name}"[:63].rstrip(".-_")

    def __str__(self) -> str:
        return f"{self.kind} {self.name}"


@dataclass
class Plan:
    namespace: str
    objects: list[dict] = field(default_factory=list)  # NodePools first, then the rest
    notes: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    workloads: list[Workload] = field(default_factory=list)
    pools: list[str] = field(default_factory=list)  # NodePools from the files


# ---------------------------------------------------------------- reading the files


def files_in(paths: Iterable[str | Path]) -> list[Path]:
    """The files to read: each file given, and the manifests of each directory (sorted, as
    `kubectl apply -f DIR` reads them)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix in SUFFIXES)
            if not found:
                raise WorkshopError(f"no manifests (*.yaml, *.yml, *.json) in {p}",
                                    fix="give the files, or a directory holding them")
            out += found
        elif p.is_file():
            out.append(p)
        else:
            raise WorkshopError(f"no file {p}", fix="check the path (a file or a directory)")
    if len(out) > MAX_FILES:
        raise WorkshopError(f"{len(out)} files: a trial takes at most {MAX_FILES}",
                            fix="give the chart's rendered output or one directory of manifests")
    return out


def read(paths: Iterable[str | Path]) -> list[tuple[str, dict]]:
    """(file, object) for every document; broken YAML stops here with its line."""
    out = []
    for f in files_in(paths):
        try:
            text = f.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise WorkshopError(f"cannot read {f}: {exc}", fix="give a text file of YAML") from None
        out += [(f.name, obj) for obj in kube.parse_manifests(text, source=str(f))]
    if not out:
        raise WorkshopError("the files hold no objects", fix="give files with Kubernetes manifests")
    return out


# ---------------------------------------------------------------- adapting


def plan(docs: list[tuple[str, dict]], namespace: str, scope: Scope) -> Plan:
    pl = Plan(namespace)
    pools, rest = [], []
    images: set[str] = set()
    moved: set[str] = set()
    for source, original in docs:
        obj = copy.deepcopy(original)
        kind, name = obj["kind"], obj["metadata"]["name"]
        what = f"{kind} {name}"
        if kind == "Namespace":
            pl.notes.append(f"{what}: not created; everything goes into {namespace}")
            continue
        if kind == "NodePool" and obj["apiVersion"].startswith("karpenter.sh/"):
            earlier = [p for p in pools if p["metadata"]["name"] == name]
            pools = [p for p in pools if p["metadata"]["name"] != name]  # the last one stays
            pools.append(_nodepool(obj, namespace, pl, quiet=bool(earlier)))
            continue
        where = scope(obj["apiVersion"], kind)
        if where is None:
            pl.notes.append(f"{what} ({obj['apiVersion']}): skipped, this cluster does not "
                            "know the kind (a CRD the local platform lacks)")
            continue
        if where == "cluster":
            pl.refused.append(f"{what}: cluster-scoped, refused (a trial creates only "
                              "namespaced objects and NodePools; ask the platform team for it)")
            continue
        if kind == "PersistentVolumeClaim":
            pl.notes.append(f"{what}: skipped (no storage here; pods get an emptyDir instead)")
            continue
        if kind == "DaemonSet":
            pl.notes.append(f"{what}: skipped (one pod per node is the platform's business; "
                            "Karpenter counts the platform's DaemonSets into each node)")
            continue
        old_ns = obj["metadata"].get("namespace")
        if old_ns and old_ns != namespace:
            moved.add(old_ns)
        obj["metadata"]["namespace"] = namespace
        if kind == "CronJob":
            obj = _job_from_cronjob(obj, pl)
            kind, name = "Job", obj["metadata"]["name"]
        if kind in WORKLOAD_KINDS:
            w = Workload(kind, name, source, _pods_expected(obj))
            spec = _pod_spec(obj)
            if spec is None:
                pl.refused.append(f"{what}: no pod template (spec.template.spec), refused")
                continue
            _label_pods(obj, w.key)
            images |= {c.get("image", "") for c in (spec.get("containers") or [])} - {""}
            _claims_to_empty_dirs(obj, spec, pl)
            if kind == "StatefulSet" and (obj["spec"].get("podManagementPolicy") or "OrderedReady") != "Parallel":
                obj["spec"]["podManagementPolicy"] = "Parallel"
                pl.notes.append(f"{what}: pods start together for the trial "
                                "(podManagementPolicy: Parallel), not one by one")
            earlier = [x for x in pl.workloads if x.key == w.key]
            if earlier:  # applied in order, as `kubectl apply -f DIR`: the last one stays
                pl.workloads.remove(earlier[0])
                pl.notes.append(f"{what}: in {earlier[0].source} and {source}; the trial "
                                f"applies both in order, so {source}'s stays")
            pl.workloads.append(w)
        rest.append(obj)
    _missing_service_accounts(rest, namespace, pl)
    if moved:
        pl.notes.insert(0, f"namespace {', '.join(sorted(moved))} → {namespace} (a scratch "
                           "namespace, removed afterwards)")
    if images:
        shown = sorted(images)
        pl.notes.insert(0, f"images are never pulled (kwok runs no containers): "
                           f"{', '.join(shown[:3])}{' …' if len(shown) > 3 else ''}")
    # NodePools first so the pods find them; ConfigMaps, Secrets and the like before pods.
    order = {k: i for i, k in enumerate(WORKLOAD_KINDS)}
    rest.sort(key=lambda o: o["kind"] in order)
    pl.objects = pools + rest
    pl.pools = [p["metadata"]["name"] for p in pools]
    return pl


def _missing_service_accounts(objs: list[dict], namespace: str, pl: Plan) -> None:
    """Pods naming a ServiceAccount the files do not hold would be refused at creation
    (the ServiceAccount admission plugin): the trial makes an empty one of that name."""
    have = {o["metadata"]["name"] for o in objs if o["kind"] == "ServiceAccount"}
    named = []
    for o in objs:
        spec = _pod_spec(o) if o["kind"] in WORKLOAD_KINDS else None
        name = (spec or {}).get("serviceAccountName") or (spec or {}).get("serviceAccount")
        if name and name != "default" and name not in have and name not in named:
            named.append(name)
    for name in named:
        objs.insert(0, {"apiVersion": "v1", "kind": "ServiceAccount",
                        "metadata": {"name": name, "namespace": namespace}})
        pl.notes.append(f"ServiceAccount {name}: not in the files, created empty for the trial "
                        "(the pods name it)")


def _nodepool(obj: dict, namespace: str, pl: Plan, quiet: bool = False) -> dict:
    meta = obj["metadata"]
    meta.pop("namespace", None)
    meta.setdefault("labels", {})[TRIAL_LABEL] = namespace
    tmpl = obj.setdefault("spec", {}).setdefault("template", {}).setdefault("spec", {})
    ref = tmpl.get("nodeClassRef") or {}
    local = {"group": NODECLASS_API.split("/")[0], "kind": "KWOKNodeClass",
             "name": defaults.NODECLASS}
    if quiet:
        pass  # the same NodePool again (a later step of it): said once
    elif ref != local:
        was = f"{ref.get('kind', '?')}/{ref.get('name', '?')}" if ref else "none"
        pl.notes.append(f"NodePool {meta['name']}: tried too; nodeClassRef {was} → "
                        f"KWOKNodeClass/{defaults.NODECLASS} (the local node class)")
    else:
        pl.notes.append(f"NodePool {meta['name']}: tried too (removed afterwards)")
    tmpl["nodeClassRef"] = local
    return obj


def _job_from_cronjob(cron: dict, pl: Plan) -> dict:
    tmpl = (cron.get("spec") or {}).get("jobTemplate") or {}
    name = cron["metadata"]["name"][:52] + "-trial"
    job = {"apiVersion": "batch/v1", "kind": "Job",
           "metadata": {"name": name, "namespace": cron["metadata"]["namespace"],
                        "labels": (tmpl.get("metadata") or {}).get("labels") or {}},
           "spec": copy.deepcopy(tmpl.get("spec") or {})}
    pl.notes.append(f"CronJob {cron['metadata']['name']}: its jobTemplate runs once, now, "
                    f"as Job {name}")
    return job


def _pod_spec(obj: dict) -> dict | None:
    if obj["kind"] == "Pod":
        return obj.get("spec") if isinstance(obj.get("spec"), dict) else None
    spec = (((obj.get("spec") or {}).get("template") or {}).get("spec"))
    return spec if isinstance(spec, dict) else None


def _label_pods(obj: dict, key: str) -> None:
    meta = obj if obj["kind"] == "Pod" else obj["spec"]["template"]
    meta.setdefault("metadata", {}).setdefault("labels", {})[WORKLOAD_LABEL] = key


def _pods_expected(obj: dict) -> int:
    spec = obj.get("spec") or {}
    if obj["kind"] == "Pod":
        return 1
    if obj["kind"] in ("Job", "CronJob"):
        if obj["kind"] == "CronJob":
            spec = ((spec.get("jobTemplate") or {}).get("spec") or {})
        parallelism = spec.get("parallelism", 1)
        completions = spec.get("completions")
        return int(min(parallelism, completions) if completions is not None else parallelism)
    return int(spec.get("replicas", 1))


def _claims_to_empty_dirs(obj: dict, spec: dict, pl: Plan) -> None:
    what = f"{obj['kind']} {obj['metadata']['name']}"
    for vol in spec.get("volumes") or []:
        claim = vol.pop("persistentVolumeClaim", None)
        ephemeral = vol.pop("ephemeral", None)
        if claim is not None or ephemeral is not None:
            vol["emptyDir"] = {}
            src = f"claim {claim.get('claimName')}" if claim else "an ephemeral claim"
            pl.notes.append(f"{what}: volume {vol.get('name')} ({src}) → emptyDir for the "
                            "trial (no storage here; on EKS an EBS volume pins the pod to its zone)")
    templates = (obj.get("spec") or {}).pop("volumeClaimTemplates", None) if obj["kind"] == "StatefulSet" else None
    if templates:
        have = {v.get("name") for v in spec.get("volumes") or []}
        names = [(t.get("metadata") or {}).get("name") for t in templates]
        spec.setdefault("volumes", []).extend(
            {"name": n, "emptyDir": {}} for n in names if n and n not in have)
        pl.notes.append(f"{what}: volumeClaimTemplates {', '.join(n for n in names if n)} → "
                        "emptyDir for the trial (no storage here; on EKS each EBS volume pins "
                        "its pod to a zone)")


def cluster_scope(api_version: str, kind: str) -> str | None:
    """The live cluster's answer for `plan`: namespaced, cluster-scoped, or unknown."""
    try:
        return "namespaced" if kube.resource(api_version, kind).namespaced else "cluster"
    except WorkshopError:
        return None
