"""Disruption budgets as Karpenter v1.14.1 reads them: pure logic, no cluster.

Facts (sigs.k8s.io/karpenter@v1.14.1, pkg/apis/v1/nodepool.go):
- A budget with neither `schedule` nor `duration` is always active; otherwise it is active
  when the schedule (cron, in UTC: Karpenter parses "TZ=UTC <schedule>" with robfig/cron's
  standard parser) fired within the last `duration` (Budget.IsActive, lines 412-425).
- An inactive budget allows any number (MaxInt32); an active one allows `nodes` of the
  pool's nodes, a percentage rounded UP, like a PDB's maxUnavailable (GetAllowedDisruptions,
  lines 382-405): 10% of 3 nodes is 1.
- For a reason (Empty, Underutilized, Drifted) Karpenter takes the smallest value among the
  budgets that name the reason or name none (GetAllowedDisruptionsByReason, lines 364-377).
- Only when `budgets` is left out does the CRD's default `nodes: "10%"` apply.
- The pool's node count is its initialized nodes (pkg/controllers/disruption/helpers.go,
  BuildDisruptionBudgetMapping, lines 262-301).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from croniter import croniter

DEFAULT = [{"nodes": "10%"}]  # the CRD's default for spec.disruption.budgets
UNLIMITED = 2**31 - 1  # math.MaxInt32: what an inactive budget allows


def parse_budget_duration(text: str) -> timedelta:
    """A budget's `duration` (`8h`, `30m`, `1h30m`, with Go's trailing `0s` allowed)."""
    hours = minutes = 0
    rest = str(text).strip().removesuffix("0s")
    if "h" in rest:
        h, rest = rest.split("h", 1)
        hours = int(h)
    if rest:
        minutes = int(rest.removesuffix("m"))
    return timedelta(hours=hours, minutes=minutes)


def is_active(budget: dict, now: datetime | None = None) -> bool:
    """Karpenter's Budget.IsActive: the schedule's next hit after (now - duration) is not
    after now."""
    schedule, duration = budget.get("schedule"), budget.get("duration")
    if schedule is None and duration is None:
        return True
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    since = now - parse_budget_duration(duration or "0m")
    next_hit = croniter(str(schedule), since).get_next(datetime)
    return next_hit <= now


def allowed(budget: dict, pool_nodes: int) -> int:
    """How many of `pool_nodes` this ACTIVE budget lets Karpenter disrupt at once."""
    text = str(budget.get("nodes", "10%"))
    if text.endswith("%"):
        return math.ceil(int(text[:-1]) * pool_nodes / 100)
    return int(text)


def applies(budget: dict, reason: str) -> bool:
    return not budget.get("reasons") or reason in budget["reasons"]


@dataclass(frozen=True)
class Reading:
    """The budgets of one NodePool for one reason, at one moment."""
    active: list[dict]  # the applying budgets active now
    inactive: list[dict]  # the applying budgets whose schedule is not active now
    allowed: int  # what Karpenter allows now for `pool_nodes` nodes (UNLIMITED: no bound)

    @property
    def absolute(self) -> list[int]:
        """The active budgets given as a number of nodes (not a percentage)."""
        return [int(b["nodes"]) for b in self.active if not str(b.get("nodes")).endswith("%")]

    def at_most(self, nodes: int) -> bool:
        """At most `nodes` at a time however large the pool grows: some active budget says
        so in absolute terms (a percentage grows with the pool)."""
        return any(n <= nodes for n in self.absolute)


def read(budgets: list[dict] | None, reason: str, pool_nodes: int,
         now: datetime | None = None) -> Reading:
    """Karpenter's reading of `spec.disruption.budgets` (None or [] -> the default 10%)."""
    applying = [b for b in (budgets or DEFAULT) if applies(b, reason)]
    active = [b for b in applying if is_active(b, now)]
    inactive = [b for b in applying if b not in active]
    value = min([allowed(b, pool_nodes) for b in active], default=UNLIMITED)
    return Reading(active, inactive, value)


def describe(budget: dict) -> str:
    """`nodes: "1"`, with its reasons and schedule when it has them."""
    text = f'nodes: "{budget.get("nodes")}"'
    if budget.get("reasons"):
        text += f" for {', '.join(budget['reasons'])}"
    if budget.get("schedule") is not None:
        text += f' at "{budget["schedule"]}" for {budget.get("duration")}'
    return text
