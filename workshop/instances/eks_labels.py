"""Which NodePool requirement keys EKS would accept, and what the local-only keys are there.

Read in Karpenter v1.14.1 (the module cache's sigs.k8s.io/karpenter@v1.14.1):
- pkg/apis/v1/nodepool_validation.go: `RuntimeValidate` runs `ValidateRequirement` on every
  requirement, which calls `IsRestrictedLabel` (pkg/apis/v1/labels.go): a key whose domain
  is a restricted one (or a sub-domain of it) and is not in `WellKnownLabels` is an error,
  and so is `kubernetes.io/hostname`. The NodePool's ValidationSucceeded turns False and
  it is never Ready. v1.14.1 restricts only `karpenter.sh` itself (kubernetes.io and
  k8s.io no longer are), and its CRD rejects a `karpenter.sh` key at apply time.
- Each provider adds its own domain in an `init()`. The AWS provider restricts
  `karpenter.k8s.aws` and makes its instance labels well known (karpenter-provider-aws
  pkg/apis/v1/labels.go). The kwok provider run here restricts `karpenter.kwok.sh`
  (kwok/apis/v1alpha1/labels.go) and makes every key its offerings carry well known
  (kwok/cloudprovider/helpers.go), so locally `karpenter.k8s.aws` is NOT restricted: a
  misspelt `karpenter.k8s.aws/...` key is accepted and narrows nothing, while on EKS the
  same NodePool is rejected. Grading follows EKS.
"""

from __future__ import annotations

# Karpenter v1.14.1 pkg/apis/v1/labels.go: RestrictedLabelDomains and RestrictedLabels.
CORE_RESTRICTED_DOMAINS = ("karpenter.sh",)
RESTRICTED_LABELS = frozenset({"kubernetes.io/hostname"})
# The AWS provider's RestrictedLabelDomains, and the kwok provider's.
AWS_DOMAIN = "karpenter.k8s.aws"
KWOK_DOMAIN = "karpenter.kwok.sh"

# Karpenter's WellKnownLabels, plus the AWS provider's additions.
CORE_WELL_KNOWN = frozenset({
    "karpenter.sh/nodepool", "topology.kubernetes.io/zone", "topology.kubernetes.io/region",
    "node.kubernetes.io/instance-type", "kubernetes.io/arch", "kubernetes.io/os",
    "karpenter.sh/capacity-type", "node.kubernetes.io/windows-build",
})
AWS_WELL_KNOWN = frozenset({
    f"{AWS_DOMAIN}/{name}" for name in (
        "capacity-reservation-id", "capacity-reservation-type", "instance-hypervisor",
        "instance-encryption-in-transit-supported", "instance-category", "instance-family",
        "instance-generation", "instance-size", "instance-local-nvme", "instance-cpu",
        "instance-cpu-manufacturer", "instance-cpu-sustained-clock-speed-mhz",
        "instance-memory", "instance-ebs-bandwidth", "instance-network-bandwidth",
        "instance-gpu-name", "instance-gpu-manufacturer", "instance-gpu-count",
        "instance-gpu-memory", "instance-accelerator-name",
        "instance-accelerator-manufacturer", "instance-accelerator-count",
    )
}) | {"topology.k8s.aws/zone-id"}
EKS_WELL_KNOWN = CORE_WELL_KNOWN | AWS_WELL_KNOWN

# The kwok provider's instance labels (kwok/apis/v1alpha1/labels.go) and the AWS label that
# means the same on EKS. Memory differs in form: kwok writes a quantity ("16Gi"), AWS MiB.
KWOK_TO_AWS = {
    f"{KWOK_DOMAIN}/instance-family": f"{AWS_DOMAIN}/instance-family",
    f"{KWOK_DOMAIN}/instance-size": f"{AWS_DOMAIN}/instance-size",
    f"{KWOK_DOMAIN}/instance-cpu": f"{AWS_DOMAIN}/instance-cpu",
    f"{KWOK_DOMAIN}/instance-memory": f"{AWS_DOMAIN}/instance-memory",
}


def domain(key: str) -> str:
    return key.split("/", 1)[0] if "/" in key else ""


def restricted_on_eks(key: str) -> bool:
    """Would Karpenter on EKS reject this requirement key (IsRestrictedLabel)?"""
    if key in EKS_WELL_KNOWN:
        return False
    dom = domain(key)
    return key in RESTRICTED_LABELS or any(
        dom == d or dom.endswith("." + d) for d in (*CORE_RESTRICTED_DOMAINS, AWS_DOMAIN))


def looks_well_known(key: str) -> bool:
    """A key in a Kubernetes, Karpenter or AWS domain: one a learner meant as well known
    (a custom key like `team` just becomes a node label, and is fine)."""
    dom = domain(key)
    return any(dom.endswith(d) for d in ("kubernetes.io", "k8s.io", "karpenter.sh",
                                         AWS_DOMAIN, KWOK_DOMAIN, "k8s.aws"))
