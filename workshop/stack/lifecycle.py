"""`up`, `down`, `status`, `clean`: the whole stack in the right order.

up:   build what is missing -> control plane (create / start / heal) -> CRDs Established
      -> Karpenter (start if not running) -> platform manifests -> defaults Ready.
down: Karpenter first (it would otherwise log a storm of errors), then the control plane.
Each step is idempotent, so `make up` on a healthy cluster changes nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from workshop.instances import catalog
from workshop.stack import cluster, karpenter, lock, toolchain
from workshop.k8s import kube, orphans
from workshop import paths
from workshop.platform import defaults as platform
from workshop.errors import WorkshopError
from workshop.progress import step


@dataclass
class UpReport:
    control_plane: str = ""
    karpenter: str = ""
    applied: list[kube.Applied] = field(default_factory=list)
    orphans_removed: list[str] = field(default_factory=list)
    seconds: float = 0.0


def up(quiet: bool = False) -> UpReport:
    with lock.exclusive("up"):
        return _up()


def _up() -> UpReport:
    t0 = time.monotonic()
    report = UpReport()
    bin_dir = toolchain.ensure_built()
    versions = toolchain.Versions.load()
    catalog.validate_json(catalog.CATALOG_JSON)

    with step("control plane (etcd, kube-apiserver, scheduler, controller-manager, kwok)") as s:
        report.control_plane = cluster.up(bin_dir, versions)
        s["status"] = report.control_plane
    with step("Karpenter's CRDs"):
        report.applied += platform.apply_crds(bin_dir / "crds")
    with step("Karpenter (kwok provider)") as s:
        k = karpenter.state()
        if k.running and karpenter.healthy(k.health_port):
            report.karpenter = "running"
        else:
            karpenter.stop()  # a hung or half-dead one
            karpenter.start(bin_dir, paths.KUBECONFIG)
            report.karpenter = "started"
        s["status"] = report.karpenter
    with step("platform node class and default NodePools") as s:
        report.applied += platform.apply_defaults()
        platform.mark_nodeclass_ready()
        platform.wait_defaults_ready()
        changed = [a for a in report.applied if a.action != "unchanged"]
        s["status"] = f"{len(changed)} changed" if changed else "unchanged"
    # Nodes whose NodeClaim went while they launched (e.g. before a `make down`).
    report.orphans_removed = orphans.sweep()
    report.seconds = time.monotonic() - t0
    return report


def down() -> list[str]:
    with lock.exclusive("down"):
        return _down()


def _down() -> list[str]:
    stopped = []
    if karpenter.stop():
        stopped.append("karpenter")
    bin_dir = toolchain.bin_dir()
    if cluster.exists():
        running = [c.name for c in cluster.components() if c.running]
        cluster.down(bin_dir)
        stopped += running
    return stopped


def clean_cluster() -> bool:
    with lock.exclusive("clean-cluster"):
        return _clean_cluster()


def _clean_cluster() -> bool:
    karpenter.stop()
    bin_dir = toolchain.bin_dir()
    deleted = cluster.delete(bin_dir if bin_dir.exists() else None)
    # A new cluster starts with no graded progress.
    for f in (karpenter.STATE_FILE, karpenter.PID_FILE, paths.PROGRESS):
        f.unlink(missing_ok=True)
    return deleted


@dataclass
class Row:
    name: str
    status: str
    pid: int | None
    port: int | None
    uptime_s: float | None
    rss_mib: float


def status_rows() -> list[Row]:
    rows = [Row(c.name, "running" if c.running else "stopped", c.pid if c.running else None,
                c.port, c.uptime_s, c.rss_mib) for c in cluster.components()]
    k = karpenter.state()
    if cluster.exists() or k.pid:
        kstatus = "stopped"
        if k.running:
            kstatus = "running" if karpenter.healthy(k.health_port) else "not ready"
        rows.append(Row("karpenter", kstatus, k.pid if k.running else None, k.health_port,
                        k.uptime_s, k.rss_mib))
    return rows


def total_rss_mib() -> float:
    return sum(r.rss_mib for r in status_rows())


def fmt_uptime(s: float | None) -> str:
    if s is None:
        return "-"
    if s < 120:
        return f"{s:.0f}s"
    if s < 7200:
        return f"{s / 60:.0f}m"
    return f"{s / 3600:.1f}h"


def render_status(rows: list[Row]) -> str:
    if not rows:
        return "No workshop cluster yet: `make up` creates one."
    lines = [f"{'component':<26}{'status':<11}{'pid':>8}{'port':>8}{'uptime':>9}{'rss':>9}"]
    for r in rows:
        lines.append(
            f"{r.name:<26}{r.status:<11}{r.pid or '-':>8}{r.port or '-':>8}"
            f"{fmt_uptime(r.uptime_s):>9}{(f'{r.rss_mib:.0f}M' if r.rss_mib else '-'):>9}"
        )
    if all(r.status == "running" for r in rows):
        lines.append(f"\nkubeconfig: {paths.KUBECONFIG}")
    else:
        lines.append("\nSomething is stopped: `make up` starts (or heals) it.")
    return "\n".join(lines)


def nodepool_note() -> str:
    parts = []
    for np in kube.list_(platform.NODEPOOL_API, "NodePool"):
        ready = "Ready" if kube.is_true(np, "Ready") else "not Ready"
        parts.append(f"{np['metadata']['name']} {ready}")
    return ", ".join(parts) or "none"


def port_note() -> str:
    """Which ports the cluster uses (they are chosen once, when the cluster is created)."""
    comps = {c.name: c.port for c in cluster.components()}
    k = karpenter.state()
    parts = [f"{n} {p}" for n, p in comps.items() if p]
    if k.health_port:
        parts.append(f"karpenter health {k.health_port}, metrics {k.metrics_port}")
    return ", ".join(parts)


def require_repo_checkout() -> None:
    """`workshop` run from a copy without its data folders means a broken install."""
    if not paths.VERSIONS_FILE.exists():
        raise WorkshopError(
            f"cannot find {paths.VERSIONS_FILE}: this `workshop` command is not running from "
            "a checkout of the kit",
            fix="run `make up` inside the cloned repository",
        )


