"""The platform's NodePool generator: a team's request in, problems or a NodePool out.

On the platform this kit mirrors, teams use the default `system-service-*` NodePools and
ask for a custom one only when those cannot serve them. A request states six things (vCPU
limit, memory limit in Gi, GPU limit, instance families, extra taints, extra labels) and,
optionally, capacity types; the platform team turns it into a NodePool with this
generator. `workshop request ...`, the notebook's request form (request_form.py) and the
lesson 08 grader all use these functions, so there is one way a request becomes a pool.

    req = Request("vision", vcpu=64, memory_gi=256, gpus=4, families=("g5",),
                  taints=("team=vision:NoSchedule",), labels=("team=vision",))
    problems = validate(req, catalog.load_catalog())   # errors block, warnings inform
    pool = nodepool(req)                               # the NodePool as a dict
    print(request_text(req, cat))                      # what the team sends

Pure: no cluster, no client; it reads only the catalog and the platform's manifests.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Iterable, Mapping

import yaml

from workshop.instances import catalog
from workshop import paths
from workshop.platform import defaults as platform

NODEPOOL_API = platform.NODEPOOL_API
TEAM_LABEL = "team"
POOL_LABEL = "platform.workshop.dev/nodepool"
GPU_TAINT = {"key": catalog.GPU_RESOURCE, "value": "true", "effect": "NoSchedule"}
DEFAULT_CAPACITY = ("on-demand", "spot")
GPU_DEFAULT_CAPACITY = ("on-demand",)
EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
# The pool whose disruption, expireAfter and terminationGracePeriod every custom pool copies.
CONVENTIONS_FROM = platform.DEFAULT_NODEPOOLS[0]

# Label domains a team may not put on nodes, and whose they are.
# - karpenter.sh: Karpenter v1.14.1's RestrictedLabelDomains (pkg/apis/v1/labels.go); its
#   NodePool CRD rejects template labels under it ('label domain "karpenter.sh" is
#   restricted', pkg/apis/crds/karpenter.sh_nodepools.yaml).
# - the cloud provider's group: each provider inserts it into RestrictedLabelDomains at init
#   (kwok/apis/v1alpha1/labels.go: karpenter.kwok.sh; the AWS provider: karpenter.k8s.aws).
# - kubernetes.io and k8s.io: Kubernetes' own. Its NodeRestriction admission lets a kubelet
#   set only the well-known ones and those under node.kubernetes.io and kubelet.kubernetes.io,
#   and the well-known ones (arch, zone, instance type, ...) are Karpenter's and the kubelet's
#   to set, never a team's.
# - the platform's domain: the generator sets it.
# tests/unit/test_platform_request.py reads Karpenter's source (Go module cache) to keep
# the first two true.
RESERVED_DOMAINS = {
    "karpenter.sh": "Karpenter's own: its NodePool API rejects it",
    "karpenter.k8s.aws": "the AWS provider's: Karpenter rejects it",
    "karpenter.kwok.sh": "the kwok provider's: Karpenter rejects it",
    "kubernetes.io": "Kubernetes' own: a kubelet may not set it",
    "k8s.io": "Kubernetes' own: a kubelet may not set it",
    "platform.workshop.dev": "the platform's: the generator sets it",
}
DOMAIN_EXCEPTIONS = ("node.kubernetes.io", "kubelet.kubernetes.io")

# Kubernetes' syntax rules (apimachinery validation): a DNS label, a label value, a
# qualified name (the part after an optional `prefix/`).
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
# `team-<team>` must itself fit a label value (63 characters): the pool label carries it.
MAX_TEAM = 63 - len("team-")

# AWS instance category letters, as the catalog's families use them, for people.
CATEGORY_NAMES = {
    "m": "general purpose", "c": "compute optimized", "r": "memory optimized",
    "t": "burstable", "g": "GPU (NVIDIA)", "p": "GPU (NVIDIA)",
    "inf": "ML accelerator (AWS Inferentia)", "trn": "ML accelerator (AWS Trainium)",
}


@dataclass(frozen=True)
class Request:
    """What a team asks for. Taints as `key=value:Effect`, labels as `key=value`."""

    team: str
    vcpu: int
    memory_gi: int
    gpus: int = 0
    families: tuple[str, ...] = ()
    taints: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    # Empty: the platform's default (on-demand and spot; GPU pools on-demand).
    capacity_types: tuple[str, ...] = ()

    @property
    def pool_name(self) -> str:
        return f"team-{self.team}"

    @property
    def capacity(self) -> tuple[str, ...]:
        if self.capacity_types:
            return tuple(dict.fromkeys(self.capacity_types))
        return GPU_DEFAULT_CAPACITY if self.gpus > 0 else DEFAULT_CAPACITY


@dataclass
class Problems:
    """Errors block the request; warnings are worth reading. One line each, naming the fix."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


# ---------------------------------------------------------------- the catalog, per family


@dataclass(frozen=True)
class Family:
    name: str
    category: str       # CATEGORY_NAMES' words
    arch: str
    vcpu: tuple[int, int]
    memory_gib: tuple[float, float]
    price: tuple[float, float]   # on-demand USD/h
    gpus: tuple[int, int]        # NVIDIA GPUs
    gpu_name: str

    @property
    def nvidia(self) -> bool:
        return self.gpus[1] > 0

    def shape(self) -> str:
        """Its ranges in a few words: "2–32 vCPU · 8–128 GiB · 1–8 A10G · $0.096–1.536/h"."""
        gpu = f" · {self._range(self.gpus)} {self.gpu_name.upper()}" if self.nvidia else ""
        return (f"{self._range(self.vcpu)} vCPU · {self._range(self.memory_gib)} GiB{gpu} · "
                f"${self.price[0]:.3f}–{self.price[1]:.3f}/h")

    def describe(self) -> str:
        return f"{self.name} ({self.arch}): {self.shape()}"

    @staticmethod
    def _range(pair) -> str:
        low, high = (f"{v:g}" for v in pair)
        return low if low == high else f"{low}–{high}"


def _category_of(family: str, letters: str) -> str:
    return CATEGORY_NAMES.get(letters) or CATEGORY_NAMES.get(family[:1], "other")


def families(cat: catalog.Catalog) -> dict[str, Family]:
    """Every family in the catalog, by name, in the catalog's family order."""
    found: dict[str, Family] = {}
    for name in cat.families():
        types = [t for t in cat.types if t.family == name]
        nvidia = [t.gpus for t in types if t.gpus and t.gpu_manufacturer == "nvidia"]
        found[name] = Family(
            name=name,
            category=_category_of(name, types[0].category),
            arch="/".join(sorted({t.arch for t in types})),
            vcpu=(min(t.vcpu for t in types), max(t.vcpu for t in types)),
            memory_gib=(min(t.memory_mib for t in types) / 1024,
                        max(t.memory_mib for t in types) / 1024),
            price=(min(t.on_demand_price for t in types), max(t.on_demand_price for t in types)),
            gpus=(min(nvidia), max(nvidia)) if nvidia else (0, 0),
            gpu_name=next((t.gpu_name for t in types if t.gpus), ""),
        )
    return found


def families_by_category(cat: catalog.Catalog) -> dict[str, list[Family]]:
    """Families grouped by category, in CATEGORY_NAMES' order (general purpose first)."""
    grouped: dict[str, list[Family]] = {}
    for fam in families(cat).values():
        grouped.setdefault(fam.category, []).append(fam)
    order = list(dict.fromkeys(CATEGORY_NAMES.values()))
    return dict(sorted(grouped.items(), key=lambda kv: (
        order.index(kv[0]) if kv[0] in order else len(order), kv[0])))


def nearest_families(name: str, known: Iterable[str]) -> list[str]:
    known = list(known)
    if name.lower() in known:
        return [name.lower()]
    return difflib.get_close_matches(name.lower(), known, n=3, cutoff=0.4)


# ---------------------------------------------------------------- parsing taints and labels


def _key_problem(key: str) -> str | None:
    """Why `key` is not a Kubernetes qualified name (`[prefix/]name`), or None."""
    prefix, _, name = key.rpartition("/")
    if not name or len(name) > 63 or not _NAME.fullmatch(name):
        return ("its name part must be 1–63 letters, digits, '-', '_' or '.', starting and "
                "ending with a letter or digit")
    if "/" in key and (len(prefix) > 253 or not _SUBDOMAIN.fullmatch(prefix)):
        return "its prefix (before '/') must be a lower-case DNS subdomain such as example.com"
    return None


def _value_problem(value: str) -> str | None:
    if value and (len(value) > 63 or not _NAME.fullmatch(value)):
        return ("a value is at most 63 letters, digits, '-', '_' or '.', starting and ending "
                "with a letter or digit")
    return None


_TAINT = re.compile(r"(?P<key>[^=:\s]+)(?:=(?P<value>[^:\s]*))?:(?P<effect>\S+)")


def parse_taint(text: str) -> tuple[dict | None, str | None]:
    """(taint dict, None) or (None, the one-line problem) for `key[=value]:Effect`."""
    text = text.strip()
    example = "e.g. team=vision:NoSchedule"
    m = _TAINT.fullmatch(text)
    if not m:
        if ":" not in text:
            return None, (f"taint `{text}` has no effect: write key=value:Effect, {example}")
        return None, f"taint `{text}` is not key=value:Effect: write it as {example}"
    key, value, effect = m["key"], m["value"] or "", m["effect"]
    if effect not in EFFECTS:
        near = difflib.get_close_matches(effect, EFFECTS, n=1, cutoff=0.6)
        hint = f"`{near[0]}`" if near else "NoSchedule, PreferNoSchedule or NoExecute"
        return None, (f"taint `{text}`: the effect `{effect}` is not one Kubernetes knows: "
                      f"use {hint} (case matters)")
    problem = _key_problem(key) or _value_problem(value)
    if problem:
        return None, f"taint `{text}`: {problem}"
    taint = {"key": key, "value": value, "effect": effect} if value else \
        {"key": key, "effect": effect}
    return taint, None


def reserved_domain(key: str) -> str | None:
    """The reserved domain a label key falls under, or None."""
    domain = key.rpartition("/")[0]
    if not domain:
        return None
    for allowed in DOMAIN_EXCEPTIONS:
        if domain == allowed or domain.endswith("." + allowed):
            return None
    for reserved in RESERVED_DOMAINS:
        if domain == reserved or domain.endswith("." + reserved):
            return reserved
    return None


def parse_label(text: str) -> tuple[tuple[str, str] | None, str | None]:
    """((key, value), None) or (None, the one-line problem) for `key=value`."""
    text = text.strip()
    key, eq, value = text.partition("=")
    key, value = key.strip(), value.strip()
    if not eq:
        return None, f"label `{text}` has no value: write key=value, e.g. team=vision"
    problem = _key_problem(key) or _value_problem(value)
    if problem:
        return None, f"label `{text}`: {problem}"
    reserved = reserved_domain(key)
    if reserved:
        return None, (f"label `{key}` is under the reserved domain {reserved} "
                      f"({RESERVED_DOMAINS[reserved]}): use a key of your own, "
                      f"e.g. `example.com/{key.rpartition('/')[2]}` or `{key.rpartition('/')[2]}`")
    return (key, value), None


def split_items(text: str) -> tuple[str, ...]:
    """Form and CLI input: items separated by commas or new lines, blanks dropped."""
    return tuple(item.strip() for item in re.split(r"[,\n]", text or "") if item.strip())


# ---------------------------------------------------------------- validation


def _team_problem(team: str) -> str | None:
    if not team:
        return "no team: give the team's name, a DNS label such as `vision`"
    if _DNS_LABEL.fullmatch(team) and len(team) <= MAX_TEAM:
        return None
    suggestion = re.sub(r"[^a-z0-9-]+", "-", team.lower()).strip("-")[:MAX_TEAM].strip("-")
    fix = f": try `{suggestion}`" if suggestion and suggestion != team else ""
    return (f"team `{team}` is not a DNS label (lower-case letters, digits and '-', starting "
            f"and ending with a letter or digit, at most {MAX_TEAM} characters){fix}")


def _admitting_types(req: Request, cat: catalog.Catalog) -> list[catalog.InstanceType]:
    names = {o.instance_type for o in cat.admitted(requirements(req))}
    return [t for t in cat.types if t.name in names]


def validate(req: Request, cat: catalog.Catalog) -> Problems:
    """Everything wrong with a request, one line a problem, each naming the fix."""
    p = Problems()
    team_problem = _team_problem(req.team)
    if team_problem:
        p.errors.append(team_problem)
    if req.vcpu <= 0:
        p.errors.append(f"vCPU limit {req.vcpu}: ask for a whole number of vCPUs above 0")
    if req.memory_gi <= 0:
        p.errors.append(f"memory limit {req.memory_gi} Gi: ask for a whole number of Gi above 0")
    if req.gpus < 0:
        p.errors.append(f"GPU limit {req.gpus}: ask for 0 or more GPUs")
    known = families(cat)
    if not req.families:
        p.errors.append("no instance families: pick at least one from the catalog "
                        f"(e.g. {', '.join(list(known)[:4])})")
    for name in req.families:
        if name in known:
            continue
        near = nearest_families(name, known)
        p.errors.append(f"unknown instance family `{name}`: "
                        + (f"did you mean {' or '.join(near)}?" if near else
                           f"the catalog has {', '.join(known)}"))
    chosen = [known[f] for f in req.families if f in known]
    if req.gpus > 0:
        for fam in (f for f in chosen if not f.nvidia):
            what = f" ({fam.category}: not nvidia.com/gpu)" if "accelerator" in fam.category else ""
            gpu_families = ", ".join(f.name for f in known.values() if f.nvidia)
            p.errors.append(f"a GPU limit of {req.gpus}, but family {fam.name} has no NVIDIA "
                            f"GPU{what}: pick GPU families ({gpu_families}) or set GPUs to 0")
    elif chosen and any(f.nvidia for f in chosen):
        gpu_fams = ", ".join(f.name for f in chosen if f.nvidia)
        p.warnings.append(f"{gpu_fams} {'has' if ',' not in gpu_fams else 'have'} NVIDIA GPUs "
                          "but the request asks for none: pods could not use them; set a GPU "
                          "limit or pick a family without GPUs")
    for ct in req.capacity_types:
        if ct not in catalog.CAPACITY_TYPES:
            p.errors.append(f"capacity type `{ct}`: use `on-demand` or `spot` (lower case)")
    taints = []
    for text in req.taints:
        taint, problem = parse_taint(text)
        if problem:
            p.errors.append(problem)
        else:
            taints.append(taint)
    for text in req.labels:
        label, problem = parse_label(text)
        if problem:
            p.errors.append(problem)
        elif label[0] == TEAM_LABEL and label[1] != req.team:
            p.errors.append(f"label `{text}` contradicts the platform's `team: {req.team}`: "
                            "drop it (the pool is labelled with the team's name)")
    if not p.errors:
        _check_shape(req, cat, p)
    if not taints:
        how = f"e.g. `team={req.team}:NoSchedule`"
        if req.gpus > 0:
            p.warnings.append("only the platform's nvidia.com/gpu taint: other teams' GPU pods "
                              f"may land on this pool; add a team taint, {how}")
        else:
            p.warnings.append("no taint: other teams' pods may land on this pool; add a "
                              f"team taint, {how}")
    return p


def _check_shape(req: Request, cat: catalog.Catalog, p: Problems) -> None:
    """The limits must let the pool launch at least one node of what it admits."""
    types = _admitting_types(req, cat)
    if not types:
        p.errors.append(f"no offering is {'/'.join(req.capacity)} in "
                        f"{', '.join(req.families)}: widen the capacity types or families")
        return
    if all(fill(t, req) == 0 for t in types):
        smallest = min(types, key=lambda t: (t.vcpu, t.memory_mib))
        p.errors.append(f"the limits ({_limits_text(req)}) are below the smallest admitted type "
                        f"{smallest.name} ({smallest.vcpu} vCPU, {smallest.memory_mib // 1024} "
                        f"GiB{_gpus_text(smallest)}): the pool could never launch a node; raise them")


def _gpus_text(t: catalog.InstanceType) -> str:
    return f", {t.gpus} GPU" if t.gpus else ""


def _limits_text(req: Request) -> str:
    gpus = f", {req.gpus} GPUs" if req.gpus > 0 else ""
    return f"{req.vcpu} vCPU, {req.memory_gi} Gi{gpus}"


# ---------------------------------------------------------------- the NodePool


def requirements(req: Request) -> list[dict]:
    return [
        {"key": catalog.AWS_FAMILY, "operator": "In", "values": list(req.families)},
        {"key": catalog.CAPACITY_TYPE, "operator": "In", "values": list(req.capacity)},
        {"key": catalog.OS, "operator": "In", "values": ["linux"]},
    ]


def _conventions() -> dict:
    """disruption, expireAfter and terminationGracePeriod of the platform's default pool
    (cluster/platform/)."""
    for path in platform.manifest_files():
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "NodePool" and doc["metadata"]["name"] == CONVENTIONS_FROM:
                spec = doc["spec"]
                return {"disruption": spec["disruption"],
                        "expireAfter": spec["template"]["spec"]["expireAfter"],
                        "terminationGracePeriod":
                            spec["template"]["spec"].get("terminationGracePeriod")}
    raise KeyError(f"no NodePool {CONVENTIONS_FROM} in {paths.PLATFORM_DIR}")


def template_labels(req: Request) -> dict[str, str]:
    labels = {TEAM_LABEL: req.team, POOL_LABEL: req.pool_name}
    for text in req.labels:
        label, _ = parse_label(text)
        if label:
            labels.setdefault(*label)
    return labels


def taints(req: Request) -> list[dict]:
    found = [t for t, _ in map(parse_taint, req.taints) if t]
    if req.gpus > 0 and not any(t["key"] == GPU_TAINT["key"] for t in found):
        found.append(dict(GPU_TAINT))
    unique = {(t["key"], t.get("value"), t["effect"]): t for t in found}
    return list(unique.values())


def limits(req: Request) -> dict[str, str]:
    out = {"cpu": str(req.vcpu), "memory": f"{req.memory_gi}Gi"}
    if req.gpus > 0:
        out[catalog.GPU_RESOURCE] = str(req.gpus)
    return out


def nodepool(req: Request) -> dict:
    """The NodePool the platform makes from a request (validate() it first).

    No weight: the defaults (weight 50) outrank every custom pool, so only pods that select
    the team's labels (and tolerate its taints) come here.
    """
    conv = _conventions()
    spec_template: dict = {
        "nodeClassRef": {"group": platform.NODECLASS_API.split("/")[0],
                         "kind": "KWOKNodeClass", "name": platform.NODECLASS},
        "requirements": requirements(req),
    }
    pool_taints = taints(req)
    if pool_taints:
        spec_template["taints"] = pool_taints
    spec_template["expireAfter"] = conv["expireAfter"]
    if conv["terminationGracePeriod"]:
        spec_template["terminationGracePeriod"] = conv["terminationGracePeriod"]
    return {
        "apiVersion": NODEPOOL_API,
        "kind": "NodePool",
        "metadata": {"name": req.pool_name},
        "spec": {
            "template": {"metadata": {"labels": template_labels(req)}, "spec": spec_template},
            "limits": limits(req),
            "disruption": conv["disruption"],
        },
    }


REQUESTS_MANAGER = "workshop-platform-requests"  # field manager: who applied a team's pool


def submit(req: Request, cat: catalog.Catalog) -> list:
    """Apply the pool as the platform team would (server-side apply); refuses a request
    with problems. The one function that touches the cluster."""
    from workshop.k8s import kube
    from workshop.errors import WorkshopError

    problems = validate(req, cat)
    if not problems.ok:
        raise WorkshopError("the request has problems: the platform would send it back",
                            detail="\n".join(problems.errors), fix="correct them first")
    kube.require_cluster()
    return kube.apply([nodepool(req)], field_manager=REQUESTS_MANAGER)


def to_yaml(obj: Mapping) -> str:
    return yaml.safe_dump(obj, sort_keys=False, default_flow_style=False)


# ---------------------------------------------------------------- what it admits, what it costs


@dataclass(frozen=True)
class Preview:
    offerings: int
    types: int
    cheapest: catalog.Offering | None
    dearest: catalog.Offering | None
    # The pool filled to its limits with one instance type: (type, nodes, USD/h), lowest and
    # highest of those per-type bills.
    low: tuple[str, int, float] | None
    high: tuple[str, int, float] | None

    def lines(self) -> list[str]:
        if not self.offerings:
            return ["admits no offering of the catalog"]
        out = [f"admits {self.offerings} offerings of {self.types} instance types: cheapest "
               f"{_offer(self.cheapest)}, dearest {_offer(self.dearest)}"]
        if self.high is None:
            out.append("at its limits: not even one node fits")
        elif self.low == self.high:
            out.append(f"at its limits: ${self.high[2]:.2f}/h ({self.high[1]} × {self.high[0]})")
        else:
            out.append(f"at its limits: ${self.low[2]:.2f}/h ({self.low[1]} × {self.low[0]}) "
                       f"to ${self.high[2]:.2f}/h ({self.high[1]} × {self.high[0]})")
        return out


def _offer(o: catalog.Offering) -> str:
    return f"{o.instance_type} {o.capacity_type} ${o.price:.4f}/h"


def fill(t: catalog.InstanceType, req: Request) -> int:
    """How many `t` nodes fit under the request's limits (Karpenter counts node capacity)."""
    bounds = [req.vcpu // t.vcpu, (req.memory_gi * 1024) // t.memory_mib]
    if t.gpus and req.gpus > 0:
        bounds.append(req.gpus // t.gpus)
    return max(0, min(bounds))


def preview(req: Request, cat: catalog.Catalog) -> Preview:
    admitted = cat.admitted(requirements(req)) if req.families else frozenset()
    if not admitted:
        return Preview(0, 0, None, None, None, None)
    by_price = sorted(admitted, key=lambda o: (o.price, o.instance_type, o.zone, o.capacity_type))
    cheapest_per_type: dict[str, catalog.Offering] = {}
    for o in by_price:
        cheapest_per_type.setdefault(o.instance_type, o)
    bills = []
    for name, o in cheapest_per_type.items():
        n = fill(cat.by_name(name), req)
        if n:
            bills.append((name, n, round(n * o.price, 4)))
    bills.sort(key=lambda b: (b[2], b[0]))
    return Preview(len(admitted), len(cheapest_per_type), by_price[0], by_price[-1],
                   bills[0] if bills else None, bills[-1] if bills else None)


# ---------------------------------------------------------------- the request as text


def request_text(req: Request, cat: catalog.Catalog | None = None) -> str:
    """The message a team sends to the platform team."""
    known = families(cat) if cat is not None else {}
    fams = [known[f].describe() if f in known else f for f in req.families]
    extra_taints = ", ".join(req.taints) or "none"
    platform_taint = (" (the platform adds nvidia.com/gpu=true:NoSchedule)"
                      if req.gpus > 0 else "")
    lines = [
        f"Subject: custom NodePool for team {req.team}",
        "",
        "Hello platform team,",
        "",
        f"team {req.team} asks for a custom NodePool ({req.pool_name}); the default "
        "system-service-* pools cannot serve this workload.",
        "",
        f"  vCPU limit:        {req.vcpu}",
        f"  memory limit:      {req.memory_gi} Gi",
        f"  GPU limit:         {req.gpus}",
        f"  instance families: {', '.join(fams) or 'none'}",
        f"  capacity types:    {', '.join(req.capacity)}"
        + ("" if req.capacity_types else " (platform default)"),
        f"  extra taints:      {extra_taints}{platform_taint}",
        f"  extra labels:      {', '.join(req.labels) or 'none'}",
        "",
        f"Our pods will select `{TEAM_LABEL}: {req.team}` and tolerate the pool's taints.",
        "",
        "Thanks!",
    ]
    return "\n".join(lines)
