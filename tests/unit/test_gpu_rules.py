"""Lesson 06's rules that need no cluster: which nodes count as NVIDIA GPUs, and what a GPU
pool costs at its limit."""

from __future__ import annotations

import pytest

from workshop.instances import catalog, gpu_cost
from workshop.builders.gpu import is_nvidia_gpu

NVIDIA_ONLY = [{"key": catalog.AWS_GPU_MANUFACTURER, "operator": "In", "values": ["nvidia"]}]


def test_only_nvidia_gpus_count_as_gpus():
    assert is_nvidia_gpu({catalog.AWS_GPU_COUNT: "1", catalog.AWS_GPU_MANUFACTURER: "nvidia"})
    # An Inferentia node: accelerator labels, no instance-gpu-* at all.
    assert not is_nvidia_gpu({"karpenter.k8s.aws/instance-accelerator-count": "1",
                              "karpenter.k8s.aws/instance-accelerator-manufacturer": "aws",
                              "karpenter.k8s.aws/instance-accelerator-name": "inferentia2"})
    assert not is_nvidia_gpu({catalog.AWS_GPU_COUNT: "0", catalog.AWS_GPU_MANUFACTURER: "nvidia"})


def test_every_catalog_gpu_offer_is_nvidia_with_gpus():
    cat = catalog.load_catalog()
    offers = gpu_cost.gpu_offers(cat)
    assert offers and all(cat.by_name(o.instance_type).gpu_manufacturer == "nvidia"
                          and o.gpus > 0 for o in offers)
    # Inferentia (when the catalog has it) offers aws.amazon.com/neuron, not nvidia.com/gpu.
    assert not any(getattr(cat.by_name(o.instance_type), "accelerators", 0) for o in offers)


def test_cost_at_limit_uses_whole_instances_within_the_limit():
    cat = catalog.load_catalog()
    g5 = gpu_cost.gpu_offers(cat, [{"key": catalog.AWS_FAMILY, "operator": "In",
                                    "values": ["g5"]}])
    least, mix = gpu_cost.cost_at_limit(g5, 4)
    assert mix == ["g5.xlarge"] * 4 and least == pytest.approx(4 * 1.006)
    most, mix = gpu_cost.cost_at_limit(g5, 4, most=True)
    assert most == pytest.approx(4 * 2.448) and len(mix) == 4
    # 8 GPUs of the whole NVIDIA catalog at most: never more GPUs than the limit.
    _, mix = gpu_cost.cost_at_limit(gpu_cost.gpu_offers(cat, NVIDIA_ONLY), 3, most=True)
    assert sum(cat.by_name(t).gpus for t in mix) <= 3
