"""Taints and tolerations as Kubernetes decides them: pure logic, no cluster access.

Shared by the graders (workshop/builders/taints.py), the notebook, explain and the node
agent (workshop/k8s/node_agent.py), so all of them read a taint the same way:
`key=value:Effect`, as `kubectl taint` writes it.
"""

from __future__ import annotations

from dataclasses import dataclass


NO_SCHEDULE = "NoSchedule"


@dataclass(frozen=True)
class Taint:
    key: str
    value: str
    effect: str

    @classmethod
    def of(cls, raw: dict) -> "Taint":
        return cls(str(raw.get("key") or ""), str(raw.get("value") or ""),
                   str(raw.get("effect") or ""))

    def __str__(self) -> str:
        return f"{self.key}{'=' + self.value if self.value else ''}:{self.effect}"


def tolerates(toleration: dict, taint: Taint) -> bool:
    """Kubernetes' ToleratesTaint: an empty effect or key matches all; the operator
    defaults to Equal, which compares values (an absent value is the empty string)."""
    effect, key = toleration.get("effect") or "", toleration.get("key") or ""
    if effect and effect != taint.effect:
        return False
    if key and key != taint.key:
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    return operator == "Equal" and str(toleration.get("value") or "") == taint.value


def describe_toleration(toleration: dict) -> str:
    op = toleration.get("operator") or "Equal"
    key = toleration.get("key") or "(any key)"
    value = f" {toleration.get('value')}" if toleration.get("value") else ""
    effect = toleration.get("effect") or "any effect"
    return f"{key} {op}{value} ({effect})"


def value_hint(have: Taint, want: Taint) -> str:
    """Why a taint with the right key and effect is not `want`: its value. A missing value is
    named as missing (an empty string is not a spelling to check)."""
    if not have.value:
        return (f"taint `{have}` has no value; the exercise asks for `{want}`: add "
                f"`value: \"{want.value}\"` (pods that tolerate it with `operator: Equal` and "
                f"`value: \"{want.value}\"` would not tolerate the taint without one)")
    if not want.value:
        return f"taint `{have}` has value `{have.value}`; the exercise asks for none: remove it"
    return f"taint `{have.key}` has value `{have.value}`: check the value's spelling"


def node_taints(node: dict) -> list[Taint]:
    return [Taint.of(t) for t in (node.get("spec") or {}).get("taints") or []]


def kubectl_untaint(node: str, key: str, effect: str) -> str:
    """The terminal equivalent of remove_taint(): the trailing `-` removes the taint."""
    return f"kubectl taint nodes {node} {key}:{effect}-"
