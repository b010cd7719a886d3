"""The way to EKS: a lesson's manifests, rewritten for the platform's real cluster.

What carries over unchanged is almost everything: the NodePool API (karpenter.sh/v1), the
well-known labels (kubernetes.io/*, karpenter.sh/*, and the AWS provider's
karpenter.k8s.aws/* keys, which the workshop's catalog puts on every node), Deployments,
taints, tolerations, events. What differs:

* `nodeClassRef`: kwok's `karpenter.kwok.sh/KWOKNodeClass` becomes the AWS provider's
  `karpenter.k8s.aws/EC2NodeClass` of the same name (the platform's `bottlerocket`). This is
  the one rewrite.
* Anything only kwok has (its own `karpenter.kwok.sh/*` label keys, `kwok.x-k8s.io/*`, the
  `type: kwok` node label, KWOKNodeClass objects) is left as it is and gets a warning naming
  the AWS equivalent, because guessing a rewrite (kwok's instance-memory is "16Gi", AWS's
  is MiB "16384") would silently change what a selector means.

`workshop eks FILE...` prints the result (or writes it to `-o PATH`); it never writes to a
file it reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import yaml

from workshop.k8s import kube
from workshop.platform import defaults as platform
from workshop.errors import WorkshopError

KWOK_GROUP = platform.NODECLASS_API.split("/")[0]   # karpenter.kwok.sh
KWOK_KIND = "KWOKNodeClass"
AWS_GROUP = "karpenter.k8s.aws"
AWS_KIND = "EC2NodeClass"

# kwok-only label keys and what to use on EKS instead.
KWOK_LABELS = {
    "karpenter.kwok.sh/instance-family": "karpenter.k8s.aws/instance-family (same values)",
    "karpenter.kwok.sh/instance-size": "karpenter.k8s.aws/instance-size (same values)",
    "karpenter.kwok.sh/instance-cpu": "karpenter.k8s.aws/instance-cpu (a vCPU count, same values)",
    "karpenter.kwok.sh/instance-memory": ("karpenter.k8s.aws/instance-memory (MiB: "
                                          "\"16384\", not kwok's \"16Gi\")"),
    "karpenter.kwok.sh/kwoknodeclass": "karpenter.k8s.aws/ec2nodeclass (the node class's name)",
    "eks-node-viewer/instance-price": ("no label on EKS (prices come from AWS's pricing API; "
                                       "select on node.kubernetes.io/instance-type instead)"),
}
KWOK_PREFIXES = {
    "karpenter.kwok.sh/": "the matching karpenter.k8s.aws/ key",
    "kwok.x-k8s.io/": "nothing: it marks kwok's fake nodes; drop it",
}


@dataclass(frozen=True)
class Warning_:
    source: str
    obj: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}: {self.obj} {self.where}: {self.message}"


@dataclass
class Converted:
    objects: list[dict]
    warnings: list[Warning_]

    def yaml(self) -> str:
        return yaml.safe_dump_all(self.objects, sort_keys=False)


def _label_warning(key: str) -> str | None:
    if key in KWOK_LABELS:
        return f"`{key}` is kwok's label; on EKS use {KWOK_LABELS[key]}"
    for prefix, instead in KWOK_PREFIXES.items():
        if key.startswith(prefix):
            return f"`{key}` exists only under kwok; on EKS use {instead}"
    return None


def _walk(node: Any, path: str):
    """(path, key, value) of every mapping entry, depth first."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield f"{path}.{k}", k, v
            yield from _walk(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, f"{path}[{i}]")


def _warnings_in(obj: dict) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for path, key, value in _walk(obj, ""):
        path = path.lstrip(".")
        # A label key appears as a mapping key (labels, nodeSelector) or as the `key` of a
        # requirement, expression or toleration.
        label = key if isinstance(key, str) else None
        if key == "key" and isinstance(value, str):
            label = value
        message = _label_warning(label) if label else None
        if message:
            found.append((path, message))
        elif key == "type" and value == "kwok" and path.endswith(("labels.type", "nodeSelector.type")):
            found.append((path, "`type: kwok` marks kwok's fake nodes; EKS nodes have no such "
                                "label: drop it"))
    return found


def convert_objects(objs: Iterable[dict], source: str = "the YAML") -> Converted:
    out: list[dict] = []
    warnings: list[Warning_] = []
    for obj in objs:
        name = f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}"
        group = str(obj.get("apiVersion", "")).split("/")[0]
        if group == KWOK_GROUP:
            warnings.append(Warning_(source, name, "apiVersion",
                                     f"{obj.get('kind')} is kwok's; on EKS the platform owns an "
                                     f"{AWS_KIND} ({AWS_GROUP}/v1): this object was left out"))
            continue
        obj = _copy(obj)
        ref = (((obj.get("spec") or {}).get("template") or {}).get("spec") or {}).get("nodeClassRef")
        if obj.get("kind") == "NodePool" and isinstance(ref, dict) and ref.get("group") == KWOK_GROUP:
            ref["group"], ref["kind"] = AWS_GROUP, AWS_KIND
        warnings += [Warning_(source, name, where, message) for where, message in _warnings_in(obj)]
        out.append(obj)
    return Converted(out, warnings)


def _copy(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _copy(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_copy(v) for v in obj]
    return obj


def convert_files(files: Iterable[Path | str]) -> Converted:
    objs: list[dict] = []
    warnings: list[Warning_] = []
    for f in files:
        path = Path(f)
        if not path.is_file():
            raise WorkshopError(f"no file {path}", fix="give the paths of YAML manifests, "
                                "e.g. solutions/lesson-02/2.1.yaml")
        result = convert_objects(kube.parse_manifests(path.read_text(), source=str(path)),
                                 source=str(path))
        objs += result.objects
        warnings += result.warnings
    return Converted(objs, warnings)


def write(converted: Converted, out: Path | str, inputs: Iterable[Path | str]) -> Path:
    """Write to `out`, refusing to overwrite any input (the learner's files stay theirs)."""
    out = Path(out)
    if any(out.resolve() == Path(i).resolve() for i in inputs):
        raise WorkshopError(f"{out} is one of the input files: it would be overwritten",
                            fix="give -o a new path, e.g. -o eks/nodepool.yaml")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(converted.yaml())
    return out
