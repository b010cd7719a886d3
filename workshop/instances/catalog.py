"""The workshop's instance catalog as graders and notebooks see it: the runtime model.

Karpenter's kwok provider reads its instance types from a JSON file
(``INSTANCE_TYPES_FILE_PATH``), generated from the table ``cluster/catalog/instance-types.tsv``
by ``workshop/instances/table.py``. This module

* validates that JSON before Karpenter starts, because Karpenter only *logs* a broken file
  and then runs with zero instance types (every pod Pending, baffling messages);
* loads it back as Python objects, with the labels a node launched from each offering
  would carry, so graders and notebooks reason about exactly what Karpenter sees;
* answers questions about sets of offerings (what a NodePool admits, the cheapest fit).

Pure stdlib on purpose: graders and notebooks import it without a cluster or client.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping, Sequence

from workshop import paths
from workshop.errors import WorkshopError
# Re-exported: graders compare quantities through the catalog module.
from workshop.instances.quantity import canonical_quantity, memory_quantity, parse_quantity  # noqa: F401
# Well-known Kubernetes / Karpenter label keys, under the short names the catalog's code uses.
from workshop.names import (  # noqa: F401 (re-exported: catalog.ZONE, catalog.GPU_RESOURCE, ...)
    ARCH_LABEL as ARCH, CAPACITY_TYPE_LABEL as CAPACITY_TYPE, GPU_RESOURCE,
    INSTANCE_TYPE_LABEL as INSTANCE_TYPE, OS_LABEL as OS, ZONE_LABEL as ZONE,
)

CATALOG_TABLE = paths.CLUSTER_DIR / "catalog" / "instance-types.tsv"
CATALOG_JSON = paths.CLUSTER_DIR / "catalog" / "instance-types.json"
REGENERATE_FIX = "run `make catalog` to regenerate it from cluster/catalog/instance-types.tsv"

ZONES = ("us-west-2a", "us-west-2b", "us-west-2c")
CAPACITY_TYPES = ("on-demand", "spot")
ARCHITECTURES = ("amd64", "arm64")
HYPERVISORS = ("nitro", "xen")
OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")

# The AWS provider's labels. kwok knows nothing about them: they reach nodes only because
# the generated JSON lists them in every offering's Requirements (kwok turns each such key
# into a well-known label and copies single-value `In` requirements onto the node).
AWS_FAMILY = "karpenter.k8s.aws/instance-family"
AWS_CATEGORY = "karpenter.k8s.aws/instance-category"
AWS_GENERATION = "karpenter.k8s.aws/instance-generation"
AWS_SIZE = "karpenter.k8s.aws/instance-size"
AWS_CPU = "karpenter.k8s.aws/instance-cpu"
AWS_MEMORY = "karpenter.k8s.aws/instance-memory"  # MiB
AWS_HYPERVISOR = "karpenter.k8s.aws/instance-hypervisor"
AWS_GPU_COUNT = "karpenter.k8s.aws/instance-gpu-count"
AWS_GPU_NAME = "karpenter.k8s.aws/instance-gpu-name"
AWS_GPU_MANUFACTURER = "karpenter.k8s.aws/instance-gpu-manufacturer"
AWS_GPU_MEMORY = "karpenter.k8s.aws/instance-gpu-memory"  # MiB per GPU
AWS_GPU_KEYS = (AWS_GPU_COUNT, AWS_GPU_NAME, AWS_GPU_MANUFACTURER, AWS_GPU_MEMORY)
# Accelerators that are not GPUs (AWS Inferentia/Trainium: "Neuron" devices). The AWS
# provider labels them apart from GPUs (instancetype/types.go, computeRequirements), so a
# requirement on instance-gpu-* never admits them.
AWS_ACCELERATOR_NAME = "karpenter.k8s.aws/instance-accelerator-name"
AWS_ACCELERATOR_MANUFACTURER = "karpenter.k8s.aws/instance-accelerator-manufacturer"
AWS_ACCELERATOR_COUNT = "karpenter.k8s.aws/instance-accelerator-count"
AWS_ACCELERATOR_KEYS = (AWS_ACCELERATOR_NAME, AWS_ACCELERATOR_MANUFACTURER, AWS_ACCELERATOR_COUNT)

# Labels the kwok provider derives itself from each instance type (kwok/cloudprovider/helpers.go).
KWOK_FAMILY = "karpenter.kwok.sh/instance-family"
KWOK_SIZE = "karpenter.kwok.sh/instance-size"
KWOK_CPU = "karpenter.kwok.sh/instance-cpu"
KWOK_MEMORY = "karpenter.kwok.sh/instance-memory"  # a Kubernetes quantity, e.g. "16Gi"
# Constant labels kwok's cloud provider puts on every node it creates (cloudprovider.go).
KWOK_NODE = "kwok.x-k8s.io/node"
NODE_VIEWER_PRICE = "eks-node-viewer/instance-price"

# The AWS Neuron device plugin's resources: devices, and their cores (types.go,
# awsNeuronDevices / awsNeuronCores).
NEURON_RESOURCE = "aws.amazon.com/neuron"
NEURON_CORE_RESOURCE = "aws.amazon.com/neuroncore"
# kwok reserves this much of every node for the kubelet (InstanceTypeOverhead.KubeReserved);
# so a 2-vCPU type cannot take a pod asking for 2 CPUs.
KUBE_RESERVED_CPU_MILLIS = 100
KUBE_RESERVED_MEMORY_MIB = 10
# kwok's default when the JSON gives no "pods" resource.
DEFAULT_PODS = 110


class CatalogError(WorkshopError):
    """A bad table or JSON. `str()` carries the fix too, for graders and logs."""

    def __init__(self, message: str, fix: str = ""):
        super().__init__(message, fix=fix)

    def __str__(self) -> str:
        return f"{self.message}; {self.fix}" if self.fix else self.message


# ---------------------------------------------------------------- names

# AWS names are <family>.<size>; the family is <category letters><generation digits><options>.
_AWS_NAME = re.compile(
    r"(?P<family>(?P<category>[a-z]+)(?P<generation>\d+)[a-z0-9-]*)"
    r"\.(?P<size>nano|micro|small|medium|large|\d*xlarge|metal(?:-\d+xl)?)"
)
# kwok's own parsing, mirrored exactly (helpers.go: awsRegexp, familyDelim). Go's \w is ASCII.
_KWOK_AWS_SIZE = re.compile(r"^\w+\.(nano|micro|small|medium|large|\d*xlarge|metal)$", re.ASCII)
_KWOK_FAMILY_DELIM = re.compile(r"[.-]")


def aws_name_parts(name: str) -> tuple[str, str, int, str] | None:
    """(family, category, generation, size) of an AWS instance type name, or None."""
    m = _AWS_NAME.fullmatch(name)
    if not m:
        return None
    return m["family"], m["category"], int(m["generation"]), m["size"]


def kwok_family(name: str) -> str:
    """kwok's instance-family label: the name up to the first '.' or '-' (else its first letter)."""
    parts = _KWOK_FAMILY_DELIM.split(name, maxsplit=1)
    return parts[0] if len(parts) == 2 else name[:1]


def kwok_size(name: str, cpu: str) -> str:
    """kwok's instance-size label: the AWS size suffix if the name has one, else the CPU count."""
    m = _KWOK_AWS_SIZE.match(name)
    return m.group(1) if m else cpu


# ---------------------------------------------------------------- the model


@dataclass(frozen=True)
class InstanceType:
    """One row of the table (or one entry of the JSON)."""

    name: str
    family: str
    category: str
    generation: int
    size: str
    arch: str
    vcpu: int
    memory_mib: int
    gpus: int
    gpu_name: str  # "" when gpus == 0
    gpu_manufacturer: str  # "" when gpus == 0
    gpu_memory_mib: int  # per GPU, like AWS's label; 0 when gpus == 0
    pods: int
    on_demand_price: float
    hypervisor: str = "nitro"
    # A non-GPU accelerator (AWS Neuron: Inferentia/Trainium): devices, their name as AWS
    # labels it ("inferentia2"), and cores per device. 0 / "" when there is none.
    accelerators: int = 0
    accelerator_name: str = ""
    accelerator_manufacturer: str = ""
    accelerator_cores: int = 0

    @property
    def allocatable_cpu_millis(self) -> int:
        return self.vcpu * 1000 - KUBE_RESERVED_CPU_MILLIS

    @property
    def allocatable_memory_mib(self) -> int:
        return self.memory_mib - KUBE_RESERVED_MEMORY_MIB

    def fits(self, cpu_millis: int, memory_mib: int, gpus: int = 0, pods: int = 0) -> bool:
        """Whether requests this size, in `pods` pods, fit the allocatable (Karpenter counts
        one `pods` per pod against the type's max pods; 0: not considered)."""
        return (cpu_millis <= self.allocatable_cpu_millis
                and memory_mib <= self.allocatable_memory_mib
                and gpus <= self.gpus
                and pods <= self.pods)

    def resources(self) -> dict[str, str]:
        """The JSON `resources` block: kwok's node capacity."""
        res = {"cpu": str(self.vcpu), "memory": memory_quantity(self.memory_mib), "pods": str(self.pods)}
        if self.gpus:
            res[GPU_RESOURCE] = str(self.gpus)
        if self.accelerators:
            res[NEURON_RESOURCE] = str(self.accelerators)
            res[NEURON_CORE_RESOURCE] = str(self.accelerators * self.accelerator_cores)
        return res

    def aws_labels(self) -> dict[str, str]:
        """The karpenter.k8s.aws/* labels, in AWS's value formats (GPU and accelerator keys
        only on types that have one)."""
        labels = {
            AWS_FAMILY: self.family,
            AWS_CATEGORY: self.category,
            AWS_GENERATION: str(self.generation),
            AWS_SIZE: self.size,
            AWS_CPU: str(self.vcpu),
            AWS_MEMORY: str(self.memory_mib),
            AWS_HYPERVISOR: self.hypervisor,
        }
        if self.gpus:
            labels.update({
                AWS_GPU_COUNT: str(self.gpus),
                AWS_GPU_NAME: self.gpu_name,
                AWS_GPU_MANUFACTURER: self.gpu_manufacturer,
                AWS_GPU_MEMORY: str(self.gpu_memory_mib),
            })
        if self.accelerators:
            labels.update({
                AWS_ACCELERATOR_NAME: self.accelerator_name,
                AWS_ACCELERATOR_MANUFACTURER: self.accelerator_manufacturer,
                AWS_ACCELERATOR_COUNT: str(self.accelerators),
            })
        return {k: v for k, v in labels.items() if v}


@dataclass(frozen=True)
class Offering:
    """One (instance type, zone, capacity type) Karpenter may launch, with its node's labels.

    Equality and hashing ignore `labels` (they follow from the other fields), so offerings
    work in sets: `admitted()` returns a frozenset and `diff_sets` compares two of them.
    """

    instance_type: str
    zone: str
    capacity_type: str
    price: float
    labels: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def arch(self) -> str:
        return self.labels.get(ARCH, "")

    @property
    def family(self) -> str:
        return self.labels.get(KWOK_FAMILY) or kwok_family(self.instance_type)


def _sort_key(o: Offering) -> tuple:
    return (o.instance_type, o.zone, o.capacity_type)


# What every node of an offering runs besides the pods being placed (its DaemonSets):
# (cpu millis, memory MiB, pods). Built by workshop.k8s.daemonsets, which knows the rules.
Overhead = Callable[[Offering], tuple[int, int, int]]


# ---------------------------------------------------------------- reading the JSON back


@dataclass(frozen=True)
class _Requirement:
    key: str
    operator: str
    values: tuple[str, ...]

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Kubernetes node-selector semantics for one requirement against node labels."""
        value = labels.get(self.key)
        if self.operator == "In":
            return value is not None and value in self.values
        if self.operator == "NotIn":
            return value is None or value not in self.values
        if self.operator == "Exists":
            return value is not None
        if self.operator == "DoesNotExist":
            return value is None
        # Gt / Lt: both sides must be integers; a missing or non-integer label never matches.
        if value is None or not _INTEGER.fullmatch(value):
            return False
        bound = int(self.values[0])
        return int(value) > bound if self.operator == "Gt" else int(value) < bound


_INTEGER = re.compile(r"[+-]?\d+")


def _requirement_from(raw: Any) -> _Requirement:
    """Validate one requirement dict (NodePool, nodeAffinity or JSON offering style)."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get("key"), str) or "operator" not in raw:
        raise CatalogError(f"requirement {raw!r} needs a 'key' and an 'operator'")
    operator, values = raw["operator"], raw.get("values") or []
    if operator not in OPERATORS:
        raise CatalogError(f"requirement on {raw['key']!r}: unknown operator {operator!r} "
                           f"(expected one of {', '.join(OPERATORS)})")
    if not isinstance(values, (list, tuple)) or not all(isinstance(v, str) for v in values):
        raise CatalogError(f"requirement on {raw['key']!r}: values must be a list of strings "
                           f"(quote numbers in YAML), got {values!r}")
    if operator in ("In", "NotIn") and not values:
        raise CatalogError(f"requirement on {raw['key']!r}: {operator} needs at least one value")
    if operator in ("Exists", "DoesNotExist") and values:
        raise CatalogError(f"requirement on {raw['key']!r}: {operator} takes no values")
    if operator in ("Gt", "Lt") and (len(values) != 1 or not _INTEGER.fullmatch(values[0])):
        raise CatalogError(f"requirement on {raw['key']!r}: {operator} needs exactly one integer value")
    return _Requirement(raw["key"], operator, tuple(values))


def matches(requirements: Iterable[Mapping[str, Any]], labels: Mapping[str, str]) -> bool:
    """Whether node `labels` satisfy ALL `requirements` (Kubernetes semantics, no key ignored)."""
    return all(_requirement_from(r).matches(labels) for r in requirements)


def shown_path(path: Path) -> str:
    """`path` relative to the repo when inside it: shorter messages."""
    try:
        return str(Path(path).resolve().relative_to(paths.REPO))
    except ValueError:
        return str(path)


def _fail_entry(path: Path, where: str, problem: str) -> CatalogError:
    return CatalogError(f"{shown_path(path)}: {where}: {problem}", fix=REGENERATE_FIX)


def _read_entries(path: Path) -> list:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise CatalogError(f"{shown_path(path)} does not exist", fix=REGENERATE_FIX) from None
    except OSError as exc:
        raise CatalogError(f"cannot read {shown_path(path)}: {exc.strerror}") from None
    try:
        entries = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CatalogError(f"{shown_path(path)} is not valid JSON (line {exc.lineno}, column {exc.colno}: "
                           f"{exc.msg}); Karpenter would run with no instance types",
                           fix=REGENERATE_FIX) from None
    if not isinstance(entries, list) or not entries:
        raise CatalogError(f"{shown_path(path)} lists no instance types; Karpenter would run with none",
                           fix=REGENERATE_FIX)
    return entries


def _entry_resources(path: Path, where: str, entry: Mapping) -> dict[str, Fraction]:
    resources = entry.get("resources")
    if not isinstance(resources, Mapping) or not {"cpu", "memory"} <= resources.keys():
        raise _fail_entry(path, where, "resources must give cpu and memory")
    parsed = {}
    for name, text in resources.items():
        try:
            parsed[name] = parse_quantity(text)
        except ValueError as exc:
            raise _fail_entry(path, where, f"resources.{name}: {exc}") from None
    if parsed["cpu"].denominator != 1 or parsed["cpu"] <= 0 or parsed["memory"] <= 0:
        raise _fail_entry(path, where, "cpu must be a whole, positive number of vCPUs and memory positive")
    return parsed


def _entry_offerings(path: Path, where: str, entry: Mapping) -> list[tuple[float, list[_Requirement]]]:
    offerings = entry.get("offerings")
    if not isinstance(offerings, list) or not offerings:
        raise _fail_entry(path, where, "has no offerings, so Karpenter can never launch it")
    parsed = []
    for i, off in enumerate(offerings):
        here = f"{where}: offering #{i}"
        price = off.get("Price") if isinstance(off, Mapping) else None
        if not isinstance(price, (int, float)) or isinstance(price, bool) or price < 0:
            raise _fail_entry(path, here, "needs a numeric Price")
        try:
            reqs = [_requirement_from(r) for r in off.get("Requirements") or []]
        except CatalogError as exc:
            raise _fail_entry(path, here, exc.message) from None
        single = {r.key for r in reqs if r.operator == "In" and len(r.values) == 1}
        for key in (CAPACITY_TYPE, ZONE):
            if key not in single:
                raise _fail_entry(path, here, f"needs a single-value `{key} In [...]` requirement")
        parsed.append((float(price), reqs))
    return parsed


def _single_values(reqs: Iterable[_Requirement]) -> dict[str, str]:
    """What kwok copies onto a node: the value of each single-value In requirement."""
    return {r.key: r.values[0] for r in reqs if r.operator == "In" and len(r.values) == 1}


def _instance_type_labels(entry: Mapping, resources: Mapping[str, Fraction],
                          offerings: list[tuple[float, list[_Requirement]]]) -> dict[str, str]:
    """The labels kwok derives for the instance type itself (newInstanceType/setDefaultOptions)."""
    name = entry["name"]
    cpu = canonical_quantity(str(entry["resources"]["cpu"]))
    per_type = {
        INSTANCE_TYPE: [name],
        ARCH: [entry["architecture"]],
        OS: list(dict.fromkeys(entry.get("operatingSystems") or [])),
        # zone and capacity type are type-level labels only when every offering agrees
        ZONE: list(dict.fromkeys(_single_values(r).get(ZONE) for _, r in offerings)),
        CAPACITY_TYPE: list(dict.fromkeys(_single_values(r).get(CAPACITY_TYPE) for _, r in offerings)),
        KWOK_SIZE: [kwok_size(name, cpu)],
        KWOK_FAMILY: [kwok_family(name)],
        KWOK_CPU: [cpu],
        KWOK_MEMORY: [canonical_quantity(str(entry["resources"]["memory"]))],
    }
    return {k: v[0] for k, v in per_type.items() if len(v) == 1 and v[0]}


def _node_labels(type_labels: Mapping[str, str], price: float, reqs: list[_Requirement]) -> Mapping[str, str]:
    """Every label kwok puts on a node launched from this offering (addInstanceLabels).

    Not included, because they are per node rather than per offering: kubernetes.io/hostname,
    kwok-partition (random), karpenter.sh/nodepool and the NodePool's own template labels.
    """
    labels = dict(type_labels)
    labels.update(_single_values(reqs))
    labels[NODE_VIEWER_PRICE] = "%f" % price
    labels[KWOK_NODE] = "fake"
    return MappingProxyType(dict(sorted(labels.items())))


def _label_int(labels: Mapping[str, str], key: str, default: int) -> int:
    """An integer label, or `default` when absent or not a number (hand-edited files)."""
    value = labels.get(key, "")
    return int(value) if value.isdigit() else default


def _type_from_entry(entry: Mapping, resources: Mapping[str, Fraction],
                     offerings: list[tuple[float, list[_Requirement]]]) -> InstanceType:
    """Rebuild the table row from the JSON: AWS labels when present, else parsed from the name."""
    name = entry["name"]
    labels = _single_values(offerings[0][1])
    family, category, generation, size = aws_name_parts(name) or (kwok_family(name), "", 0, "")
    on_demand = [p for p, reqs in offerings if _single_values(reqs)[CAPACITY_TYPE] == "on-demand"]
    devices = int(resources.get(NEURON_RESOURCE, 0))
    return InstanceType(
        name=name,
        family=labels.get(AWS_FAMILY, family),
        category=labels.get(AWS_CATEGORY, category),
        generation=_label_int(labels, AWS_GENERATION, generation),
        size=labels.get(AWS_SIZE, size),
        arch=entry["architecture"],
        vcpu=int(resources["cpu"]),
        memory_mib=int(resources["memory"] / 2**20),
        gpus=int(resources.get(GPU_RESOURCE, 0)),
        gpu_name=labels.get(AWS_GPU_NAME, ""),
        gpu_manufacturer=labels.get(AWS_GPU_MANUFACTURER, ""),
        gpu_memory_mib=_label_int(labels, AWS_GPU_MEMORY, 0),
        pods=int(resources.get("pods", DEFAULT_PODS)),
        on_demand_price=min(on_demand or [p for p, _ in offerings]),
        hypervisor=labels.get(AWS_HYPERVISOR, ""),
        accelerators=devices,
        accelerator_name=labels.get(AWS_ACCELERATOR_NAME, ""),
        accelerator_manufacturer=labels.get(AWS_ACCELERATOR_MANUFACTURER, ""),
        accelerator_cores=int(resources.get(NEURON_CORE_RESOURCE, 0)) // devices if devices else 0,
    )


def read_catalog(path: Path) -> Catalog:
    """Validate the JSON as kwok will read it and build the model (uncached)."""
    types, offerings, seen = [], [], set()
    for i, entry in enumerate(_read_entries(path)):
        name = entry.get("name") if isinstance(entry, Mapping) else None
        where = repr(name) if isinstance(name, str) and name else f"entry #{i}"
        if not isinstance(name, str) or not name:
            raise _fail_entry(path, where, "needs a name")
        if name in seen:
            raise _fail_entry(path, where, "appears twice")
        seen.add(name)
        if entry.get("architecture") not in ARCHITECTURES:
            raise _fail_entry(path, where, f"architecture must be {' or '.join(ARCHITECTURES)}, "
                                           f"got {entry.get('architecture')!r}")
        resources = _entry_resources(path, where, entry)
        parsed = _entry_offerings(path, where, entry)
        types.append(_type_from_entry(entry, resources, parsed))
        type_labels = _instance_type_labels(entry, resources, parsed)
        for price, reqs in parsed:
            single = _single_values(reqs)
            offerings.append(Offering(name, single[ZONE], single[CAPACITY_TYPE], price,
                                      _node_labels(type_labels, price, reqs)))
    return Catalog(types, offerings)


def validate_json(path: Path | str = CATALOG_JSON) -> list[InstanceType]:
    """Check the file Karpenter will read; return its instance types or raise CatalogError.

    Karpenter itself only logs a broken file and runs with zero instance types, so the kit
    calls this before starting it.
    """
    return list(read_catalog(Path(path)).types)


_CACHE: dict[Path, tuple[tuple[int, int], Catalog]] = {}


def load_catalog(path: Path | str = CATALOG_JSON) -> Catalog:
    """The catalog in `path`, cached until the file changes (notebooks call this often)."""
    path = Path(path).resolve()
    try:
        st = path.stat()
    except FileNotFoundError:
        raise CatalogError(f"{shown_path(path)} does not exist", fix=REGENERATE_FIX) from None
    stamp = (st.st_mtime_ns, st.st_size)
    cached = _CACHE.get(path)
    if cached is None or cached[0] != stamp:
        cached = _CACHE[path] = (stamp, read_catalog(path))
    return cached[1]


# ---------------------------------------------------------------- questions about sets


class Catalog:
    """Instance types and offerings as Karpenter's kwok provider sees them."""

    def __init__(self, types: Iterable[InstanceType], offerings: Iterable[Offering]):
        self.types: tuple[InstanceType, ...] = tuple(types)
        self.offerings: tuple[Offering, ...] = tuple(sorted(offerings, key=_sort_key))
        self._by_name = {t.name: t for t in self.types}
        # Keys some offering carries: only requirements on these can narrow the catalog.
        self.label_keys: frozenset[str] = frozenset(k for o in self.offerings for k in o.labels)

    def __repr__(self) -> str:
        return f"<Catalog: {len(self.types)} instance types, {len(self.offerings)} offerings>"

    def by_name(self, name: str) -> InstanceType:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no instance type {name!r} in the catalog") from None

    def families(self) -> list[str]:
        """The instance families, sorted."""
        return sorted({t.family for t in self.types})

    def admitted(self, requirements: Iterable[Mapping[str, Any]] | None = ()) -> frozenset[Offering]:
        """The offerings whose labels satisfy ALL `requirements` (NodePool/nodeAffinity dicts).

        Requirements on keys no offering carries (custom labels such as `team`) are ignored:
        Karpenter simply adds those to the node. On catalog keys Kubernetes semantics apply:
        an absent label satisfies NotIn/DoesNotExist and fails In/Exists/Gt/Lt.
        """
        reqs = [_requirement_from(r) for r in requirements or ()]
        relevant = [r for r in reqs if r.key in self.label_keys]
        return frozenset(o for o in self.offerings if all(r.matches(o.labels) for r in relevant))

    def cheapest(self, requirements: Iterable[Mapping[str, Any]] | None, cpu_millis: int,
                 memory_mib: int, gpus: int = 0, pods: int = 0,
                 overhead: Overhead | None = None) -> Offering | None:
        """The cheapest admitted offering whose allocatable (capacity minus kwok's 100m CPU /
        10Mi reserve) fits the requests of `pods` pods; ties go to the first by name, zone,
        capacity type. None when nothing fits.

        `overhead(offering)` -> (cpu millis, memory MiB, pods): what every node of that
        offering runs besides (its DaemonSets; workshop.k8s.daemonsets.per_offering), added
        to the requests as Karpenter adds it before an instance type must fit."""
        def fits(o: Offering) -> bool:
            cpu, mem, more = overhead(o) if overhead else (0, 0, 0)
            return self.by_name(o.instance_type).fits(cpu_millis + cpu, memory_mib + mem, gpus,
                                                      pods + more if pods else 0)

        fitting = (o for o in self.admitted(requirements) if fits(o))
        return min(fitting, key=lambda o: (o.price, *_sort_key(o)), default=None)

    @staticmethod
    def describe_set(offerings: Iterable[Offering]) -> str:
        return describe_set(offerings)

    @staticmethod
    def diff_sets(expected: Iterable[Offering], found: Iterable[Offering]) -> str:
        return diff_sets(expected, found)


def _distinct(values: Iterable[str]) -> list[str]:
    """Non-empty values, first occurrence order."""
    return list(dict.fromkeys(v for v in values if v))


def _listing(items: Sequence[str], limit: int = 6) -> str:
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown} and {len(items) - limit} more"


def describe_set(offerings: Iterable[Offering]) -> str:
    """A few words for grader messages, e.g. "arm64 spot offerings of c6g, m6g (30 offerings)"."""
    offs = sorted(set(offerings), key=_sort_key)
    if not offs:
        return "no offerings"
    archs = sorted(_distinct(o.arch for o in offs))
    capacity = sorted(_distinct(o.capacity_type for o in offs),
                      key=lambda c: (c not in CAPACITY_TYPES, c))
    names = _distinct(o.instance_type for o in offs)
    zones = sorted(_distinct(o.zone for o in offs))
    # Name the types when there are few, else their families.
    what = _listing(names, 3) if len(names) <= 3 else _listing(sorted(_distinct(o.family for o in offs)))
    where = "" if set(zones) >= set(ZONES) else " in " + ", ".join(zones)
    count = f"{len(offs)} offering{'s' if len(offs) != 1 else ''}"
    return f"{'/'.join(archs)} {'/'.join(capacity)} offerings of {what}{where} ({count})"


def diff_sets(expected: Iterable[Offering], found: Iterable[Offering]) -> str:
    """What `found` lacks and has extra compared with `expected`, in a few words."""
    expected, found = set(expected), set(found)
    missing, extra = expected - found, found - expected
    if not missing and not extra:
        return f"same offerings ({len(found)})"
    parts = []
    if missing:
        parts.append("missing " + describe_set(missing))
    if extra:
        parts.append("unexpected " + describe_set(extra))
    return "; ".join(parts)

