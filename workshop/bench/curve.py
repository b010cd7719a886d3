"""The scale curve's numbers as a table and as JSON, and how the cost grows (pure: no I/O).

One Point per size: N pods asked for at once (a Deployment of N replicas, 250m / 256Mi),
the seconds until the last NodeClaim launched, the last pod bound and the last pod Ready,
the nodes that took, and the seconds until every empty node was gone after scaling back
to zero. Pods of other namespaces on those nodes (the platform's DaemonSets) are counted
apart, so the curve measures the same work whatever the platform adds to each node.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field


@dataclass
class Point:
    pods: int
    ready_s: float
    nodes: int
    last_launched_s: float | None
    last_bound_s: float | None
    empty_gone_s: float | None
    other_pods: int = 0          # DaemonSet (or any other namespace's) pods on those nodes
    load_1m: float | None = None  # the machine's load average when the step began
    cpu_s: dict[str, float] = field(default_factory=dict)  # CPU seconds by component
    rss_mib: float | None = None  # RSS of all components with every pod Ready
    rss_by_component_mib: dict[str, float] = field(default_factory=dict)
    phases: dict[str, dict[str, float]] = field(default_factory=dict)  # first/last of each
    settle_s: float | None = None  # waited after Ready until every NodeClaim was Consolidatable
    # What Karpenter's disruption controller did while the nodes emptied (its metrics):
    # validations that failed, and each method's runs and seconds (see `disruption_delta`).
    disruption: dict[str, dict] = field(default_factory=dict)


COLUMNS = (
    ("pods", "pods", "{:,}"),
    ("ready_s", "Ready (s)", "{:.1f}"),
    ("nodes", "nodes", "{}"),
    ("last_launched_s", "last launched (s)", "{:.1f}"),
    ("last_bound_s", "last bound (s)", "{:.1f}"),
    ("empty_gone_s", "empty gone (s)", "{:.1f}"),
    ("other_pods", "other pods", "{}"),
    ("rss_mib", "RSS (MiB)", "{:.0f}"),
    ("load_1m", "load 1m", "{:.1f}"),
)


def _cell(value, fmt: str) -> str:
    return "-" if value is None else fmt.format(value)


def table(points: list[Point]) -> str:
    """A small fixed-width table, one row per size."""
    heads = [head for _, head, _ in COLUMNS]
    return _grid(heads, [[_cell(getattr(p, key), fmt) for key, _, fmt in COLUMNS]
                         for p in points])


def _grid(heads: list[str], rows: list[list[str]]) -> str:
    """Right-aligned columns under a rule."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(heads)]
    line = lambda cells: "  ".join(c.rjust(w) for c, w in zip(cells, widths))  # noqa: E731
    return "\n".join([line(heads), line(["-" * w for w in widths]), *map(line, rows)])


def growth(points: list[Point], key: str = "ready_s") -> float | None:
    """The exponent k in time ~ pods^k between the smallest and the largest size that
    took more than a second (1: linear; 2: quadratic). None with fewer than two sizes."""
    usable = [p for p in points if (getattr(p, key) or 0) > 1.0]
    if len(usable) < 2:
        return None
    a, b = min(usable, key=lambda p: p.pods), max(usable, key=lambda p: p.pods)
    if a.pods == b.pods:
        return None
    return round(math.log(getattr(b, key) / getattr(a, key)) / math.log(b.pods / a.pods), 2)


def per_thousand(point: Point) -> float:
    """Seconds per 1,000 pods at this size: flat for a linear cost."""
    return round(point.ready_s / point.pods * 1000, 1)


def as_json(points: list[Point]) -> dict:
    return {
        "scale_curve": [asdict(p) for p in points],
        "scale_ready_s_per_1000_pods": {str(p.pods): per_thousand(p) for p in points},
        "scale_growth_exponent": growth(points),
    }


# Karpenter's metric families the bench reads around each scale to zero (counters lose
# `_total` in the parser's family names).
FAILED_VALIDATIONS = "karpenter_voluntary_disruption_failed_validations"
EVALUATIONS = "karpenter_voluntary_disruption_decision_evaluation_duration_seconds"
DISRUPTION_FAMILIES = (FAILED_VALIDATIONS, EVALUATIONS)


def disruption_delta(before: dict[tuple, float], after: dict[tuple, float]) -> dict[str, dict]:
    """What changed between two readings of DISRUPTION_FAMILIES, by consolidation type:
    {"failed_validations": {"single": 1}, "evaluations": {"empty": {"runs": 3, "seconds":
    15.2}}}. A method that runs for 15 s waited out a validation; a failed validation means
    that wait was spent on a decision Karpenter then dropped."""
    def by_type(sample: str) -> dict[str, float]:
        out: dict[str, float] = {}
        for (name, labels), value in after.items():
            if name != sample:
                continue
            delta = value - before.get((name, labels), 0.0)
            if delta > 0:
                label = dict(labels)
                kind = label.get("consolidation_type") or label.get("reason") or "?"
                out[kind] = out.get(kind, 0.0) + delta
        return out

    failed = by_type(FAILED_VALIDATIONS + "_total")
    runs, seconds = by_type(EVALUATIONS + "_count"), by_type(EVALUATIONS + "_sum")
    return {"failed_validations": {k: int(v) for k, v in failed.items()},
            "evaluations": {k: {"runs": int(runs[k]), "seconds": round(seconds.get(k, 0.0), 1)}
                            for k in runs}}


# The steps of emptying the nodes after a scale to zero, in the order Karpenter takes them.
EMPTY_COLUMNS = (
    ("pods_gone", "pods gone"),
    ("consolidatable", "Consolidatable"),
    ("deleting_first", "first deleted"),
    ("deleting_last", "last deleted"),
    ("nodes_gone", "nodes gone"),
)


def empty_table(points: list[Point]) -> str:
    """Seconds after the scale to zero at which each step of emptying was done (its last
    NodeClaim or pod), one row per size; then failed validations, which cost 15 s each."""
    heads = ["pods", *(head for _, head in EMPTY_COLUMNS), "failed validations"]
    rows = []
    for p in points:
        empty = p.phases.get("empty", {})
        failed = p.disruption.get("failed_validations") or {}
        rows.append([f"{p.pods:,}", *(_cell(empty.get(k), "{:.1f}") for k, _ in EMPTY_COLUMNS),
                     ", ".join(f"{k} {v}" for k, v in sorted(failed.items())) or "0"])
    return _grid(heads, rows)
