"""What GPUs cost: per instance type and per GPU-hour from the catalog's on-demand prices, and
what a GPU pool costs at its GPU limit. Shown by `show.gpu_offerings()` in lesson 06."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from workshop.instances import catalog


@dataclass(frozen=True)
class GpuOffer:
    instance_type: str
    gpu_name: str
    gpus: int
    gpu_memory_mib: int  # per GPU, as the instance-gpu-memory label gives it
    vcpu: int
    price: float  # on-demand, $/hour (the catalog's price is the same in every zone)

    @property
    def per_gpu(self) -> float:
        return self.price / self.gpus


def gpu_offers(cat: catalog.Catalog, requirements: Iterable[Mapping] = ()) -> list[GpuOffer]:
    """The NVIDIA GPU instance types `requirements` admit on-demand, cheapest per GPU first.

    Accelerators that are not GPUs (Inferentia: `aws.amazon.com/neuron`) are left out: they
    carry no `instance-gpu-*` labels and give no `nvidia.com/gpu`.
    """
    names = {o.instance_type for o in cat.admitted(requirements) if o.capacity_type == "on-demand"}
    offers = []
    for it in cat.types:
        if it.name in names and it.gpus and it.gpu_manufacturer == "nvidia":
            offers.append(GpuOffer(it.name, it.gpu_name, it.gpus, it.gpu_memory_mib,
                                   it.vcpu, it.on_demand_price))
    return sorted(offers, key=lambda o: (o.per_gpu, o.price, o.instance_type))


def cost_at_limit(offers: list[GpuOffer], gpu_limit: int,
                  most: bool = False) -> tuple[float, list[str]]:
    """What a pool admitting `offers` costs an hour with its GPUs at `gpu_limit`: whole
    instances, at most `gpu_limit` GPUs in all (a small knapsack). The least by default;
    `most=True` for the priciest mix Karpenter could end up with."""
    better = (lambda a, b: a > b) if most else (lambda a, b: a < b)
    best: dict[int, tuple[float, list[str]]] = {0: (0.0, [])}
    for gpus in range(1, gpu_limit + 1):
        for o in offers:
            if o.gpus <= gpus and gpus - o.gpus in best:
                price, picked = best[gpus - o.gpus]
                if gpus not in best or better(price + o.price, best[gpus][0]):
                    best[gpus] = (price + o.price, picked + [o.instance_type])
    return best[max(best)]
