"""Kubernetes and Karpenter names the kit reads and writes: API versions, well-known labels,
annotations and resource names, each defined once (the catalog's instance labels live with the
catalog, workshop/instances/catalog.py)."""

from __future__ import annotations

# API versions (group/version) of the objects the kit applies and reads.
KARPENTER_API = "karpenter.sh/v1"            # NodePool, NodeClaim
NODECLASS_API = "karpenter.kwok.sh/v1alpha1"  # KWOKNodeClass (EC2NodeClass on EKS)
APPS_API = "apps/v1"  # Deployment, StatefulSet, DaemonSet, ReplicaSet

# Labels Karpenter and the kubelet put on nodes.
NODEPOOL_LABEL = "karpenter.sh/nodepool"
CAPACITY_TYPE_LABEL = "karpenter.sh/capacity-type"
HOSTNAME_LABEL = "kubernetes.io/hostname"  # the kwok provider sets it to the NodeClaim's name
INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"
ZONE_LABEL = "topology.kubernetes.io/zone"
ARCH_LABEL = "kubernetes.io/arch"
OS_LABEL = "kubernetes.io/os"

# The pod annotation that holds Karpenter's voluntary disruption back.
DO_NOT_DISRUPT = "karpenter.sh/do-not-disrupt"

# The extended resource NVIDIA's device plugin advertises (and GPU limits count).
GPU_RESOURCE = "nvidia.com/gpu"
