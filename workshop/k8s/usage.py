"""What a pod asks for, the way the scheduler and Karpenter count it.

A container's request defaults to its limit when only the limit is set (the API server
fills it in, but pod templates read before admission lack it). A pod's effective request is
the larger of its containers' sum and its largest init container, plus its overhead. Used
by the node viewer (bars) and `explain` (which instance types fit).
"""

from __future__ import annotations

from dataclasses import dataclass

from workshop.instances.quantity import quantity_or_zero
from workshop.names import GPU_RESOURCE

MIB = 2**20


@dataclass(frozen=True)
class Requests:
    cpu_millis: int = 0
    memory_bytes: int = 0
    gpus: int = 0

    def __add__(self, other: "Requests") -> "Requests":
        return Requests(self.cpu_millis + other.cpu_millis,
                        self.memory_bytes + other.memory_bytes, self.gpus + other.gpus)

    @property
    def memory_mib(self) -> int:
        return -(-self.memory_bytes // MIB)  # round up: 1 byte over still needs the MiB

    def __str__(self) -> str:
        mem = self.memory_bytes
        mem_text = (f"{mem / 2**30:g}Gi" if mem % 2**30 == 0 else f"{self.memory_mib}Mi")
        cpu = (f"{self.cpu_millis // 1000}" if self.cpu_millis % 1000 == 0
               else f"{self.cpu_millis}m")
        return f"{cpu} CPU, {mem_text}" + (f", {self.gpus} GPU" if self.gpus else "")


def of_resources(res: dict) -> Requests:
    """Requests from a `{cpu: ..., memory: ...}` mapping (pod requests, node allocatable)."""
    res = res or {}
    return Requests(int(quantity_or_zero(res.get("cpu", 0)) * 1000),
                    int(quantity_or_zero(res.get("memory", 0))),
                    int(quantity_or_zero(res.get(GPU_RESOURCE, 0))))


def effective_requests(container: dict) -> dict[str, str]:
    """The requests the scheduler and Karpenter see for a container, as Kubernetes defaults
    them: a resource with a limit but no request gets the limit as its request (pods'
    defaulting; a Deployment's template keeps what was written). Every check that reads
    requests reads these."""
    resources = container.get("resources") or {}
    return {**(resources.get("limits") or {}), **(resources.get("requests") or {})}


def _container(c: dict) -> Requests:
    return of_resources(effective_requests(c))


def _max(a: Requests, b: Requests) -> Requests:
    return Requests(max(a.cpu_millis, b.cpu_millis), max(a.memory_bytes, b.memory_bytes),
                    max(a.gpus, b.gpus))


def pod_requests(pod_spec: dict) -> Requests:
    """The effective requests of a pod spec (`pod["spec"]` or a template's spec)."""
    total = Requests()
    for c in pod_spec.get("containers") or []:
        total = total + _container(c)
    for c in pod_spec.get("initContainers") or []:
        total = _max(total, _container(c))
    return total + of_resources(pod_spec.get("overhead") or {})
