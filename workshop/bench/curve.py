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
    rows = [[_cell(getattr(p, key), fmt) for key, _, fmt in COLUMNS] for p in points]
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
